#!/usr/bin/env bash
# Portico's four services as local processes: start|stop|status. Each runs `python -m <package>` from
# the project venv with the caller's environment, logs to $PORTICO_RUN_DIR/logs/<service>.log.
source "$(dirname "$0")/common.sh"

SERVICES=(link-issuer portal-session connection-config audit)
cd "$PORTICO_ROOT"  # the services import the packages from here as well as from the venv

start_one() {
  local name=$1 module=${1//-/_}
  if pid_alive "$name"; then log "$name already running (pid $(cat "$(pid_file "$name")"))"; return 0; fi
  [ -x "$PORTICO_VENV/bin/python" ] || die "no virtualenv at $PORTICO_VENV (run: make install)"
  # A plain command in the background (no subshell), so $! is the service's own PID.
  setsid "$PORTICO_VENV/bin/python" -m "$module" </dev/null >>"$PORTICO_RUN_DIR/logs/$name.log" 2>&1 &
  echo $! >"$(pid_file "$name")"
  log "started $name (pid $(cat "$(pid_file "$name")"))"
}

status() {
  local name code=0
  for name in "${SERVICES[@]}"; do
    if pid_alive "$name"; then echo "$name: running (pid $(cat "$(pid_file "$name")"))"
    else echo "$name: not running"; code=3; fi
  done
  return $code
}

case "${1:-}" in
  start) for s in "${@:2}"; do start_one "$s"; done; [ $# -gt 1 ] || for s in "${SERVICES[@]}"; do start_one "$s"; done ;;
  stop) # in parallel: each takes a moment to leave its consumer group
    targets=("${@:2}"); [ $# -gt 1 ] || targets=("${SERVICES[@]}")
    for s in "${targets[@]}"; do stop_by_pid "$s" 15 & done; wait ;;
  status) status ;;
  *) echo "usage: $0 start|stop [service...] | status" >&2; exit 2 ;;
esac
