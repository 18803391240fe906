#!/usr/bin/env bash
# Run a real Apache Kafka (KRaft, one node that is broker + controller) as a local process, no Docker.
#
#   bash deploy/local/kafka.sh start    # idempotent: no-op when already up; uses a foreign Kafka already on the port
#   bash deploy/local/kafka.sh status   # exit 0 when 127.0.0.1:$PORTICO_KAFKA_PORT answers Kafka requests, 3 otherwise
#   bash deploy/local/kafka.sh stop     # stops only the process whose pid we recorded
#   bash deploy/local/kafka.sh fetch    # only download the jars (deploy/local/install.sh)
#
# Jars come from Maven Central through mvn (deploy/local/kafka/pom.xml) into
# $PORTICO_CACHE_DIR/kafka-$KAFKA_VERSION/libs, once. State lives in $PORTICO_RUN_DIR/kafka
# (data/, cluster.id, server.properties), output in $PORTICO_RUN_DIR/logs/kafka.log,
# pid in $PORTICO_RUN_DIR/pids/kafka.pid. Needs java (17+), mvn and flock on PATH.
#
# Environment knobs:
#   KAFKA_VERSION                   Kafka version to download and run            (default 4.1.1)
#   PORTICO_KAFKA_PORT              PLAINTEXT client listener on 127.0.0.1       (default 9092)
#   PORTICO_KAFKA_CONTROLLER_PORT   KRaft controller listener on 127.0.0.1       (default 9093)
#   PORTICO_KAFKA_SCRAM_PORT        SASL_PLAINTEXT (SCRAM-SHA-256/512) listener   (default 9094)
#   PORTICO_KAFKA_HEAP              JVM max heap, -Xmx                           (default 512m)
#   PORTICO_KAFKA_START_TIMEOUT     seconds to wait for the broker to serve      (default 60)
#   plus PORTICO_RUN_DIR / PORTICO_CACHE_DIR from common.sh.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

KAFKA_VERSION="${KAFKA_VERSION:-4.1.1}"
KAFKA_PORT="${PORTICO_KAFKA_PORT:-9092}"
KAFKA_CONTROLLER_PORT="${PORTICO_KAFKA_CONTROLLER_PORT:-9093}"
KAFKA_SCRAM_PORT="${PORTICO_KAFKA_SCRAM_PORT:-9094}"
KAFKA_SCRAM_USER=portico
KAFKA_HEAP="${PORTICO_KAFKA_HEAP:-512m}"
KAFKA_START_TIMEOUT="${PORTICO_KAFKA_START_TIMEOUT:-60}"

KAFKA_SRC_DIR="$PORTICO_ROOT/deploy/local/kafka"
KAFKA_POM="$KAFKA_SRC_DIR/pom.xml"
KAFKA_HOME="$PORTICO_CACHE_DIR/kafka-$KAFKA_VERSION"
KAFKA_LIBS="$KAFKA_HOME/libs"
KAFKA_MARKER="$KAFKA_HOME/.download-complete"
KAFKA_STATE_DIR="$PORTICO_RUN_DIR/kafka"
KAFKA_DATA_DIR="$KAFKA_STATE_DIR/data"
KAFKA_CLUSTER_ID_FILE="$KAFKA_STATE_DIR/cluster.id"
KAFKA_PROPS="$KAFKA_STATE_DIR/server.properties"
KAFKA_LOG="$PORTICO_RUN_DIR/logs/kafka.log"
KAFKA_PID_FILE="$(pid_file kafka)"

# our_pid: the recorded pid when it is alive and really is our Kafka.
our_pid() { owned_pid kafka 'kafka\.Kafka'; }

# kafka_answers: true when 127.0.0.1:$KAFKA_PORT answers a Kafka ApiVersions v0 request without error.
# The broker only enables request processing after it is registered and unfenced, so this means "ready",
# not just "port bound".
kafka_answers() {
  port_open "$KAFKA_PORT" || return 1
  local out
  out=$(timeout 3 bash -c '
    exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
    # size=17 | api_key=18 (ApiVersions) | version=0 | correlation_id=1 | client_id="portico"
    printf "\x00\x00\x00\x11\x00\x12\x00\x00\x00\x00\x00\x01\x00\x07portico" >&3
    od -An -tx1 -N10 <&3' _ "$KAFKA_PORT" 2>/dev/null) || return 1
  # response: size(4) | correlation_id=1 | error_code=0
  [ "$(echo $out | cut -d' ' -f5-10)" = "00 00 00 01 00 00" ]
}

fail_with_log() {
  log "error: $*"
  if [ -f "$KAFKA_LOG" ]; then
    log "last 30 lines of $KAFKA_LOG:"
    tail -n 30 "$KAFKA_LOG" >&2
  fi
  exit 1
}

heap_mb() {  # heap_mb 512m|1g|700M -> megabytes
  local v=${1,,}
  case "$v" in
    *g) echo $(( ${v%g} * 1024 )) ;;
    *m) echo "${v%m}" ;;
    *k) echo $(( ${v%k} / 1024 )) ;;
    *)  echo $(( v / 1024 / 1024 )) ;;
  esac
}

ensure_jars() {
  local want; want="$KAFKA_VERSION $(sha256sum "$KAFKA_POM" | cut -d' ' -f1)"
  if [ -f "$KAFKA_MARKER" ] && [ "$(cat "$KAFKA_MARKER")" = "$want" ]; then
    return 0
  fi
  command -v mvn >/dev/null || die "mvn not found: install Maven (apt-get install maven)"
  log "downloading Kafka $KAFKA_VERSION jars into $KAFKA_LIBS (mvn, one time)"
  local tmp="$PORTICO_CACHE_DIR/.kafka-$KAFKA_VERSION.tmp.$$"
  rm -rf "$tmp"; mkdir -p "$tmp"
  # -f with a copy of the pom keeps mvn's target/ out of the repo.
  cp "$KAFKA_POM" "$tmp/pom.xml"
  if ! mvn -B -q -f "$tmp/pom.xml" -Dkafka.version="$KAFKA_VERSION" \
        dependency:copy-dependencies -DoutputDirectory="$tmp/libs" >"$tmp/mvn.log" 2>&1; then
    tail -n 30 "$tmp/mvn.log" >&2
    rm -rf "$tmp"
    die "mvn could not fetch Kafka $KAFKA_VERSION"
  fi
  ls "$tmp/libs"/kafka_2.13-"$KAFKA_VERSION".jar >/dev/null 2>&1 || { rm -rf "$tmp"; die "mvn ran but kafka_2.13-$KAFKA_VERSION.jar is missing"; }
  rm -rf "$tmp/target" "$tmp/pom.xml" "$tmp/mvn.log"
  echo "$want" >"$tmp/.download-complete"
  rm -rf "$KAFKA_HOME"
  mv -T "$tmp" "$KAFKA_HOME"
  log "Kafka $KAFKA_VERSION jars ready ($(ls "$KAFKA_LIBS" | wc -l) jars)"
}

render_properties() {
  mkdir -p "$KAFKA_DATA_DIR"
  sed -e "s|@KAFKA_PORT@|$KAFKA_PORT|g" \
      -e "s|@KAFKA_CONTROLLER_PORT@|$KAFKA_CONTROLLER_PORT|g" \
      -e "s|@KAFKA_SCRAM_PORT@|$KAFKA_SCRAM_PORT|g" \
      -e "s|@KAFKA_DATA_DIR@|$KAFKA_DATA_DIR|g" \
      "$KAFKA_SRC_DIR/server.properties.template" >"$KAFKA_PROPS.tmp"
  mv -f "$KAFKA_PROPS.tmp" "$KAFKA_PROPS"
}

java_common=()
set_java_common() {
  local mb xms=256
  mb=$(heap_mb "$KAFKA_HEAP")
  [ "$mb" -lt "$xms" ] && xms=$mb
  java_common=(
    -Xmx"$KAFKA_HEAP" -Xms"${xms}m"
    -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35
    -XX:+ExplicitGCInvokesConcurrent -XX:+ExitOnOutOfMemoryError
    -Djava.awt.headless=true
    -Dlog4j2.configurationFile="$KAFKA_SRC_DIR/log4j2.xml"
    -Dkafka.logs.dir="$PORTICO_RUN_DIR/logs"
    -cp "$KAFKA_LIBS/*"
  )
}

format_storage() {
  [ -f "$KAFKA_DATA_DIR/meta.properties" ] && return 0
  local id
  if [ -s "$KAFKA_CLUSTER_ID_FILE" ]; then
    id=$(cat "$KAFKA_CLUSTER_ID_FILE")
  else
    # Same shape as `kafka.tools.StorageTool random-uuid` (16 random bytes, url-safe base64, no padding,
    # never starting with '-') without paying a JVM start for it.
    while :; do
      id=$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')
      [ "${#id}" -eq 22 ] && [ "${id:0:1}" != "-" ] && break
    done
    echo "$id" >"$KAFKA_CLUSTER_ID_FILE"
  fi
  log "formatting Kafka storage $KAFKA_DATA_DIR (cluster id $id)"
  # Static quorum (controller.quorum.voters is set), so no --standalone.
  java -Xmx256m -cp "$KAFKA_LIBS/*" -Dlog4j2.configurationFile="$KAFKA_SRC_DIR/log4j2.xml" \
    kafka.tools.StorageTool format -t "$id" -c "$KAFKA_PROPS" "${scram_credentials[@]}" >>"$KAFKA_LOG" 2>&1 \
    || fail_with_log "kafka-storage format failed"
  touch "$KAFKA_STATE_DIR/scram-user"
}

scram_credentials=()
set_scram_credentials() {
  local mechanism
  for mechanism in SCRAM-SHA-256 SCRAM-SHA-512; do
    scram_credentials+=(--add-scram "$mechanism=[name=$KAFKA_SCRAM_USER,password=$PORTICO_KAFKA_SCRAM_LOCAL_PASSWORD]")
  done
}

# ensure_scram_user: storage formatted before the SCRAM listener existed gets its user once, online.
ensure_scram_user() {
  [ -f "$KAFKA_STATE_DIR/scram-user" ] && return 0
  local mechanism
  for mechanism in SCRAM-SHA-256 SCRAM-SHA-512; do
    java -Xmx128m -cp "$KAFKA_LIBS/*" -Dlog4j2.configurationFile="$KAFKA_SRC_DIR/log4j2.xml" kafka.admin.ConfigCommand \
      --bootstrap-server "127.0.0.1:$KAFKA_PORT" --alter --entity-type users --entity-name "$KAFKA_SCRAM_USER" \
      --add-config "$mechanism=[iterations=8192,password=$PORTICO_KAFKA_SCRAM_LOCAL_PASSWORD]" >>"$KAFKA_LOG" 2>&1 \
      || fail_with_log "could not add the SCRAM user $KAFKA_SCRAM_USER"
  done
  touch "$KAFKA_STATE_DIR/scram-user"
}

# wait_ready PID: poll until the broker answers, the process dies, or the timeout passes.
wait_ready() {
  local pid=$1 waited=0
  until kafka_answers; do
    if ! alive "$pid"; then
      rm -f "$KAFKA_PID_FILE"
      fail_with_log "Kafka (pid $pid) exited during startup"
    fi
    if [ "$waited" -ge $((KAFKA_START_TIMEOUT * 4)) ]; then
      fail_with_log "Kafka (pid $pid) did not answer on 127.0.0.1:$KAFKA_PORT within ${KAFKA_START_TIMEOUT}s (still running; 'kafka.sh stop' to end it)"
    fi
    sleep 0.25; waited=$((waited + 1))
  done
}

cmd_start() {
  local pid
  if pid=$(our_pid); then
    if kafka_answers; then
      log "kafka already running (pid $pid, 127.0.0.1:$KAFKA_PORT)"
      return 0
    fi
    log "kafka (pid $pid) is up but not answering yet; waiting"
    wait_ready "$pid"
    log "kafka ready (pid $pid, 127.0.0.1:$KAFKA_PORT)"
    return 0
  fi
  rm -f "$KAFKA_PID_FILE"  # stale or not ours
  if port_open "$KAFKA_PORT"; then
    log "127.0.0.1:$KAFKA_PORT is already served by a process we did not start; using it"
    return 0
  fi
  port_open "$KAFKA_CONTROLLER_PORT" && die "controller port 127.0.0.1:$KAFKA_CONTROLLER_PORT is taken by another process (set PORTICO_KAFKA_CONTROLLER_PORT)"
  command -v java >/dev/null || die "java not found: install a JDK 17+ (apt-get install openjdk-17-jre-headless)"

  ensure_jars
  mkdir -p "$KAFKA_STATE_DIR"
  # Keep the log from growing forever across restarts.
  if [ -f "$KAFKA_LOG" ] && [ "$(stat -c %s "$KAFKA_LOG")" -gt $((20 * 1024 * 1024)) ]; then
    mv -f "$KAFKA_LOG" "$KAFKA_LOG.1"
  fi
  render_properties
  set_java_common
  set_scram_credentials
  format_storage

  log "starting kafka $KAFKA_VERSION on 127.0.0.1:$KAFKA_PORT (controller :$KAFKA_CONTROLLER_PORT, heap $KAFKA_HEAP)"
  echo "=== $(date -Is) kafka.sh start ===" >>"$KAFKA_LOG"
  # setsid and nohup both exec, so $! is the java pid. fd 9 (our lock) must not leak into the broker.
  setsid nohup java "${java_common[@]}" kafka.Kafka "$KAFKA_PROPS" </dev/null >>"$KAFKA_LOG" 2>&1 9>&- &
  pid=$!
  echo "$pid" >"$KAFKA_PID_FILE"
  wait_ready "$pid"
  ensure_scram_user
  log "kafka ready (pid $pid, 127.0.0.1:$KAFKA_PORT, SCRAM on :$KAFKA_SCRAM_PORT, log $KAFKA_LOG)"
}

cmd_stop() {
  if [ ! -f "$KAFKA_PID_FILE" ]; then
    log "kafka not running (no pid file)"
    return 0
  fi
  if ! our_pid >/dev/null; then
    log "kafka pid file is stale (pid $(cat "$KAFKA_PID_FILE") is gone or not Kafka); removing it"
    rm -f "$KAFKA_PID_FILE"
    return 0
  fi
  stop_by_pid kafka 30
}

cmd_status() {
  local pid
  if pid=$(our_pid); then
    if kafka_answers; then
      echo "kafka running (pid $pid, 127.0.0.1:$KAFKA_PORT)"
      return 0
    fi
    echo "kafka process alive (pid $pid) but 127.0.0.1:$KAFKA_PORT does not answer"
    return 3
  fi
  if kafka_answers; then
    echo "kafka running on 127.0.0.1:$KAFKA_PORT (not started by this script)"
    return 0
  fi
  if port_open "$KAFKA_PORT"; then
    echo "kafka not running: 127.0.0.1:$KAFKA_PORT is open but does not answer Kafka requests"
  else
    echo "kafka not running"
  fi
  return 3
}

main() {
  local cmd=${1:-}
  case "$cmd" in
    start|stop)
      # Serialise start/stop so two callers never launch two brokers.
      exec 9>"$PORTICO_RUN_DIR/pids/kafka.lock"
      flock -w 120 9 || die "another kafka.sh $cmd holds $PORTICO_RUN_DIR/pids/kafka.lock"
      "cmd_$cmd" ;;
    status) cmd_status ;;
    fetch) ensure_jars ;;
    *) echo "usage: $0 start|stop|status|fetch" >&2; exit 2 ;;
  esac
}

main "$@"
