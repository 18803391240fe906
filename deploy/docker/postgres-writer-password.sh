#!/usr/bin/env bash
# Run once by the postgres image after 10-portico-databases.sql: the audit writer role's password, from
# PORTICO_AUDIT_WRITER_PASSWORD (docker-compose.yml requires it), so no password is written in a file.
set -euo pipefail
psql -v ON_ERROR_STOP=1 -v password="$PORTICO_AUDIT_WRITER_PASSWORD" --username "$POSTGRES_USER" --dbname postgres <<'SQL'
ALTER ROLE portico_audit_writer PASSWORD :'password';
SQL
