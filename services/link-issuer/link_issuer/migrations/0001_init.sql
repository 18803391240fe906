-- Management API keys: only the SHA-256 of the secret part is kept; the id before the dot finds the row.
CREATE TABLE api_keys (
    id text PRIMARY KEY,
    name text NOT NULL,
    secret_sha256 bytea NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    revoked_at timestamptz
);

CREATE TABLE organizations (
    id text PRIMARY KEY,
    display_name text NOT NULL,
    external_id text UNIQUE,
    allowed_frame_ancestors text[] NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now(),
    created_by text NOT NULL
);

-- A link's secret token is never stored: only its SHA-256.
CREATE TABLE portal_links (
    id text PRIMARY KEY,
    organization_id text NOT NULL REFERENCES organizations (id),
    kind text NOT NULL CHECK (kind IN ('magic', 'shareable')),
    token_sha256 text NOT NULL UNIQUE,
    expire_time timestamptz NOT NULL,
    return_url text,
    success_url text,
    created_at timestamptz NOT NULL DEFAULT now(),
    created_by text NOT NULL,
    revoked_at timestamptz,
    revoked_by text
);
CREATE INDEX portal_links_organization ON portal_links (organization_id, created_at DESC);
