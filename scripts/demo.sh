#!/usr/bin/env bash
# `make demo`: three datacenters, each running `ferry run` beside its own PostgreSQL cluster,
# synced through Kafka (DEMO_TRANSPORT=sqs for SQS). Writes in dc-a and dc-b, shows the rows
# arriving everywhere, and `ferry status` of each DC. The services stay up afterwards
# (`make services-down` stops them).
set -euo pipefail
cd "$(dirname "$0")/.."
source .ferry/services.env
transport=${DEMO_TRANSPORT:-kafka}
dir=.ferry/demo
mkdir -p "$dir"
ferry() { node bin/ferry "$@"; }
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
db_url() { local v="FERRY_DC_${1^^}_URL"; echo "${!v%/*}/ferry_demo"; }

say "fresh demo databases in the three clusters (dc-a, dc-b, dc-c)"
for dc in a b c; do
  base=$(db_url "$dc"); admin=${base%/*}/ferry
  psql -q "$admin" -c 'set client_min_messages = warning' -c 'drop database if exists ferry_demo with (force)' -c 'create database ferry_demo'
  psql -q "$(db_url "$dc")" <<'SQL'
create table public.accounts (id int primary key, owner text not null, balance numeric(12,2) not null default 0);
create table public.orders (id bigint primary key, account_id int not null references public.accounts(id), item text, qty int);
SQL
done

prefix="demo$(date +%s)"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

for dc in a b c; do
  peers=$(printf 'dc-%s,' a b c | sed "s/dc-$dc,//; s/,$//")
  if [ "$transport" = sqs ]; then
    t="{ kind: sqs, endpoint: '$FERRY_SQS_ENDPOINT', region: us-east-1, queuePrefix: $prefix, accessKeyId: demo, secretAccessKey: demo }"
  else
    t="{ kind: kafka, brokers: ['$FERRY_KAFKA_BROKERS'], topicPrefix: $prefix }"
  fi
  cat > "$dir/dc-$dc.yaml" <<YAML
origin: dc-$dc
database: $(db_url "$dc")
transport: $t
peers: [${peers//,/, }]
http: { port: 1808$(( $(printf '%d' "'$dc") - 96 )) }
YAML
  ferry init --config "$dir/dc-$dc.yaml"
  ferry track --config "$dir/dc-$dc.yaml" public.accounts public.orders
done

say "starting \`ferry run\` in each DC over $transport (logs in $dir/)"
for dc in a b c; do
  # node itself in the background (not the ferry function, whose subshell would get the signal)
  node bin/ferry run --config "$dir/dc-$dc.yaml" >"$dir/dc-$dc.log" 2>&1 &
  pids+=($!)
done
# ready = the sidecar answers, its database is reachable and no origin stream is stopped
for dc in a b c; do
  port=1808$(( $(printf '%d' "'$dc") - 96 ))
  for i in $(seq 1 120); do
    curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && break
    [ "$i" = 120 ] && { echo "demo: dc-$dc did not become ready; see $dir/dc-$dc.log" >&2; exit 1; }
    sleep 0.25
  done
  echo "  dc-$dc ready (GET http://127.0.0.1:$port/readyz)"
done

say "writing in dc-a and in dc-b at the same time"
psql -q "$(db_url a)" <<'SQL' &
insert into accounts select g, 'alice-' || g, g * 10 from generate_series(1, 50) g;
insert into orders select g, (g % 50) + 1, 'book', g % 7 from generate_series(1, 200) g;
update accounts set balance = balance + 0.5 where id <= 10;
delete from orders where id > 190;
SQL
wa=$!
psql -q "$(db_url b)" <<'SQL' &
insert into accounts select g, 'bob-' || g, 1 from generate_series(1001, 1030) g;
insert into orders select 100000 + g, 1000 + g, 'pen', 1 from generate_series(1, 30) g;
SQL
wait "$wa" $!

say "waiting until every DC holds the same rows"
# every DC has all of its own writes, so three equal digests mean each has everyone's
digest() { psql -Atq "$(db_url "$1")" -c "select (select md5(coalesce(string_agg(t::text, ',' order by id), '')) from accounts t) || '/' || (select md5(coalesce(string_agg(t::text, ',' order by id), '')) from orders t)"; }
counts() { psql -Atq "$(db_url "$1")" -c "select count(*) || ' accounts, ' || (select count(*) from orders) || ' orders, sum(balance)=' || coalesce(sum(balance), 0) from accounts"; }
for i in $(seq 1 120); do
  a=$(digest a); b=$(digest b); c=$(digest c)
  printf '  %5.2fs  dc-a: %s | dc-b: %s | dc-c: %s\n' "$(bc <<<"$i * 0.25" 2>/dev/null || echo "$i")" "$(counts a)" "$(counts b)" "$(counts c)"
  [ "$a" = "$b" ] && [ "$b" = "$c" ] && break
  sleep 0.25
done
if [ "$a" != "$b" ] || [ "$b" != "$c" ]; then echo "demo: the DCs did not converge within 30 s; see $dir/*.log" >&2; exit 1; fi

say "row by row: the same in all three DCs"
for dc in a b c; do printf '  dc-%s  md5 of all rows (accounts/orders): %s\n' "$dc" "$(digest "$dc")"; done
psql -q "$(db_url c)" -c "select * from accounts where id in (1, 10, 1001) order by id"

say "ferry status in each DC"
for dc in a b c; do ferry status --config "$dir/dc-$dc.yaml" || true; done
say "GET /status of dc-c (the sidecar's HTTP endpoint)"
curl -s "http://127.0.0.1:18083/status"; echo
say "stopping \`ferry run\` in each DC (SIGTERM: each finishes its batch and exits 0)"
kill "${pids[@]}"
dcs=(dc-a dc-b dc-c)
for i in 0 1 2; do
  dc=${dcs[$i]}
  if wait "${pids[$i]}"; then echo "  $dc: exited 0"; else echo "  $dc: exited $? (see $dir/$dc.log)" >&2; exit 1; fi
done
pids=()
say "demo done: three DCs in sync over $transport. \`make services-down\` stops the services."
