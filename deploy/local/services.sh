#!/usr/bin/env bash
# Portico's five service processes as local processes: start|stop|status. Each instance runs `python -m
# <module>` (link_issuer, …, link_issuer.console) from the project venv with the caller's environment and
# logs to $PORTICO_RUN_DIR/logs/<instance>.log. PORTICO_REPLICAS=N runs N instances of each (ports +10
# apart: link-issuer 8101, link-issuer-2 8111, …, console 8105, console-2 8115).
source "$(dirname "$0")/common.sh"
cd "$PORTICO_ROOT"  # the services import the packages from here as well as from the venv

# start_instance SERVICE NAME PORT
start_instance() {
  local service=$1 name=$2 port=$3 module port_var
  module=$(service_module "$service") port_var=$(port_variable "$service")
  if pid_alive "$name"; then log "$name already running (pid $(cat "$(pid_file "$name")"))"; return 0; fi
  [ -x "$PORTICO_VENV/bin/python" ] || die "no virtualenv at $PORTICO_VENV (run: make install)"
  # A plain command in the background (no subshell), so $! is the service's own PID.
  env "$port_var=$port" setsid "$PORTICO_VENV/bin/python" -m "$module" </dev/null >>"$PORTICO_RUN_DIR/logs/$name.log" 2>&1 &
  echo $! >"$(pid_file "$name")"
  log "started $name on 127.0.0.1:$port (pid $(cat "$(pid_file "$name")"))"
}

start_service() {
  local name port
  while read -r name port; do start_instance "$1" "$name" "$port"; done < <(instances "$1")
}

# stop_service SERVICE: every instance we recorded, however many replicas ran.
stop_service() {
  local file name
  for file in "$PORTICO_RUN_DIR/pids/$1.pid" "$PORTICO_RUN_DIR/pids/$1"-[0-9]*.pid; do
    [ -e "$file" ] || continue
    name=$(basename "$file" .pid)
    stop_by_pid "$name" 15 &
  done
  wait
}

status() {
  local service name port code=0
  for service in "${SERVICES[@]}"; do
    while read -r name port; do
      if pid_alive "$name"; then echo "$name: running (pid $(cat "$(pid_file "$name")"), 127.0.0.1:$port)"
      else echo "$name: not running"; code=3; fi
    done < <(instances "$service")
  done
  return $code
}

# known_services NAME...: each is one of SERVICES, else one line naming them.
known_services() {
  local s
  for s; do [[ " ${SERVICES[*]} " == *" $s "* ]] || die "unknown service $s (one of: ${SERVICES[*]})"; done
}

case "${1:-}" in
  start) targets=("${@:2}"); [ $# -gt 1 ] || targets=("${SERVICES[@]}"); known_services "${targets[@]}"
    for s in "${targets[@]}"; do start_service "$s"; done ;;
  stop) # in parallel: each takes a moment to leave its consumer group
    targets=("${@:2}"); [ $# -gt 1 ] || targets=("${SERVICES[@]}"); known_services "${targets[@]}"
    for s in "${targets[@]}"; do stop_service "$s" & done; wait ;;
  status) status ;;
  *) echo "usage: $0 start|stop [service...] | status" >&2; exit 2 ;;
esac
