-- Operator console accounts: argon2id hashes only. Emails are stored lower-cased and unique.
CREATE TABLE operators (
    id text PRIMARY KEY,
    email text NOT NULL UNIQUE,
    role text NOT NULL CHECK (role IN ('admin', 'support', 'auditor')),
    password_hash text NOT NULL,
    must_change_password boolean NOT NULL DEFAULT true,
    created_at timestamptz NOT NULL DEFAULT now(),
    created_by text NOT NULL,
    disabled_at timestamptz,
    last_sign_in_at timestamptz,
    -- Console sessions that began before this moment are no longer honoured (disable, password reset).
    sessions_revoked_at timestamptz
);

-- When a link was first redeemed (from portal-session's portal_link.redeemed events): a used magic link.
ALTER TABLE portal_links ADD COLUMN used_at timestamptz;

-- The console lists organizations newest first, in pages.
CREATE INDEX organizations_newest ON organizations (created_at DESC, id DESC);
