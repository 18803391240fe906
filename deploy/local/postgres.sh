#!/usr/bin/env bash
# PostgreSQL for local runs and tests: start|stop|status.
# Uses a server already listening on $PORTICO_POSTGRES_PORT (default 5432) if there is one; otherwise
# initialises a private cluster from the Debian packages and starts it on 127.0.0.1 only. Either way it
# creates the role and the per-service databases idempotently. The cluster lives where the server's
# user can reach it (common.sh system_state_dir; as root the server runs as `postgres`), linked from
# $PORTICO_RUN_DIR/postgres; its log is linked as $PORTICO_RUN_DIR/logs/postgres.log.
source "$(dirname "$0")/common.sh"

PORT="${PORTICO_POSTGRES_PORT:-5432}"
DATABASES=(portico_link_issuer portico_connection_config portico_audit)
if [ -d "$PORTICO_RUN_DIR/postgres/data" ] && [ ! -L "$PORTICO_RUN_DIR/postgres" ]; then
  PG_HOME="$PORTICO_RUN_DIR/postgres"  # a cluster made inside the run directory by an earlier version
else
  PG_HOME="$(system_state_dir postgres)/postgres"
fi
DATA="$PG_HOME/data"
SOCKET_DIR="$PG_HOME/socket"
PG_LOG="$PG_HOME/postgres.log"

pg_bin() {
  local dir
  for dir in /usr/lib/postgresql/*/bin; do [ -x "$dir/pg_ctl" ] && { echo "$dir"; return; }; done
  command -v pg_ctl >/dev/null && { dirname "$(command -v pg_ctl)"; return; }
  die "PostgreSQL is not installed (apt-get install postgresql)"
}

# as_postgres CMD...: the server refuses to run as root, so root runs it as the postgres user (from /,
# since the caller's folder may be one postgres cannot enter).
as_postgres() {
  if [ "$(id -u)" = 0 ]; then (cd / && runuser -u postgres -- "$@"); else "$@"; fi
}

# provision SOCKET_DIR: create the role and databases through the server's Unix socket as its superuser.
provision() {
  local socket=$1 db statements=""
  for db in "${DATABASES[@]}"; do
    statements+="SELECT 'CREATE DATABASE $db OWNER portico' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '$db')\\gexec"$'\n'
  done
  as_postgres "$(pg_bin)/psql" -v ON_ERROR_STOP=1 -q -h "$socket" -p "$PORT" -U postgres -d postgres <<SQL >/dev/null
SELECT 'CREATE ROLE portico LOGIN' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'portico')\\gexec
-- audit appends and reads as this role: no UPDATE, DELETE or TRUNCATE (grants: audit's migrations).
SELECT 'CREATE ROLE portico_audit_writer LOGIN' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'portico_audit_writer')\\gexec
$statements
SQL
}

start() {
  if pid_alive postgres; then log "postgres already running (pid $(cat "$(pid_file postgres)"))"; return 0; fi
  if port_open "$PORT"; then
    log "postgres: using the server already listening on 127.0.0.1:$PORT (not started by us)"
    if [ -S "/var/run/postgresql/.s.PGSQL.$PORT" ] && provision /var/run/postgresql 2>/dev/null; then
      log "postgres: role portico and databases ${DATABASES[*]} are in place"
    else
      log "postgres: could not provision it; it needs roles portico and portico_audit_writer, allowed in from 127.0.0.1 (or PORTICO_*_DATABASE_URL with passwords), and databases ${DATABASES[*]}"
    fi
    return 0
  fi
  local bin; bin=$(pg_bin)
  [ "$PG_HOME" = "$PORTICO_RUN_DIR/postgres" ] || { make_system_state_dir postgres >/dev/null; ln -sfn "$PG_HOME" "$PORTICO_RUN_DIR/postgres"; }
  mkdir -p "$SOCKET_DIR"
  [ "$(id -u)" = 0 ] && chown postgres: "$PG_HOME" "$SOCKET_DIR" && chmod 700 "$PG_HOME"
  if [ ! -f "$DATA/PG_VERSION" ]; then
    log "postgres: initialising a private cluster in $DATA"
    as_postgres "$bin/initdb" -D "$DATA" -U postgres --auth-local=peer --auth-host=scram-sha-256 \
      -E UTF8 --locale=C.UTF-8 >"$PORTICO_RUN_DIR/logs/postgres-initdb.log"
    cat >>"$DATA/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $PORT
unix_socket_directories = '$SOCKET_DIR'
max_connections = 200
shared_buffers = 128MB
CONF
  fi
  # Portico's roles come in over loopback TCP without a password: the cluster is this machine's and
  # listens on 127.0.0.1 only, so no password has to be built into the code or the scripts.
  local trust="host all portico,portico_audit_writer 127.0.0.1/32 trust"
  grep -qxF "$trust" "$DATA/pg_hba.conf" || as_postgres sed -i "1i $trust" "$DATA/pg_hba.conf"
  as_postgres touch "$PG_LOG"
  ln -sfn "$PG_LOG" "$PORTICO_RUN_DIR/logs/postgres.log"
  as_postgres "$bin/pg_ctl" -D "$DATA" -l "$PG_LOG" -w -t 60 start >/dev/null \
    || { tail -n 30 "$PG_LOG" >&2; die "postgres did not start"; }
  head -n 1 "$DATA/postmaster.pid" >"$(pid_file postgres)"
  provision "$SOCKET_DIR"
  log "postgres ready on 127.0.0.1:$PORT (pid $(cat "$(pid_file postgres)"))"
}

stop() {
  pid_alive postgres || { rm -f "$(pid_file postgres)"; return 0; }
  as_postgres "$(pg_bin)/pg_ctl" -D "$DATA" -m fast -w -t 30 stop >/dev/null || stop_by_pid postgres 30
  rm -f "$(pid_file postgres)"
  log "stopped postgres"
}

status() {
  if pid_alive postgres; then echo "postgres: running (pid $(cat "$(pid_file postgres)"), 127.0.0.1:$PORT)"; return 0; fi
  if port_open "$PORT"; then echo "postgres: external server on 127.0.0.1:$PORT"; return 0; fi
  echo "postgres: not running"; return 3
}

case "${1:-}" in
  start) start ;; stop) stop ;; status) status ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
