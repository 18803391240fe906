# Shared paths and helpers for the deploy/local scripts (sourced, never run).
# Everything binds to 127.0.0.1; runtime state lives in $PORTICO_RUN_DIR, downloads in $PORTICO_CACHE_DIR.
set -euo pipefail

PORTICO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
PORTICO_RUN_DIR="${PORTICO_RUN_DIR:-$PORTICO_ROOT/.run}"
PORTICO_CACHE_DIR="${PORTICO_CACHE_DIR:-$HOME/.cache/portico}"
PORTICO_VENV="${PORTICO_VENV:-$PORTICO_ROOT/.venv}"
mkdir -p "$PORTICO_RUN_DIR/pids" "$PORTICO_RUN_DIR/logs" "$PORTICO_CACHE_DIR"

# Per-machine secrets for local runs, made once and kept in .run (mode 600): the token the proxy and
# the services use to vouch for forwarded requests, the key that signs portal links, and the key that
# encrypts SSO secrets at rest, the password of the local Kafka's SCRAM user, and the password of the
# test suite's Keycloak admin (deploy/local/keycloak.sh).
# A value already in the environment wins.
SECRETS_FILE="$PORTICO_RUN_DIR/secrets.env"
random_hex() { head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n'; }
(umask 077; touch "$SECRETS_FILE")
grep -q '^PORTICO_INTERNAL_TOKEN=' "$SECRETS_FILE" || echo "PORTICO_INTERNAL_TOKEN=$(random_hex)" >>"$SECRETS_FILE"
grep -q '^PORTICO_LINK_SIGNING_KEY=' "$SECRETS_FILE" || echo "PORTICO_LINK_SIGNING_KEY=$(random_hex)" >>"$SECRETS_FILE"
grep -q '^PORTICO_ENCRYPTION_KEYS=' "$SECRETS_FILE" || echo "PORTICO_ENCRYPTION_KEYS=local1:$(random_hex)" >>"$SECRETS_FILE"
grep -q '^PORTICO_KAFKA_SCRAM_LOCAL_PASSWORD=' "$SECRETS_FILE" || echo "PORTICO_KAFKA_SCRAM_LOCAL_PASSWORD=$(random_hex)" >>"$SECRETS_FILE"
grep -q '^PORTICO_KEYCLOAK_ADMIN_PASSWORD=' "$SECRETS_FILE" || echo "PORTICO_KEYCLOAK_ADMIN_PASSWORD=$(random_hex)" >>"$SECRETS_FILE"
while IFS='=' read -r key value; do
  [ -n "${!key:-}" ] || export "$key=$value"
done <"$SECRETS_FILE"

# system_state_dir USER: where state lives that a daemon running as USER must reach (postgres's cluster).
# The run directory, unless USER cannot enter it (a clone in a home of mode 700, run by root): then
# /var/lib/portico/<hash of the run directory>.
system_state_dir() {
  if [ "$(id -u)" != 0 ] || runuser -u "$1" -- test -x "$PORTICO_RUN_DIR" 2>/dev/null; then
    echo "$PORTICO_RUN_DIR"; return
  fi
  echo "${PORTICO_SYSTEM_STATE_ROOT:-/var/lib/portico}/$(readlink -f "$PORTICO_RUN_DIR" | sha256sum | cut -c1-16)"
}

# make_system_state_dir USER: create it (outside the run directory: mode 755, naming the run directory it serves).
make_system_state_dir() {
  local dir; dir=$(system_state_dir "$1")
  mkdir -p "$dir"
  if [ "$dir" != "$PORTICO_RUN_DIR" ]; then
    chmod 755 "$(dirname "$dir")" "$dir"
    readlink -f "$PORTICO_RUN_DIR" >"$dir/run-dir"
  fi
  echo "$dir"
}

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# port_open PORT: true when something accepts TCP connections on 127.0.0.1:PORT.
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# wait_for_port NAME PORT SECONDS: poll until the port answers or give up naming what is missing.
wait_for_port() {
  local name=$1 port=$2 seconds=$3 waited=0
  until port_open "$port"; do
    sleep 0.1; waited=$((waited + 1))
    if [ "$waited" -ge $((seconds * 10)) ]; then
      die "$name did not open 127.0.0.1:$port within ${seconds}s (see $PORTICO_RUN_DIR/logs/$name.log)"
    fi
  done
}

pid_file() { echo "$PORTICO_RUN_DIR/pids/$1.pid"; }

# alive PID: true while the process runs. A killed process its parent has not reaped yet (a zombie,
# e.g. under an init that reaps lazily) answers kill -0 but is gone: it must be restarted, not waited for.
alive() {
  kill -0 "$1" 2>/dev/null || return 1
  [ "$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1)" != Z ]
}

# pid_alive NAME: true when NAME's pid file points at a live process.
pid_alive() {
  local f; f=$(pid_file "$1")
  [ -f "$f" ] && alive "$(cat "$f")"
}

# stop_by_pid NAME [SECONDS]: TERM the process we recorded, KILL it after SECONDS, forget it.
# owned_pid NAME PATTERN: print NAME's recorded pid when it is alive AND its command line matches the
# extended regex PATTERN, i.e. it really is ours (guards against a recycled pid).
owned_pid() {
  pid_alive "$1" || return 1
  local pid; pid=$(cat "$(pid_file "$1")")
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qE "$2" || return 1
  echo "$pid"
}

stop_by_pid() {
  local name=$1 seconds=${2:-20} f pid waited=0
  f=$(pid_file "$name")
  [ -f "$f" ] || return 0
  pid=$(cat "$f")
  if alive "$pid"; then
    kill -TERM "$pid" 2>/dev/null || true
    while alive "$pid" && [ "$waited" -lt $((seconds * 10)) ]; do
      sleep 0.1; waited=$((waited + 1))
    done
    if alive "$pid"; then
      log "$name (pid $pid) ignored TERM for ${seconds}s; sending KILL"
      kill -KILL "$pid" 2>/dev/null || true
    fi
    log "stopped $name (pid $pid)"
  fi
  rm -f "$f"
}

# The five service processes (the console is link-issuer's package run as a process of its own), and
# how many instances of each `make up REPLICAS=N` runs (default 1).
SERVICES=(link-issuer portal-session connection-config audit console)
PORTICO_REPLICAS="${PORTICO_REPLICAS:-1}"

# service_module SERVICE: what `python -m` runs: link_issuer for link-issuer, link_issuer.console for console.
service_module() {
  case $1 in console) echo link_issuer.console ;; *) echo "${1//-/_}" ;; esac
}

# port_variable SERVICE: the setting that holds its port, PORTICO_LINK_ISSUER_PORT … PORTICO_CONSOLE_PORT.
port_variable() { echo "PORTICO_$(echo "${1//-/_}" | tr '[:lower:]' '[:upper:]')_PORT"; }

# service_port SERVICE: the first instance's port, from the service's PORTICO_*_PORT setting.
service_port() {
  local var default
  var=$(port_variable "$1")
  case $1 in
    link-issuer) default=8101 ;; portal-session) default=8102 ;; connection-config) default=8103 ;; audit) default=8104 ;;
    console) default=8105 ;;
  esac
  echo "${!var:-$default}"
}

# instances SERVICE: one "name port" line per replica: link-issuer 8101, link-issuer-2 8111, …
instances() {
  local i port
  port=$(service_port "$1")
  for ((i = 1; i <= PORTICO_REPLICAS; i++)); do
    if [ "$i" -eq 1 ]; then echo "$1 $port"; else echo "$1-$i $((port + 10 * (i - 1)))"; fi
  done
}
