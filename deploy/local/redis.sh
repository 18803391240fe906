#!/usr/bin/env bash
# Redis for local runs and tests: start|stop|status. Uses one already listening on
# $PORTICO_REDIS_PORT (default 6379) if there is one; otherwise starts redis-server on 127.0.0.1.
source "$(dirname "$0")/common.sh"

PORT="${PORTICO_REDIS_PORT:-6379}"

start() {
  if pid_alive redis; then log "redis already running (pid $(cat "$(pid_file redis)"))"; return 0; fi
  if port_open "$PORT"; then log "redis: using the server already listening on 127.0.0.1:$PORT (not started by us)"; return 0; fi
  command -v redis-server >/dev/null || die "redis-server is not installed (apt-get install redis-server)"
  mkdir -p "$PORTICO_RUN_DIR/redis"
  setsid redis-server --bind 127.0.0.1 --port "$PORT" --protected-mode yes --daemonize no \
    --dir "$PORTICO_RUN_DIR/redis" --appendonly yes --appendfsync everysec --save "" \
    --logfile "$PORTICO_RUN_DIR/logs/redis.log" </dev/null >/dev/null 2>&1 &
  echo $! >"$(pid_file redis)"
  wait_for_port redis "$PORT" 20
  log "redis ready on 127.0.0.1:$PORT (pid $(cat "$(pid_file redis)"))"
}

status() {
  if pid_alive redis; then echo "redis: running (pid $(cat "$(pid_file redis)"), 127.0.0.1:$PORT)"; return 0; fi
  if port_open "$PORT"; then echo "redis: external server on 127.0.0.1:$PORT"; return 0; fi
  echo "redis: not running"; return 3
}

case "${1:-}" in
  start) start ;; stop) stop_by_pid redis 10 ;; status) status ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
