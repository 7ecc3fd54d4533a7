-- Counters of failed attempts, shared by every `spaces serve` on this database: failed moderator
-- logins per account (the SHA-256 of the normalised email, so that a password typed in the email
-- field is not kept) and per client network, and lost-link requests per network. A key that
-- reaches its limit within its window is locked until locked_until; each lockout in a row lasts
-- twice the one before (lockouts). Rows untouched for two days are deleted as new failures come.
CREATE TABLE throttle_counters (
    scope        text        NOT NULL,
    key          text        NOT NULL,
    failures     integer     NOT NULL DEFAULT 0,
    window_start timestamptz NOT NULL DEFAULT now(),
    lockouts     integer     NOT NULL DEFAULT 0,
    locked_until timestamptz,
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (scope, key)
);
CREATE INDEX throttle_counters_updated_at ON throttle_counters (updated_at);

-- Status links mailed on request (/status/lost, or a second application with the same address),
-- on top of the application's own link: the old link keeps working until a new one is first
-- opened, which then becomes the application's link. Unused ones expire.
CREATE TABLE application_status_links (
    token_hash     bytea       PRIMARY KEY,
    application_id bigint      NOT NULL REFERENCES applications (id) ON DELETE CASCADE,
    created_at     timestamptz NOT NULL DEFAULT now(),
    expires_at     timestamptz NOT NULL
);
CREATE INDEX application_status_links_application ON application_status_links (application_id);

-- A second open application with the same legal identifier is recorded (and shown to moderators
-- as a possible duplicate) rather than refused, so that nobody can block an association by
-- applying first with its number.
DROP INDEX applications_open_legal_id_key;
