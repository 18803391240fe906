-- The audit log: one row per event id, whatever Kafka redelivers.
CREATE TABLE audit_log (
    sequence bigserial PRIMARY KEY,
    event_id text NOT NULL UNIQUE,
    event_type text NOT NULL,
    organization_id text NOT NULL,
    event_time timestamptz NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now(),
    source text NOT NULL,
    data jsonb NOT NULL
);
CREATE INDEX audit_log_organization ON audit_log (organization_id, sequence);
