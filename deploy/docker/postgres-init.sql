-- One database per service that keeps state in Postgres, all owned by the portico role.
-- The postgres image runs this once, on an empty data directory; it is also safe to run again by hand.
SELECT format('CREATE DATABASE %I OWNER portico', wanted.name)
FROM unnest(ARRAY['portico_link_issuer', 'portico_connection_config', 'portico_audit']) AS wanted(name)
WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = wanted.name)
\gexec

-- audit appends and reads as this role: no UPDATE, DELETE or TRUNCATE (grants: audit's migrations).
-- Its password comes from the environment (postgres-writer-password.sh, compose), never from this file.
SELECT 'CREATE ROLE portico_audit_writer LOGIN'
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'portico_audit_writer')
\gexec
