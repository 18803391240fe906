-- An organization's attempts, newest first (GET /api/v1/organizations/{id}/sign_ins and the console's list):
-- without this index every page scanned the whole table.
CREATE INDEX IF NOT EXISTS sign_in_attempts_organization ON sign_in_attempts (organization_id, created_at DESC, id DESC);
