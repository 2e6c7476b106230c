# shellcheck shell=bash
# PostgreSQL: one cluster per datacenter (dc-a, dc-b, dc-c), each with its own data directory,
# port and xid space, as real DCs have. Sourced by infra/services.sh.

pg_clusters=(dc-a dc-b dc-c)
pg_port_base=${FERRY_PG_PORT_BASE:-55432}
# The variable that moves pg_port_base (named in the message when a port is taken), and settings
# appended to every cluster's ferry.conf. A caller that sources this file for clusters of its own
# (bench/native-pair.sh) sets all three after sourcing.
pg_port_var=FERRY_PG_PORT_BASE
pg_extra_conf=''

# as_pg CMD...: the server refuses to run as root, so root runs it as `postgres`. From / because
# root's working directory (often /root) is closed to postgres. 9>&- : a postmaster started here
# must not inherit services.sh's lock, or it would hold it for as long as it runs.
as_pg() {
  if ((EUID == 0)); then
    (cd / && runuser -u postgres -- "$@" 9>&-)
  else
    "$@" 9>&-
  fi
}

# pg_find_bin: set pg_bin to the newest installed server's bin folder, or fail.
pg_find_bin() {
  local initdb
  initdb=$(printf '%s\n' /usr/lib/postgresql/*/bin/initdb | sort -V | tail -n 1)
  [[ -x $initdb ]] || return 1
  pg_bin=$(dirname "$initdb")
}

# CI machines may not have the server yet: install it from the distribution's packages.
pg_install() {
  pg_find_bin && return 0
  ((EUID == 0)) || die "PostgreSQL server not installed (no /usr/lib/postgresql/*/bin/initdb);" \
    "run as root so this script can install it, or: sudo apt-get install -y postgresql postgresql-contrib"
  say "installing PostgreSQL (apt-get)"
  { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql postgresql-contrib; } \
    >"$log_dir/apt.log" 2>&1 || fail_with_log postgres "$log_dir/apt.log" "could not be installed"
  pg_find_bin || fail_with_log postgres "$log_dir/apt.log" "installed, but no initdb was found"
}

# Where the clusters live. Normally in the state folder. When root runs us from a repo that
# `postgres` cannot traverse (say, under /root or a mktemp -d folder), or when the socket path
# would pass the kernel's ~107-byte limit, they go to /var/tmp/ferry-<hash of repo path>
# instead, and .ferry/pg-home says so (with .ferry/data/pg and the log links pointing there).
pg_layout() {
  local home
  pg_data=$data_dir/pg pg_sock=$run_dir/pg pg_logs=$log_dir
  if ((${#pg_sock} + 20 > 107)) || { ((EUID == 0)) && ! as_pg test -x "$run_dir"; }; then
    home=/var/tmp/ferry-$(printf '%s' "$repo_dir" | sha256sum | cut -c1-12)
    pg_data=$home/data pg_sock=$home/run pg_logs=$home/logs
    mkdir -p "$home" "$pg_logs" && chmod 755 "$home" "$pg_logs"
    echo "$home" >"$state_dir/pg-home"
    [[ -L $data_dir/pg ]] || ln -sfn "$pg_data" "$data_dir/pg"
  fi
  # Only postgres may write here; the logs folder stays ours, with one file per cluster for it.
  mkdir -p "$pg_data" "$pg_sock"
  chmod 700 "$pg_data"
  if ((EUID == 0)); then chown postgres:postgres "$pg_data" "$pg_sock"; fi
}

pg_url() { echo "postgres://app:app@127.0.0.1:$1/ferry"; }

pg_running() { as_pg "$pg_bin/pg_ctl" status -D "$pg_data/$1" >/dev/null 2>&1; }

# pg_start_cluster DC PORT: init once, (re)write the settings, start, create the app role and
# database, and prove the URL works.
pg_start_cluster() {
  local dc=$1 port=$2 dir=$pg_data/$1 log=$pg_logs/pg-$1.log url
  url=$(pg_url "$port")
  touch "$log"
  if ((EUID == 0)); then chown postgres:postgres "$log"; fi
  [[ $pg_logs == "$log_dir" ]] || ln -sfn "$log" "$log_dir/pg-$dc.log"

  if pg_running "$dc"; then
    say "postgres $dc already running on port $port"
  else
    if [[ ! -f $dir/PG_VERSION ]]; then
      say "initdb postgres $dc"
      # Locale C: byte-order text comparison, the same on every machine whatever its locales.
      as_pg "$pg_bin/initdb" -D "$dir" -U postgres -E UTF8 --locale=C \
        --auth-local=trust --auth-host=scram-sha-256 >>"$log" 2>&1 ||
        fail_with_log "postgres $dc" "$log" "initdb failed"
      echo "include 'ferry.conf'" | as_pg tee -a "$dir/postgresql.conf" >/dev/null
    fi
    # Rewritten on every start so that a change to these settings reaches existing clusters.
    as_pg tee "$dir/ferry.conf" >/dev/null <<EOF
# Written by infra/services.sh on every start: edit the script, not this file.
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$pg_sock'
max_connections = 200
shared_buffers = 128MB
# two-phase commit is what some applications use: Ferry must capture their writes too
max_prepared_transactions = 10
# a test makes a physical standby of a DC (pg_basebackup, then streaming): the defaults, said aloud
wal_level = replica
max_wal_senders = 10
# A throwaway dev/test cluster: crash safety is traded for speed. Never use these in production.
fsync = off
synchronous_commit = off
full_page_writes = off
$pg_extra_conf
EOF
    # TCP needs the password, as in production; the socket, inside the state folder, is trusted
    # so this script can administer the cluster as the superuser. Replication over the socket lets
    # a test make a physical standby of a DC with pg_basebackup (the promotion of a standby).
    as_pg tee "$dir/pg_hba.conf" >/dev/null <<EOF
# Written by infra/services.sh on every start: edit the script, not this file.
local all all trust
local replication all trust
host  all all 127.0.0.1/32 scram-sha-256
EOF
    require_free_port "postgres $dc" "$port" "$pg_port_var"
    say "starting postgres $dc on port $port"
    as_pg "$pg_bin/pg_ctl" start -D "$dir" -l "$log" -w -t 60 >/dev/null ||
      fail_with_log "postgres $dc" "$log" "did not start"
  fi
  head -n 1 "$dir/postmaster.pid" >"$run_dir/pg-$dc.pid"

  local deadline=$((SECONDS + 30))
  until "$pg_bin/pg_isready" -q -h 127.0.0.1 -p "$port"; do
    ((SECONDS < deadline)) || fail_with_log "postgres $dc" "$log" "not accepting connections on 127.0.0.1:$port"
    sleep 0.2
  done
  # Idempotent, so it also repairs a cluster whose role or database was dropped.
  "$pg_bin/psql" -X -q -v ON_ERROR_STOP=1 -h "$pg_sock" -p "$port" -U postgres -d postgres \
    -f "$infra_dir/postgres/app-role.sql" >>"$log" 2>&1 ||
    fail_with_log "postgres $dc" "$log" "could not create the app role and database"
  "$pg_bin/psql" -X -q -At "$url" -c 'select 1' >/dev/null 2>>"$log" ||
    fail_with_log "postgres $dc" "$log" "does not answer a query at $url"
}

pg_start() {
  local i
  pg_install
  pg_layout
  for i in "${!pg_clusters[@]}"; do
    pg_selected "${pg_clusters[$i]}" || continue
    pg_start_cluster "${pg_clusters[$i]}" $((pg_port_base + i))
  done
}

# FERRY_PG_ONLY="dc-c" limits start and stop to those clusters (the chaos tests restart one).
pg_selected() { [[ -z ${FERRY_PG_ONLY:-} || " $FERRY_PG_ONLY " == *" $1 "* ]]; }

pg_wait() { :; } # pg_start already waited: each cluster answered a query.

pg_stop() {
  local dc
  pg_find_bin || return 0 # no server installed, so none of ours runs
  pg_layout
  for dc in "${pg_clusters[@]}"; do
    pg_selected "$dc" || continue
    if pg_running "$dc"; then
      say "stopping postgres $dc"
      # fast: roll back open sessions (tests may leave some) instead of waiting for them.
      as_pg "$pg_bin/pg_ctl" stop -D "$pg_data/$dc" -m fast -w -t 60 >/dev/null ||
        as_pg "$pg_bin/pg_ctl" stop -D "$pg_data/$dc" -m immediate -w >/dev/null
    fi
    rm -f "$run_dir/pg-$dc.pid"
  done
}

pg_status() {
  local i dc ok=0
  pg_find_bin || { say "postgres: not installed"; return 1; }
  pg_layout
  for i in "${!pg_clusters[@]}"; do
    dc=${pg_clusters[$i]}
    if pg_running "$dc"; then
      say "postgres $dc: running, $(pg_url $((pg_port_base + i)))"
    else
      say "postgres $dc: stopped"
      ok=1
    fi
  done
  return $ok
}

# Lines for .ferry/services.env, only when every cluster runs.
pg_env() {
  local i dc
  pg_find_bin || return 0
  pg_layout
  for i in "${!pg_clusters[@]}"; do
    pg_running "${pg_clusters[$i]}" || return 0
  done
  for i in "${!pg_clusters[@]}"; do
    dc=${pg_clusters[$i]#dc-}
    printf "export FERRY_DC_%s_URL='%s'\n" "${dc^^}" "$(pg_url $((pg_port_base + i)))"
  done
}
