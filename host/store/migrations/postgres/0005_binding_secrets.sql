-- Binding secrets: config keys of a plugin binding whose values are secret
-- (a webhook's HMAC key, an Authorization header). The JSON object of them
-- is sealed like a connection password (nonce || ChaCha20-Poly1305
-- ciphertext, with the id of the key that sealed it); only the sorted key
-- names are kept in clear, for reads. Existing bindings have no secrets.
ALTER TABLE plugin_bindings ADD COLUMN secrets_sealed BYTEA;
ALTER TABLE plugin_bindings ADD COLUMN secrets_key_id TEXT;
ALTER TABLE plugin_bindings ADD COLUMN secret_names TEXT NOT NULL DEFAULT '[]';
ALTER TABLE plugin_bindings ADD CONSTRAINT plugin_bindings_secrets_sealed_with_key
    CHECK ((secrets_sealed IS NULL) = (secrets_key_id IS NULL));
