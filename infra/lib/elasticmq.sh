# shellcheck shell=bash
# SQS: ElasticMQ, an SQS-compatible server, run from Maven Central's jars. Sourced by
# infra/services.sh; the service is called `sqs` there, after what Ferry uses it as.

sqs_port=${FERRY_SQS_PORT:-59324}
sqs_pom=$infra_dir/elasticmq/pom.xml
sqs_home=$cache_dir/elasticmq-$(pom_property "$sqs_pom" elasticmq.version)
sqs_conf=$infra_dir/elasticmq/elasticmq.conf # in this clone: also our pid marker
sqs_log=$log_dir/elasticmq.log

sqs_running() { pid_alive elasticmq "$sqs_conf"; }

sqs_start() {
  if sqs_running; then
    say "elasticmq already running on 127.0.0.1:$sqs_port"
    return 0
  fi
  require_free_port elasticmq "$sqs_port" FERRY_SQS_PORT
  fetch_jars elasticmq "$sqs_pom" "$sqs_home"
  # A fresh log per start: readiness is judged by a line in it, which must come from this start.
  : >"$sqs_log"
  say "starting elasticmq on 127.0.0.1:$sqs_port"
  # elasticmq.conf reads the port from FERRY_SQS_PORT; pass ours so both always agree.
  export FERRY_SQS_PORT=$sqs_port
  unset FERRY_SQS_BIND_HOST # that one is for containers; here we stay on loopback
  start_java elasticmq "$sqs_log" -Xmx256m \
    -Dconfig.file="$sqs_conf" -cp "$sqs_home/libs/*" org.elasticmq.server.Main
}

# The server logs "=== ElasticMQ server (1.7.1) started in 4552 ms ===" once it listens. When its
# main thread dies (a bind error, a bad config) the JVM stays up, so watch for that too.
sqs_wait() {
  wait_for_log elasticmq "$sqs_conf" "$sqs_log" 'ElasticMQ server \(.*\) started' 60 \
    'Uncaught exception in thread: main'
}

sqs_stop() { stop_pid elasticmq "$sqs_conf"; }

sqs_status() {
  if sqs_running; then
    say "elasticmq: running, http://127.0.0.1:$sqs_port (pid $(<"$run_dir/elasticmq.pid"))"
  else
    say "elasticmq: stopped"
    return 1
  fi
}

sqs_env() {
  if sqs_running; then echo "export FERRY_SQS_ENDPOINT='http://127.0.0.1:$sqs_port'"; fi
}
