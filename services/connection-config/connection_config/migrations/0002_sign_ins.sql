-- Sign-in attempts (sgn_… for an app's sign-in, tst_… for a connection test), the one-time codes they
-- yield (SHA-256 only), and the SAML assertion ids already accepted (replay). Never an assertion, a token
-- or a secret: the PKCE verifier is sealed like the client secret and dropped when the attempt finishes.
CREATE TABLE IF NOT EXISTS sign_in_attempts (
    id text PRIMARY KEY,
    organization_id text NOT NULL,
    connection_id text NOT NULL REFERENCES connections (id),
    connection_version integer NOT NULL,
    connection_type text NOT NULL CHECK (connection_type IN ('saml', 'oidc')),
    kind text NOT NULL CHECK (kind IN ('sign_in', 'test')),
    status text NOT NULL CHECK (status IN ('pending', 'succeeded', 'failed')),
    -- The app's redirect URI and state (kind sign_in only).
    redirect_uri text,
    app_state text,
    -- What the answer must match: the AuthnRequest ID (SAML) or the nonce (OIDC), and the sealed PKCE verifier.
    saml_request_id text,
    oidc_nonce text,
    verifier_key_id text,
    verifier_ciphertext bytea,
    started_by text NOT NULL,
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    finished_at timestamptz,
    error_code text,
    error_message text,
    error_fix_in text CHECK (error_fix_in IN ('identity_provider', 'portico')),
    error_expected jsonb,
    error_actual jsonb,
    profile jsonb,
    details jsonb,
    CHECK ((kind = 'sign_in') = (redirect_uri IS NOT NULL)),
    CHECK ((verifier_key_id IS NULL) = (verifier_ciphertext IS NULL))
);
CREATE INDEX IF NOT EXISTS sign_in_attempts_connection ON sign_in_attempts (connection_id, created_at);

CREATE TABLE IF NOT EXISTS sign_in_codes (
    code_sha256 bytea PRIMARY KEY,
    attempt_id text NOT NULL UNIQUE REFERENCES sign_in_attempts (id),
    expires_at timestamptz NOT NULL,
    used_at timestamptz
);

CREATE TABLE IF NOT EXISTS seen_assertions (
    connection_id text NOT NULL,
    assertion_id text NOT NULL,
    remember_until timestamptz NOT NULL,
    PRIMARY KEY (connection_id, assertion_id)
);
