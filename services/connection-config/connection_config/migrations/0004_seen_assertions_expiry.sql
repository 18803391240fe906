-- Every SAML success forgets the assertion ids whose replay window has passed (sign_in.store.forget_old_assertions,
-- in the success's transaction): without this index that DELETE scanned the whole table each time.
CREATE INDEX IF NOT EXISTS seen_assertions_expiry ON seen_assertions (remember_until);
