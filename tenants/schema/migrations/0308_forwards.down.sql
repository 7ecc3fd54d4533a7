DROP TABLE forwards;
ALTER TABLE partners DROP CONSTRAINT partners_forward_check, DROP COLUMN forward_token_sealed, DROP COLUMN forward_url;
-- Forward tokens cannot be expressed any more: they stop working.
UPDATE api_tokens SET scope = 'read', revoked_at = coalesce(revoked_at, now()) WHERE scope = 'forward';
ALTER TABLE api_tokens DROP CONSTRAINT api_tokens_scope_check,
    ADD CONSTRAINT api_tokens_scope_check CHECK (scope IN ('read', 'operator'));
