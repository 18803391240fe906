#!/usr/bin/env bash
# The reverse proxy for local runs: start|stop|status. nginx from Debian, on 127.0.0.1:$PORTICO_PROXY_PORT
# (default 8080), configured from deploy/nginx/portico.conf.template with the services on loopback.
source "$(dirname "$0")/common.sh"

PORT="${PORTICO_PROXY_PORT:-8080}"
PREFIX="$PORTICO_RUN_DIR/nginx"

# upstream_servers SERVICE: "127.0.0.1:8101; server 127.0.0.1:8111" — every instance, in the
# template's `server ${…_UPSTREAM};` line.
upstream_servers() {
  local name port servers=()
  while read -r name port; do servers+=("127.0.0.1:$port"); done < <(instances "$1")
  local IFS=';'
  echo "${servers[*]}" | sed 's/;/; server /g'
}

render() {
  mkdir -p "$PREFIX/temp"
  LINK_ISSUER_UPSTREAM=$(upstream_servers link-issuer) \
  PORTAL_SESSION_UPSTREAM=$(upstream_servers portal-session) \
  CONNECTION_CONFIG_UPSTREAM=$(upstream_servers connection-config) \
  AUDIT_UPSTREAM=$(upstream_servers audit) \
  PORTICO_PROXY_PORT="127.0.0.1:$PORT" \
    envsubst '${LINK_ISSUER_UPSTREAM} ${PORTAL_SESSION_UPSTREAM} ${CONNECTION_CONFIG_UPSTREAM} ${AUDIT_UPSTREAM} ${PORTICO_PROXY_PORT} ${PORTICO_INTERNAL_TOKEN}' \
    <"$PORTICO_ROOT/deploy/nginx/portico.conf.template" >"$PREFIX/portico.conf"
  chmod 600 "$PREFIX/portico.conf"  # it holds the internal token
  cat >"$PREFIX/nginx.conf" <<CONF
daemon off;
worker_processes 1;
pid $PREFIX/nginx.pid;
error_log $PORTICO_RUN_DIR/logs/nginx-error.log warn;
events { worker_connections 1024; }
http {
    # request_time (s, ms resolution) is what the proxy measured for the whole request: bench/ reads it.
    log_format portico '\$remote_addr [\$time_iso8601] "\$request" \$status \$body_bytes_sent '
                       'rt=\$request_time urt=\$upstream_response_time rid=\$portico_request_id';
    access_log $PORTICO_RUN_DIR/logs/nginx-access.log portico;
    client_body_temp_path $PREFIX/temp/body;
    proxy_temp_path $PREFIX/temp/proxy;
    fastcgi_temp_path $PREFIX/temp/fastcgi;
    uwsgi_temp_path $PREFIX/temp/uwsgi;
    scgi_temp_path $PREFIX/temp/scgi;
    include $PREFIX/portico.conf;
}
CONF
}

start() {
  if pid_alive nginx; then log "nginx already running (pid $(cat "$(pid_file nginx)"))"; return 0; fi
  port_open "$PORT" && die "127.0.0.1:$PORT is taken by a process that is not ours; stop it or set PORTICO_PROXY_PORT"
  command -v nginx >/dev/null || die "nginx is not installed (apt-get install nginx-light)"
  render
  nginx -t -p "$PREFIX" -c "$PREFIX/nginx.conf" -e "$PORTICO_RUN_DIR/logs/nginx-error.log" 2>"$PORTICO_RUN_DIR/logs/nginx-test.log" \
    || { cat "$PORTICO_RUN_DIR/logs/nginx-test.log" >&2; die "nginx configuration is invalid"; }
  setsid nginx -p "$PREFIX" -c "$PREFIX/nginx.conf" -e "$PORTICO_RUN_DIR/logs/nginx-error.log" \
    </dev/null >>"$PORTICO_RUN_DIR/logs/nginx.log" 2>&1 &
  echo $! >"$(pid_file nginx)"
  wait_for_port nginx "$PORT" 10
  log "proxy ready on http://127.0.0.1:$PORT (pid $(cat "$(pid_file nginx)"))"
}

# reload: render the template again and have the running proxy pick it up without dropping connections.
reload() {
  pid_alive nginx || { start; return; }
  render
  nginx -t -p "$PREFIX" -c "$PREFIX/nginx.conf" -e "$PORTICO_RUN_DIR/logs/nginx-error.log" 2>"$PORTICO_RUN_DIR/logs/nginx-test.log" \
    || { cat "$PORTICO_RUN_DIR/logs/nginx-test.log" >&2; die "nginx configuration is invalid; the running proxy keeps its old one"; }
  kill -HUP "$(cat "$(pid_file nginx)")"
  log "proxy configuration reloaded (pid $(cat "$(pid_file nginx)"))"
}

status() {
  if pid_alive nginx; then echo "nginx: running (pid $(cat "$(pid_file nginx)"), 127.0.0.1:$PORT)"; return 0; fi
  echo "nginx: not running"; return 3
}

case "${1:-}" in
  start) start ;; stop) stop_by_pid nginx 10 ;; reload) reload ;; status) status ;;
  *) echo "usage: $0 start|stop|reload|status" >&2; exit 2 ;;
esac
