#!/usr/bin/env bash
# Starts, stops and reports the real services Ferry's integration and e2e tests use, on a machine
# without Docker: three PostgreSQL clusters (dc-a, dc-b, dc-c), one Kafka node, one ElasticMQ.
#
#   bash infra/services.sh up|down|status|restart
#
# `restart` stops the selected services, waits FERRY_DOWN_S seconds (default 0), and starts them
# again: a fault the chaos tests inject (FERRY_SERVICES=kafka, or FERRY_SERVICES=pg with
# FERRY_PG_ONLY=dc-c for one cluster). `pause` freezes the selected servers (SIGSTOP) for
# FERRY_DOWN_S seconds: a server that does not answer, without the data loss a restart means for
# the SQS server, which keeps its queues in memory (SQS itself is durable).
#
# `up` is idempotent: what already runs is left alone. On success it writes .ferry/services.env
# (FERRY_DC_A_URL, FERRY_DC_B_URL, FERRY_DC_C_URL, FERRY_KAFKA_BROKERS, FERRY_SQS_ENDPOINT).
# State, pid files, logs and data are all under <repo>/.ferry/; downloaded jars under
# ${FERRY_CACHE_DIR:-~/.cache/ferry}.
#
# Environment: FERRY_SERVICES (a subset, e.g. "pg" or "pg,kafka"; default "pg kafka sqs"),
# FERRY_PG_PORT_BASE (55432), FERRY_KAFKA_PORT (59092), FERRY_KAFKA_CONTROLLER_PORT (59093),
# FERRY_SQS_PORT (59324), FERRY_CACHE_DIR.
# shellcheck source-path=SCRIPTDIR
set -Eeuo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib/common.sh
source "$here/lib/common.sh"
# shellcheck source=lib/postgres.sh
source "$here/lib/postgres.sh"
# shellcheck source=lib/kafka.sh
source "$here/lib/kafka.sh"
# shellcheck source=lib/elasticmq.sh
source "$here/lib/elasticmq.sh"

# An unexpected failure must not pass silently (set -e alone exits without a word).
trap 'printf "services: ERROR: %s failed (line %s of %s)\n" "$BASH_COMMAND" "$LINENO" "${BASH_SOURCE[0]}" >&2' ERR

# Launch order: the JVMs first, so they boot while the PostgreSQL clusters start.
all_services=(kafka sqs pg)
requested=${FERRY_SERVICES:-${all_services[*]}}
read -r -a wanted <<<"${requested//,/ }"
services=()
for s in "${all_services[@]}"; do
  [[ " ${wanted[*]} " == *" $s "* ]] && services+=("$s")
done
for s in "${wanted[@]}"; do
  [[ " ${all_services[*]} " == *" $s "* ]] || die "unknown service '$s' in FERRY_SERVICES (known: ${all_services[*]})"
done

# .ferry/services.env lists what runs now, whoever started it; removed when nothing does.
write_env() {
  local env=$state_dir/services.env body
  body=$(pg_env; kafka_env; sqs_env)
  if [[ -z $body ]]; then
    rm -f "$env"
    return 0
  fi
  printf '# Written by infra/services.sh: addresses of the local test services. Source it.\n%s\n' \
    "$body" >"$env.tmp"
  mv "$env.tmp" "$env"
}

cmd=${1:-}
case $cmd in
up | down | status | restart | pause) ;;
*) die "usage: bash infra/services.sh up|down|status|restart|pause" ;;
esac

ensure_state_dirs
# One command at a time per repo: two concurrent `up`s would race on the same pid files.
# Every server we start closes fd 9 (9>&-), or it would keep the lock for its whole life.
exec 9>"$run_dir/lock"
flock 9

case $cmd in
up)
  for s in "${services[@]}"; do "${s}_start"; done
  for s in "${services[@]}"; do "${s}_wait"; done
  write_env
  say "up: ${services[*]}; addresses in $state_dir/services.env"
  ;;
down)
  for s in "${services[@]}"; do "${s}_stop"; done
  write_env
  say "down: ${services[*]}"
  ;;
restart)
  for s in "${services[@]}"; do "${s}_stop"; done
  sleep "${FERRY_DOWN_S:-0}"
  for s in "${services[@]}"; do "${s}_start"; done
  for s in "${services[@]}"; do "${s}_wait"; done
  write_env
  say "restarted: ${services[*]}"
  ;;
pause)
  pids=()
  for s in "${services[@]}"; do
    case $s in
    kafka) pid_alive kafka "$kafka_props" && pids+=("$(<"$run_dir/kafka.pid")") ;;
    sqs) pid_alive elasticmq "$sqs_conf" && pids+=("$(<"$run_dir/elasticmq.pid")") ;;
    *) die "pause knows kafka and sqs, not '$s'" ;;
    esac
  done
  ((${#pids[@]})) || die "nothing to pause: ${services[*]} not running"
  kill -STOP "${pids[@]}"
  say "paused: ${services[*]} for ${FERRY_DOWN_S:-0} s"
  sleep "${FERRY_DOWN_S:-0}"
  kill -CONT "${pids[@]}"
  say "resumed: ${services[*]}"
  ;;
status)
  rc=0
  for s in "${services[@]}"; do "${s}_status" || rc=1; done
  exit $rc
  ;;
esac
