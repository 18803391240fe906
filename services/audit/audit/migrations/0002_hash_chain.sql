-- The hash-chained, append-only audit log (docs/audit.md: the chain, the roles, archiving).
-- Runs as the database owner; the service itself connects as portico_audit_writer, which may only
-- SELECT and INSERT. Triggers refuse UPDATE, DELETE and TRUNCATE whoever asks.

DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'portico_audit_writer') THEN
        RAISE EXCEPTION 'role portico_audit_writer does not exist'
            USING HINT = 'Create it as a superuser: CREATE ROLE portico_audit_writer LOGIN PASSWORD ''…'' '
                         '(deploy/local/postgres.sh and deploy/docker/postgres-init.sql do it; see docs/audit.md).';
    END IF;
END $$;

CREATE FUNCTION audit_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the audit log is append-only: % on % is refused', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END $$;

-- The foundation's table had no chain. Rows it holds stay, read-only, under another name.
DO $$
BEGIN
    IF EXISTS (SELECT FROM audit_log) THEN
        ALTER TABLE audit_log RENAME TO audit_log_unchained;
        ALTER INDEX audit_log_pkey RENAME TO audit_log_unchained_pkey;
        ALTER INDEX audit_log_event_id_key RENAME TO audit_log_unchained_event_id_key;
        ALTER INDEX audit_log_organization RENAME TO audit_log_unchained_organization;
        ALTER SEQUENCE audit_log_sequence_seq RENAME TO audit_log_unchained_sequence_seq;
        CREATE TRIGGER audit_log_unchained_append_only BEFORE UPDATE OR DELETE OR TRUNCATE
            ON audit_log_unchained FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change();
    ELSE
        DROP TABLE audit_log;
    END IF;
END $$;

-- One row per event id. `sequence` is the global order (gapless, assigned under one lock);
-- `organization_sequence` and `prev_hash` chain each organization's records.
CREATE TABLE audit_log (
    sequence bigint PRIMARY KEY CHECK (sequence > 0),
    organization_id text NOT NULL,
    organization_sequence bigint NOT NULL CHECK (organization_sequence > 0),
    event_id text NOT NULL UNIQUE,
    event_type text NOT NULL,
    data_version integer NOT NULL,
    event_time timestamptz NOT NULL,
    recorded_at timestamptz NOT NULL,
    source text NOT NULL,
    actor_kind text NOT NULL,
    actor_id text,
    client_address text,
    user_agent text,
    target text,
    data text NOT NULL,  -- the event's data as canonical JSON: exactly the bytes that were hashed
    prev_hash text NOT NULL,
    hash text NOT NULL
);
CREATE INDEX audit_log_organization ON audit_log (organization_id, sequence);

-- Signed chain heads (optional, PORTICO_AUDIT_CHECKPOINT_SIGNING_KEY): each lists the head of
-- every organization appended to since the previous one, and signs the previous signature too.
CREATE TABLE audit_checkpoint (
    number bigint PRIMARY KEY CHECK (number > 0),
    created_at timestamptz NOT NULL,
    sequence bigint NOT NULL,
    heads text NOT NULL,  -- canonical JSON {organization_id: [sequence, organization_sequence, hash]}
    public_key text NOT NULL,
    prev_signature text NOT NULL,
    signature text NOT NULL
);

-- What `python -m audit.archive` moved out of the live log: every record with
-- sequence <= through_sequence, written to a file first. Each chain that continues in the live log
-- is anchored on its last archived record (audit_archive_head).
CREATE TABLE audit_archive (
    number bigint PRIMARY KEY CHECK (number > 0),
    archived_at timestamptz NOT NULL,
    through_sequence bigint NOT NULL,
    records bigint NOT NULL,
    file_name text NOT NULL,
    file_sha256 text NOT NULL
);
CREATE TABLE audit_archive_head (
    organization_id text NOT NULL,
    archive_number bigint NOT NULL REFERENCES audit_archive (number),
    sequence bigint NOT NULL,
    organization_sequence bigint NOT NULL,
    hash text NOT NULL,
    PRIMARY KEY (organization_id, archive_number)
);

CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE OR TRUNCATE
    ON audit_log FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change();
CREATE TRIGGER audit_checkpoint_append_only BEFORE UPDATE OR DELETE OR TRUNCATE
    ON audit_checkpoint FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change();
CREATE TRIGGER audit_archive_append_only BEFORE UPDATE OR DELETE OR TRUNCATE
    ON audit_archive FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change();
CREATE TRIGGER audit_archive_head_append_only BEFORE UPDATE OR DELETE OR TRUNCATE
    ON audit_archive_head FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change();

REVOKE ALL ON audit_log, audit_checkpoint, audit_archive, audit_archive_head FROM PUBLIC;
GRANT SELECT, INSERT ON audit_log, audit_checkpoint TO portico_audit_writer;
GRANT SELECT ON audit_archive, audit_archive_head TO portico_audit_writer;
