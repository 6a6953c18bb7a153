-- Which master key sealed a secret (the first 8 bytes of its SHA-256, hex), so the key
-- can be rotated. NULL: sealed before key ids, without associated data; such rows still
-- open and `admin rotate-secrets` re-seals them.
ALTER TABLE settings
    ADD COLUMN secret_key_id text CHECK (secret_key_id ~ '^[0-9a-f]{16}$'),
    ADD CONSTRAINT settings_key_id_only_with_secret CHECK (secret_key_id IS NULL OR secret IS NOT NULL);
