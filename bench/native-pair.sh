#!/usr/bin/env bash
# The yardstick for bench/catch-up.ts: two more PostgreSQL clusters, a publisher and a subscriber,
# with exactly the settings infra/lib/postgres.sh gives the DC clusters plus wal_level = logical,
# so that PostgreSQL's own logical replication drains the same backlog on the same machine.
#
#   bash bench/native-pair.sh up|down|status
#
# `up` is idempotent and writes .ferry/native-pair.env (FERRY_NATIVE_PUB_URL, FERRY_NATIVE_SUB_URL
# for the `app` role over TCP; FERRY_NATIVE_SOCKET, FERRY_NATIVE_PUB_PORT, FERRY_NATIVE_SUB_PORT for
# the superuser over the trusted local socket, which creating a subscription needs).
# Data directories sit beside the DC clusters' (.ferry/data/pg/native-pub, native-sub).
#
# Environment: FERRY_NATIVE_PORT_BASE (55442): the publisher listens there, the subscriber on +1.
set -Eeuo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../infra/lib/common.sh
source "$here/../infra/lib/common.sh"
# shellcheck source=../infra/lib/postgres.sh
source "$here/../infra/lib/postgres.sh"

trap 'printf "native-pair: ERROR: %s failed (line %s of %s)\n" "$BASH_COMMAND" "$LINENO" "${BASH_SOURCE[0]}" >&2' ERR

pg_clusters=(native-pub native-sub)
pg_port_base=${FERRY_NATIVE_PORT_BASE:-55442}
pg_port_var=FERRY_NATIVE_PORT_BASE
# Logical decoding needs it on the publisher; the subscriber gets it too, so that the two differ
# from the DC clusters in nothing else.
pg_extra_conf='wal_level = logical'
env_file=$state_dir/native-pair.env

write_env() {
  local i
  for i in "${!pg_clusters[@]}"; do
    if ! pg_running "${pg_clusters[$i]}"; then
      rm -f "$env_file"
      return 0
    fi
  done
  {
    echo '# Written by bench/native-pair.sh: the native replication pair of bench/catch-up.ts. Source it.'
    echo "export FERRY_NATIVE_PUB_URL='$(pg_url "$pg_port_base")'"
    echo "export FERRY_NATIVE_SUB_URL='$(pg_url $((pg_port_base + 1)))'"
    echo "export FERRY_NATIVE_SOCKET='$pg_sock'"
    echo "export FERRY_NATIVE_PUB_PORT='$pg_port_base'"
    echo "export FERRY_NATIVE_SUB_PORT='$((pg_port_base + 1))'"
  } >"$env_file.tmp"
  mv "$env_file.tmp" "$env_file"
}

cmd=${1:-}
case $cmd in
up | down | status) ;;
*) die "usage: bash bench/native-pair.sh up|down|status" ;;
esac

ensure_state_dirs
# The same lock as infra/services.sh: both lay out and start clusters under .ferry/.
exec 9>"$run_dir/lock"
flock 9

case $cmd in
up)
  pg_start
  write_env
  say "native pair up: publisher on $pg_port_base, subscriber on $((pg_port_base + 1)); addresses in $env_file"
  ;;
down)
  pg_stop
  write_env
  say "native pair down"
  ;;
status) pg_status ;;
esac
