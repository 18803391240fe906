#!/usr/bin/env bash
# Run a real Keycloak (dev mode, in-memory database) as a local process: the identity provider of the
# sign-in tests. The test suite starts it (the `keycloak` fixture in tests/conftest.py); `make up` does not.
#
#   bash deploy/local/keycloak.sh start    # idempotent: no-op when already up; waits for /health/ready
#   bash deploy/local/keycloak.sh status   # exit 0 when Keycloak answers ready, 3 otherwise
#   bash deploy/local/keycloak.sh stop     # stops only the process whose pid we recorded
#   bash deploy/local/keycloak.sh fetch    # only download and unpack the distribution (install.sh --tests)
#   bash deploy/local/keycloak.sh java-home  # print the Java 21+ it would run on; exit 1 when there is none
#
# The distribution zip comes from Maven Central through mvn and is unpacked once into
# $PORTICO_CACHE_DIR/keycloak-$KEYCLOAK_VERSION. Its first start builds Keycloak for dev mode there
# (a minute or two, once); later starts take 10-25 s. The database lives in memory, so every start
# is a clean Keycloak whose bootstrap admin is `admin` with the per-machine password
# PORTICO_KEYCLOAK_ADMIN_PASSWORD from $PORTICO_RUN_DIR/secrets.env. Output goes to
# $PORTICO_RUN_DIR/logs/keycloak.log, the pid to $PORTICO_RUN_DIR/pids/keycloak.pid.
# Needs Java 21+ (keycloak_java_home below says where it looks), mvn, unzip, curl and flock.
#
# Environment knobs:
#   KEYCLOAK_VERSION                    Keycloak version to download and run          (default 26.7.3)
#   PORTICO_KEYCLOAK_PORT               HTTP on 127.0.0.1                             (default 8280)
#   PORTICO_KEYCLOAK_MANAGEMENT_PORT    health endpoints on 127.0.0.1                 (default 9280)
#   PORTICO_KEYCLOAK_START_TIMEOUT      seconds to wait for ready (first start builds) (default 300)
#   PORTICO_KEYCLOAK_JAVA_HOME          a Java 21+ to use instead of the one found
#   plus PORTICO_RUN_DIR / PORTICO_CACHE_DIR from common.sh.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

KEYCLOAK_VERSION="${KEYCLOAK_VERSION:-26.7.3}"
KEYCLOAK_PORT="${PORTICO_KEYCLOAK_PORT:-8280}"
KEYCLOAK_MANAGEMENT_PORT="${PORTICO_KEYCLOAK_MANAGEMENT_PORT:-9280}"
KEYCLOAK_START_TIMEOUT="${PORTICO_KEYCLOAK_START_TIMEOUT:-300}"

KEYCLOAK_HOME="$PORTICO_CACHE_DIR/keycloak-$KEYCLOAK_VERSION"
KEYCLOAK_MARKER="$KEYCLOAK_HOME/.download-complete"
KEYCLOAK_LOG="$PORTICO_RUN_DIR/logs/keycloak.log"
KEYCLOAK_PID_FILE="$(pid_file keycloak)"

# our_pid: the recorded pid when it is alive and really is our kc.sh.
our_pid() { owned_pid keycloak "$KEYCLOAK_HOME/bin/kc.sh|QuarkusEntryPoint"; }

# java_major DIR: the major version of the Java installed in DIR, from its release file (no JVM start).
java_major() {
  local version
  version=$(sed -n 's/^JAVA_VERSION="\([0-9.]*\).*/\1/p' "$1/release" 2>/dev/null)
  [ -n "$version" ] && [ -x "$1/bin/java" ] || return 1
  echo "${version%%.*}"
}

# keycloak_java_home: print a Java 21+ home: $PORTICO_KEYCLOAK_JAVA_HOME when set (and only it), else
# the newest of $JAVA_HOME, the java on PATH and /usr/lib/jvm/* (Debian's default java may be 17).
keycloak_java_home() {
  local candidates=() dir major best="" best_major=0
  if [ -n "${PORTICO_KEYCLOAK_JAVA_HOME:-}" ]; then
    candidates=("$PORTICO_KEYCLOAK_JAVA_HOME")
  else
    [ -n "${JAVA_HOME:-}" ] && candidates+=("$JAVA_HOME")
    command -v java >/dev/null && candidates+=("$(dirname "$(dirname "$(readlink -f "$(command -v java)")")")")
    candidates+=(/usr/lib/jvm/*)
  fi
  for dir in "${candidates[@]}"; do
    major=$(java_major "$dir") || continue
    if [ "$major" -ge 21 ] && [ "$major" -gt "$best_major" ]; then best=$dir; best_major=$major; fi
  done
  [ -n "$best" ] && echo "$best"
}

missing_java() {
  if [ -n "${PORTICO_KEYCLOAK_JAVA_HOME:-}" ]; then
    echo "Keycloak needs Java 21 or newer; PORTICO_KEYCLOAK_JAVA_HOME=$PORTICO_KEYCLOAK_JAVA_HOME is not one"
  else
    echo "Keycloak needs Java 21 or newer and found none (looked at \$JAVA_HOME, java on PATH and /usr/lib/jvm/*): install a JDK 21+ (Debian packages one from trixie on, bookworm only 17: there use e.g. Temurin) or point PORTICO_KEYCLOAK_JAVA_HOME at one"
  fi
}

keycloak_ready() {
  curl -fsS -m 3 "http://127.0.0.1:$KEYCLOAK_MANAGEMENT_PORT/health/ready" 2>/dev/null | grep -q '"UP"'
}

fail_with_log() {
  log "error: $*"
  if [ -f "$KEYCLOAK_LOG" ]; then
    log "last 30 lines of $KEYCLOAK_LOG:"
    tail -n 30 "$KEYCLOAK_LOG" >&2
  fi
  exit 1
}

ensure_distribution() {
  [ -f "$KEYCLOAK_MARKER" ] && return 0
  command -v mvn >/dev/null || die "mvn not found: install Maven (apt-get install maven)"
  command -v unzip >/dev/null || die "unzip not found: install it (apt-get install unzip)"
  log "downloading Keycloak $KEYCLOAK_VERSION into $KEYCLOAK_HOME (mvn, one time)"
  local tmp="$PORTICO_CACHE_DIR/.keycloak-$KEYCLOAK_VERSION.tmp.$$"
  rm -rf "$tmp"; mkdir -p "$tmp"
  if ! (cd "$tmp" && mvn -B -q org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy \
          -Dartifact="org.keycloak:keycloak-quarkus-dist:$KEYCLOAK_VERSION:zip" -DoutputDirectory="$tmp") \
        >"$tmp/mvn.log" 2>&1; then
    tail -n 30 "$tmp/mvn.log" >&2
    rm -rf "$tmp"
    die "mvn could not fetch Keycloak $KEYCLOAK_VERSION"
  fi
  unzip -q "$tmp/keycloak-quarkus-dist-$KEYCLOAK_VERSION.zip" -d "$tmp" || { rm -rf "$tmp"; die "could not unpack the Keycloak zip"; }
  [ -x "$tmp/keycloak-$KEYCLOAK_VERSION/bin/kc.sh" ] || { rm -rf "$tmp"; die "the Keycloak zip has no keycloak-$KEYCLOAK_VERSION/bin/kc.sh"; }
  echo "$KEYCLOAK_VERSION" >"$tmp/keycloak-$KEYCLOAK_VERSION/.download-complete"
  rm -rf "$KEYCLOAK_HOME"
  mv -T "$tmp/keycloak-$KEYCLOAK_VERSION" "$KEYCLOAK_HOME"
  rm -rf "$tmp"
  log "Keycloak $KEYCLOAK_VERSION ready in $KEYCLOAK_HOME"
}

# wait_ready PID: poll until Keycloak is ready, the process dies, or the timeout passes.
wait_ready() {
  local pid=$1 started=$SECONDS
  until keycloak_ready; do
    if ! alive "$pid"; then
      rm -f "$KEYCLOAK_PID_FILE"
      fail_with_log "Keycloak (pid $pid) exited during startup"
    fi
    if [ $((SECONDS - started)) -ge "$KEYCLOAK_START_TIMEOUT" ]; then
      fail_with_log "Keycloak (pid $pid) was not ready on 127.0.0.1:$KEYCLOAK_MANAGEMENT_PORT within ${KEYCLOAK_START_TIMEOUT}s (still running; 'keycloak.sh stop' to end it)"
    fi
    sleep 1
  done
}

cmd_start() {
  local pid java_home
  if pid=$(our_pid); then
    if ! keycloak_ready; then
      log "keycloak (pid $pid) is up but not ready yet; waiting"
      wait_ready "$pid"
    fi
    log "keycloak ready (pid $pid, http://127.0.0.1:$KEYCLOAK_PORT)"
    return 0
  fi
  rm -f "$KEYCLOAK_PID_FILE"  # stale or not ours
  if keycloak_ready; then
    log "127.0.0.1:$KEYCLOAK_MANAGEMENT_PORT is already served by a Keycloak we did not start; using it"
    return 0
  fi
  port_open "$KEYCLOAK_PORT" && die "127.0.0.1:$KEYCLOAK_PORT is taken by another process (set PORTICO_KEYCLOAK_PORT)"
  port_open "$KEYCLOAK_MANAGEMENT_PORT" && die "127.0.0.1:$KEYCLOAK_MANAGEMENT_PORT is taken by another process (set PORTICO_KEYCLOAK_MANAGEMENT_PORT)"
  java_home=$(keycloak_java_home) || die "$(missing_java)"

  ensure_distribution
  if [ -f "$KEYCLOAK_LOG" ] && [ "$(stat -c %s "$KEYCLOAK_LOG")" -gt $((20 * 1024 * 1024)) ]; then
    mv -f "$KEYCLOAK_LOG" "$KEYCLOAK_LOG.1"
  fi
  [ -f "$KEYCLOAK_HOME/.dev-mode-built" ] \
    || log "first start of Keycloak $KEYCLOAK_VERSION: it builds itself for dev mode first (a minute or two, once)"
  log "starting keycloak $KEYCLOAK_VERSION on 127.0.0.1:$KEYCLOAK_PORT (management :$KEYCLOAK_MANAGEMENT_PORT, java $java_home)"
  echo "=== $(date -Is) keycloak.sh start ===" >>"$KEYCLOAK_LOG"
  # kc.sh forwards TERM to the JVM (or, after the first start's build, becomes it). fd 9 (our lock) must
  # not leak into it.
  JAVA_HOME="$java_home" KC_BOOTSTRAP_ADMIN_USERNAME=admin KC_BOOTSTRAP_ADMIN_PASSWORD="$PORTICO_KEYCLOAK_ADMIN_PASSWORD" \
    setsid nohup "$KEYCLOAK_HOME/bin/kc.sh" start-dev --db=dev-mem --health-enabled=true \
      --http-host=127.0.0.1 --http-port="$KEYCLOAK_PORT" --http-management-port="$KEYCLOAK_MANAGEMENT_PORT" \
      </dev/null >>"$KEYCLOAK_LOG" 2>&1 9>&- &
  pid=$!
  echo "$pid" >"$KEYCLOAK_PID_FILE"
  wait_ready "$pid"
  touch "$KEYCLOAK_HOME/.dev-mode-built"
  log "keycloak ready (pid $pid, http://127.0.0.1:$KEYCLOAK_PORT, log $KEYCLOAK_LOG)"
}

cmd_stop() {
  local pid waited=0
  if [ ! -f "$KEYCLOAK_PID_FILE" ]; then
    log "keycloak not running (no pid file)"
    return 0
  fi
  if ! pid=$(our_pid); then
    log "keycloak pid file is stale (pid $(cat "$KEYCLOAK_PID_FILE") is gone or not Keycloak); removing it"
    rm -f "$KEYCLOAK_PID_FILE"
    return 0
  fi
  kill -TERM "$pid" 2>/dev/null || true
  while alive "$pid" && [ "$waited" -lt 300 ]; do sleep 0.1; waited=$((waited + 1)); done
  if alive "$pid"; then
    # setsid made kc.sh a process group leader: KILL reaches the JVM too.
    log "keycloak (pid $pid) ignored TERM for 30s; sending KILL to its process group"
    kill -KILL -- "-$pid" 2>/dev/null || true
  fi
  rm -f "$KEYCLOAK_PID_FILE"
  log "stopped keycloak (pid $pid)"
}

cmd_status() {
  local pid
  if pid=$(our_pid); then
    if keycloak_ready; then
      echo "keycloak running (pid $pid, http://127.0.0.1:$KEYCLOAK_PORT)"
      return 0
    fi
    echo "keycloak process alive (pid $pid) but not ready on 127.0.0.1:$KEYCLOAK_MANAGEMENT_PORT"
    return 3
  fi
  if keycloak_ready; then
    echo "keycloak running on 127.0.0.1:$KEYCLOAK_PORT (not started by this script)"
    return 0
  fi
  echo "keycloak not running"
  return 3
}

main() {
  local cmd=${1:-}
  case "$cmd" in
    start|stop)
      # Serialise start/stop so two callers never launch two servers.
      exec 9>"$PORTICO_RUN_DIR/pids/keycloak.lock"
      flock -w 360 9 || die "another keycloak.sh $cmd holds $PORTICO_RUN_DIR/pids/keycloak.lock"
      "cmd_$cmd" ;;
    status) cmd_status ;;
    fetch) ensure_distribution ;;
    java-home) keycloak_java_home || die "$(missing_java)" ;;
    *) echo "usage: $0 start|stop|status|fetch|java-home" >&2; exit 2 ;;
  esac
}

main "$@"
