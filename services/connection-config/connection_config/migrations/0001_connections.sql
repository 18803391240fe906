-- Organizations as learned from portico.organization.created (link-issuer owns them; we keep ids only
-- to answer 404 for unknown ones), SSO connections, and one immutable row per connection version.
CREATE TABLE organizations (
    id text PRIMARY KEY,
    display_name text NOT NULL,
    created_at timestamptz NOT NULL,
    source_event_id text NOT NULL
);

CREATE TABLE connections (
    id text PRIMARY KEY,
    organization_id text NOT NULL,
    type text NOT NULL CHECK (type IN ('saml', 'oidc')),
    provider text NOT NULL,
    status text NOT NULL CHECK (status IN ('draft', 'configured', 'enabled', 'disabled', 'deleted')),
    version integer NOT NULL CHECK (version >= 1),
    -- Non-secret settings only; the client secret lives in the two columns below, encrypted.
    settings jsonb NOT NULL,
    notes jsonb NOT NULL DEFAULT '[]',
    secret_key_id text,
    secret_ciphertext bytea,
    created_at timestamptz NOT NULL,
    created_by text NOT NULL,
    updated_at timestamptz NOT NULL,
    updated_by text NOT NULL,
    CHECK ((secret_key_id IS NULL) = (secret_ciphertext IS NULL))
);
CREATE INDEX connections_organization ON connections (organization_id, created_at) WHERE status <> 'deleted';

-- History: who changed what and when, as a field-level diff with secrets masked. Never updated.
CREATE TABLE connection_versions (
    connection_id text NOT NULL REFERENCES connections (id),
    version integer NOT NULL,
    organization_id text NOT NULL,
    action text NOT NULL CHECK (action IN ('created', 'updated', 'enabled', 'disabled', 'deleted')),
    changed_at timestamptz NOT NULL,
    changed_by text NOT NULL,
    changes jsonb NOT NULL,
    PRIMARY KEY (connection_id, version)
);
