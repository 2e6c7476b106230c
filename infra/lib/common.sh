# shellcheck shell=bash
# Shared by infra/services.sh and the per-service files beside this one: where things live,
# messages, pid files, waiting, and fetching jars with Maven. Sourced, not run.

infra_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
repo_dir=$(git -C "$infra_dir" rev-parse --show-toplevel 2>/dev/null || (cd "$infra_dir/.." && pwd))

# Everything a run leaves behind is in one folder, so `rm -rf .ferry` (after `down`) resets it.
state_dir=$repo_dir/.ferry
run_dir=$state_dir/run
log_dir=$state_dir/logs
data_dir=$state_dir/data
# Downloaded jars live outside the repo so every clone on this machine reuses them.
cache_dir=${FERRY_CACHE_DIR:-$HOME/.cache/ferry}

say() { printf 'services: %s\n' "$*"; }
die() { printf 'services: ERROR: %s\n' "$*" >&2; exit 1; }

# fail_with_log SERVICE LOG MESSAGE: stop the run, naming the service and showing why.
fail_with_log() {
  local service=$1 log=$2
  shift 2
  {
    printf 'services: ERROR: %s %s\n' "$service" "$*"
    # A dying server logs its cause first and then pages of shutdown: show both.
    if grep -qE 'ERROR|FATAL|Exception' "$log" 2>/dev/null; then
      printf 'services: first errors in %s:\n' "$log"
      grep -m 5 -E 'ERROR|FATAL|Exception' "$log" | cut -c1-400 | sed 's/^/  | /'
    fi
    printf 'services: its log is %s; last 30 lines:\n' "$log"
    tail -n 30 "$log" 2>/dev/null | sed 's/^/  | /'
    echo 'services: "bash infra/services.sh down" stops whatever did start.'
  } >&2
  exit 1
}

# require_free_port NAME PORT VARIABLE: fail at once when someone else listens there (another
# clone's services, say): some servers would otherwise linger without listening until the timeout.
require_free_port() {
  if (exec 3<>"/dev/tcp/127.0.0.1/$2") 2>/dev/null; then
    die "$1: port 127.0.0.1:$2 is taken by another process (see: ss -ltnp 'sport = :$2');" \
      "stop it, or set $3 to use other ports"
  fi
}

ensure_state_dirs() {
  mkdir -p "$run_dir" "$log_dir" "$data_dir"
  # Readable by all: when run as root, PostgreSQL runs as `postgres` and must reach its files here.
  chmod 755 "$state_dir" "$run_dir" "$log_dir" "$data_dir"
  # The state folder ignores itself, so it never shows up in `git status`.
  [[ -f $state_dir/.gitignore ]] || echo '*' >"$state_dir/.gitignore"
}

# pid_alive NAME MARKER: run/NAME.pid names a live process whose command line contains MARKER.
# The marker (a path inside this repo) guards against a recycled pid or another clone's server.
pid_alive() {
  local pidfile=$run_dir/$1.pid pid
  [[ -s $pidfile ]] || return 1
  pid=$(<"$pidfile")
  [[ -r /proc/$pid/cmdline ]] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$2"
}

# start_java NAME LOG JVM-ARGS...: launch a server JVM in the background.
# setsid gives it its own session, so a later Ctrl-C in this terminal does not reach it; in a
# non-interactive script the subshell is no process-group leader, so setsid execs in place and $!
# is the JVM's own pid. 9>&- : the server must not inherit services.sh's lock (see services.sh).
start_java() {
  local name=$1 log=$2
  shift 2
  command -v java >/dev/null || die "java not found: $name needs a Java 17+ runtime on PATH"
  (cd "$state_dir" && exec setsid java "$@" </dev/null >>"$log" 2>&1 9>&-) &
  echo $! >"$run_dir/$name.pid"
}

# stop_pid NAME MARKER: SIGTERM (the servers shut down cleanly on it), SIGKILL after 30 s.
stop_pid() {
  local name=$1 marker=$2 pid i
  if pid_alive "$name" "$marker"; then
    pid=$(<"$run_dir/$name.pid")
    say "stopping $name (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 150; i++)); do
      pid_alive "$name" "$marker" || break
      sleep 0.2
    done
    if pid_alive "$name" "$marker"; then
      say "$name did not stop within 30s; killing it"
      kill -KILL "$pid" 2>/dev/null || true
      sleep 0.5
    fi
  fi
  rm -f "$run_dir/$name.pid"
}

# wait_for_log NAME MARKER LOG PATTERN TIMEOUT [FAILURE]: an open port is not enough for our
# servers (Kafka accepts connections before its broker is unfenced), so wait for the line saying
# they are ready. FAILURE matches a line meaning it never will be (for servers that stay alive).
wait_for_log() {
  local name=$1 marker=$2 log=$3 pattern=$4 timeout=$5 failure=${6:-}
  local deadline=$((SECONDS + timeout))
  until grep -qE -- "$pattern" "$log" 2>/dev/null; do
    pid_alive "$name" "$marker" || fail_with_log "$name" "$log" "exited before it was ready"
    if [[ -n $failure ]] && grep -qE -- "$failure" "$log"; then
      stop_pid "$name" "$marker" >/dev/null
      fail_with_log "$name" "$log" "failed to start"
    fi
    if ((SECONDS >= deadline)); then
      stop_pid "$name" "$marker" >/dev/null # so that the next `up` starts it afresh
      fail_with_log "$name" "$log" "was not ready within ${timeout}s"
    fi
    sleep 0.5
  done
}

# pom_property POM NAME: the value of <NAME> in the pom's <properties>.
pom_property() {
  sed -n "s:.*<$2>\(.*\)</$2>.*:\1:p" "$1" | head -n 1
}

# fetch_jars NAME POM HOME: copy the pom's runtime dependencies to HOME/libs, once.
# HOME/.complete holds the pom's hash, written only after a full copy: an interrupted download
# or an edited pom (say, a version bump) fetches again; otherwise Maven is not run at all.
fetch_jars() {
  local name=$1 pom=$2 home=$3
  local want tmp log=$log_dir/maven-$name.log
  want=$(sha256sum <"$pom" | cut -d' ' -f1)
  if [[ -f $home/.complete && $(<"$home/.complete") == "$want" ]]; then
    return 0
  fi
  command -v mvn >/dev/null || die "mvn not found: Maven is needed once to fetch $name's jars"
  say "fetching $name jars with Maven into $home/libs (once per machine)"
  mkdir -p "$home"
  tmp=$(mktemp -d "$home/libs.tmp.XXXXXX")
  if ! mvn -B -q -f "$pom" dependency:copy-dependencies -DincludeScope=runtime \
    -DoutputDirectory="$tmp" >"$log" 2>&1; then
    rm -rf "$tmp"
    fail_with_log "$name" "$log" "jars could not be fetched with Maven"
  fi
  rm -rf "$home/libs"
  mv "$tmp" "$home/libs"
  echo "$want" >"$home/.complete"
}
