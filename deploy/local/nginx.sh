#!/usr/bin/env bash
# The reverse proxy for local runs: check|start|stop|reload|status. nginx from Debian on
# 127.0.0.1:$PORTICO_PROXY_PORT (default 8080), plain http; with PORTICO_TLS_CERT_FILE and
# PORTICO_TLS_KEY_FILE also https on 127.0.0.1:$PORTICO_PROXY_TLS_PORT (default 8443). Configured from
# deploy/nginx/*.template with the services on loopback.
source "$(dirname "$0")/common.sh"

PORT="${PORTICO_PROXY_PORT:-8080}"
TLS_PORT="${PORTICO_PROXY_TLS_PORT:-8443}"
PREFIX="$PORTICO_RUN_DIR/nginx"
TEMPLATES="$PORTICO_ROOT/deploy/nginx"

# upstream_servers SERVICE: "127.0.0.1:8101; server 127.0.0.1:8111" — every instance, in the
# template's `server ${…_UPSTREAM};` line.
upstream_servers() {
  local name port servers=()
  while read -r name port; do servers+=("127.0.0.1:$port"); done < <(instances "$1")
  local IFS=';'
  echo "${servers[*]}" | sed 's/;/; server /g'
}

# tls_enabled: true when https is asked for; dies with one line when it is asked for half-way or
# with a file nginx could not read.
tls_enabled() {
  local cert="${PORTICO_TLS_CERT_FILE:-}" key="${PORTICO_TLS_KEY_FILE:-}"
  [ -z "$cert" ] && [ -z "$key" ] && return 1
  [ -n "$cert" ] || die "PORTICO_TLS_KEY_FILE is set but PORTICO_TLS_CERT_FILE is not: set both for https, or neither"
  [ -n "$key" ] || die "PORTICO_TLS_CERT_FILE is set but PORTICO_TLS_KEY_FILE is not: set both for https, or neither"
  [ -f "$cert" ] && [ -r "$cert" ] || die "PORTICO_TLS_CERT_FILE=$cert is not a readable file"
  [ -f "$key" ] && [ -r "$key" ] || die "PORTICO_TLS_KEY_FILE=$key is not a readable file"
  return 0
}

# render_template NAME: deploy/nginx/NAME.template -> $PREFIX/conf.d/NAME, only Portico's variables substituted.
render_template() {
  envsubst '${LINK_ISSUER_UPSTREAM} ${PORTAL_SESSION_UPSTREAM} ${CONNECTION_CONFIG_UPSTREAM} ${AUDIT_UPSTREAM} ${CONSOLE_UPSTREAM}
    ${PORTICO_INTERNAL_TOKEN} ${PORTICO_PROXY_PORT} ${PORTICO_PROXY_HTTP_SCHEME} ${PORTICO_PROXY_ACCESS_LOG}
    ${PORTICO_PROXY_ERROR_LOG} ${PORTICO_PROXY_TLS_PORT} ${PORTICO_TLS_CERT_FILE} ${PORTICO_TLS_KEY_FILE}' \
    <"$TEMPLATES/$1.template" >"$PREFIX/conf.d/$1"
}

render() {
  mkdir -p "$PREFIX/temp" "$PREFIX/conf.d"
  (umask 077  # portico.conf holds the internal token
    export LINK_ISSUER_UPSTREAM PORTAL_SESSION_UPSTREAM CONNECTION_CONFIG_UPSTREAM AUDIT_UPSTREAM CONSOLE_UPSTREAM
    LINK_ISSUER_UPSTREAM=$(upstream_servers link-issuer)
    PORTAL_SESSION_UPSTREAM=$(upstream_servers portal-session)
    CONNECTION_CONFIG_UPSTREAM=$(upstream_servers connection-config)
    AUDIT_UPSTREAM=$(upstream_servers audit)
    CONSOLE_UPSTREAM=$(upstream_servers console)
    export PORTICO_PROXY_PORT="127.0.0.1:$PORT" PORTICO_PROXY_TLS_PORT="127.0.0.1:$TLS_PORT" PORTICO_PROXY_HTTP_SCHEME=http
    export PORTICO_PROXY_ACCESS_LOG="$PORTICO_RUN_DIR/logs/nginx-access.log"
    export PORTICO_PROXY_ERROR_LOG="$PORTICO_RUN_DIR/logs/nginx-error.log"
    render_template portico.conf
    render_template portico-routes.inc
    if tls_enabled; then
      export PORTICO_TLS_CERT_FILE PORTICO_TLS_KEY_FILE
      PORTICO_TLS_CERT_FILE=$(readlink -f "$PORTICO_TLS_CERT_FILE")
      PORTICO_TLS_KEY_FILE=$(readlink -f "$PORTICO_TLS_KEY_FILE")
      render_template portico-tls.conf
    else
      rm -f "$PREFIX/conf.d/portico-tls.conf"
    fi
  )
  rm -f "$PREFIX/portico.conf"  # where the configuration lived before conf.d/
  # The https server uses portico.conf's maps and log format: it comes after.
  local tls_include=""
  [ -f "$PREFIX/conf.d/portico-tls.conf" ] && tls_include="    include $PREFIX/conf.d/portico-tls.conf;
"
  cat >"$PREFIX/nginx.conf" <<CONF
daemon off;
worker_processes 1;
pid $PREFIX/nginx.pid;
error_log $PORTICO_RUN_DIR/logs/nginx-error.log warn;
events { worker_connections 1024; }
http {
    client_body_temp_path $PREFIX/temp/body;
    proxy_temp_path $PREFIX/temp/proxy;
    fastcgi_temp_path $PREFIX/temp/fastcgi;
    uwsgi_temp_path $PREFIX/temp/uwsgi;
    scgi_temp_path $PREFIX/temp/scgi;
    # Workers (nobody, when root starts nginx) may not be able to enter the run directory (a clone in a
    # home of mode 700): bodies (at most 2 MiB) stay in memory and answers stream, so no temp file is written.
    client_body_buffer_size 2m;
    proxy_max_temp_file_size 0;
    include $PREFIX/conf.d/portico.conf;
$tls_include}
CONF
}

start() {
  if pid_alive nginx; then log "nginx already running (pid $(cat "$(pid_file nginx)"))"; return 0; fi
  port_open "$PORT" && die "127.0.0.1:$PORT is taken by a process that is not ours; stop it or set PORTICO_PROXY_PORT"
  if tls_enabled; then
    port_open "$TLS_PORT" && die "127.0.0.1:$TLS_PORT is taken by a process that is not ours; stop it or set PORTICO_PROXY_TLS_PORT"
  fi
  command -v nginx >/dev/null || die "nginx is not installed (apt-get install nginx-light)"
  render
  nginx -t -p "$PREFIX" -c "$PREFIX/nginx.conf" -e "$PORTICO_RUN_DIR/logs/nginx-error.log" 2>"$PORTICO_RUN_DIR/logs/nginx-test.log" \
    || { cat "$PORTICO_RUN_DIR/logs/nginx-test.log" >&2; die "nginx configuration is invalid"; }
  setsid nginx -p "$PREFIX" -c "$PREFIX/nginx.conf" -e "$PORTICO_RUN_DIR/logs/nginx-error.log" \
    </dev/null >>"$PORTICO_RUN_DIR/logs/nginx.log" 2>&1 &
  echo $! >"$(pid_file nginx)"
  wait_for_port nginx "$PORT" 10
  if tls_enabled; then
    wait_for_port nginx "$TLS_PORT" 10
    log "proxy ready on http://127.0.0.1:$PORT and https://127.0.0.1:$TLS_PORT (pid $(cat "$(pid_file nginx)"))"
  else
    log "proxy ready on http://127.0.0.1:$PORT (pid $(cat "$(pid_file nginx)"))"
  fi
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
  if pid_alive nginx; then
    local https=""
    [ -f "$PREFIX/conf.d/portico-tls.conf" ] && https=", https on 127.0.0.1:$TLS_PORT"
    echo "nginx: running (pid $(cat "$(pid_file nginx)"), 127.0.0.1:$PORT$https)"; return 0
  fi
  echo "nginx: not running"; return 3
}

case "${1:-}" in
  check) tls_enabled || true ;;
  start) start ;; stop) stop_by_pid nginx 10 ;; reload) reload ;; status) status ;;
  *) echo "usage: $0 check|start|stop|reload|status" >&2; exit 2 ;;
esac
