-- What an operator API token may do, and until when.

-- read: look at spaces, applications, the dashboard and the audit log; operator: also change them.
-- Tokens made before scopes existed could change everything, so they stay operator tokens.
ALTER TABLE api_tokens
    ADD COLUMN scope text NOT NULL DEFAULT 'operator' CHECK (scope IN ('read', 'operator')),
    ADD COLUMN expires_at timestamptz;  -- NULL: never expires
