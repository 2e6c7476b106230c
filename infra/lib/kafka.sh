# shellcheck shell=bash
# Apache Kafka: one KRaft node (broker and controller in one JVM), run from Maven Central's jars.
# Sourced by infra/services.sh.

kafka_port=${FERRY_KAFKA_PORT:-59092}
kafka_controller_port=${FERRY_KAFKA_CONTROLLER_PORT:-59093}
kafka_pom=$infra_dir/kafka/pom.xml
kafka_home=$cache_dir/kafka-$(pom_property "$kafka_pom" kafka.version)
kafka_props=$state_dir/kafka/server.properties # in this repo's state folder: also our pid marker
kafka_log=$log_dir/kafka.log

kafka_running() { pid_alive kafka "$kafka_props"; }

kafka_start() {
  local cluster_id_file=$state_dir/kafka/cluster-id jvm
  if kafka_running; then
    say "kafka already running on 127.0.0.1:$kafka_port"
    return 0
  fi
  require_free_port kafka "$kafka_port" FERRY_KAFKA_PORT
  require_free_port kafka "$kafka_controller_port" FERRY_KAFKA_CONTROLLER_PORT
  fetch_jars kafka "$kafka_pom" "$kafka_home"
  mkdir -p "$state_dir/kafka" "$data_dir/kafka"
  # Made once: the formatted log dirs remember it, and the broker refuses a different one.
  # Never with a leading '-' (Kafka's own generator avoids one too): tools read it as an option.
  while [[ ! -s $cluster_id_file || $(<"$cluster_id_file") == -* ]]; do
    head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=' >"$cluster_id_file"
  done
  sed -e "s|@PORT@|$kafka_port|g" -e "s|@CONTROLLER_PORT@|$kafka_controller_port|g" \
    -e "s|@LOG_DIRS@|$data_dir/kafka|g" "$infra_dir/kafka/server.properties" >"$kafka_props"

  # A fresh log per start: readiness is judged by a line in it, which must come from this start.
  : >"$kafka_log"
  jvm=(-Dlog4j.configuration="file:$infra_dir/kafka/log4j.properties" -cp "$kafka_home/libs/*")
  java "${jvm[@]}" kafka.tools.StorageTool format --cluster-id="$(<"$cluster_id_file")" -c "$kafka_props" \
    --ignore-formatted >>"$kafka_log" 2>&1 ||
    fail_with_log kafka "$kafka_log" "storage could not be formatted"
  say "starting kafka on 127.0.0.1:$kafka_port"
  start_java kafka "$kafka_log" -Xms256m -Xmx512m "${jvm[@]}" kafka.Kafka "$kafka_props"
}

kafka_wait() { wait_for_log kafka "$kafka_props" "$kafka_log" 'Kafka Server started' 90; }

kafka_stop() { stop_pid kafka "$kafka_props"; }

kafka_status() {
  if kafka_running; then
    say "kafka: running, 127.0.0.1:$kafka_port (pid $(<"$run_dir/kafka.pid"))"
  else
    say "kafka: stopped"
    return 1
  fi
}

kafka_env() {
  if kafka_running; then echo "export FERRY_KAFKA_BROKERS='127.0.0.1:$kafka_port'"; fi
}
