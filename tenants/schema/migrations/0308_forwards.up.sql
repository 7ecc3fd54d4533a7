-- Forwarding applications to partner hosts that run this same software.

-- forward: a partner's token that may only send applications (POST /api/v1/applications).
ALTER TABLE api_tokens DROP CONSTRAINT api_tokens_scope_check,
    ADD CONSTRAINT api_tokens_scope_check CHECK (scope IN ('read', 'operator', 'forward'));

-- A partner with forwarding takes applications through its JSON API: forward_url is its address
-- (…/api/v1/applications is appended), forward_token_sealed the token it gave us, sealed with the
-- service's secret box (tenants/secretbox), never in clear. Both or neither.
ALTER TABLE partners
    ADD COLUMN forward_url text CHECK (forward_url ~ '^https?://' AND length(forward_url) <= 500),
    ADD COLUMN forward_token_sealed text,
    ADD CONSTRAINT partners_forward_check CHECK ((forward_url IS NULL) = (forward_token_sealed IS NULL));

-- Forwards: an application an applicant asked, with their consent, to send to a partner. payload
-- holds what they typed (personal data) until the forward is delivered, refused or failed, and is
-- then cleared; the row keeps the partner, the association's name, the state and the times.
CREATE TABLE forwards (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    partner_id       bigint REFERENCES partners (id) ON DELETE SET NULL,
    partner_name     text NOT NULL,
    association_name text NOT NULL,
    payload          jsonb,
    submission_hash  bytea NOT NULL UNIQUE, -- the form's one-time key: a double click is one forward
    state            text NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'delivered', 'refused', 'failed')),
    answer           text NOT NULL DEFAULT '' CHECK (length(answer) <= 2000), -- the partner's answer, or why it failed
    created_at       timestamptz NOT NULL DEFAULT now(),
    finished_at      timestamptz,
    CHECK ((state = 'queued') = (payload IS NOT NULL)),
    CHECK ((state = 'queued') = (finished_at IS NULL))
);
CREATE INDEX forwards_created_idx ON forwards (created_at DESC, id DESC);
CREATE INDEX forwards_partner_idx ON forwards (partner_id, created_at DESC);
