-- Core tables: the people and tokens that act, what they decided (audit), and the spaces.

CREATE TABLE moderators (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email         text NOT NULL,
    display_name  text NOT NULL,
    password_hash text NOT NULL,          -- argon2id, PHC string format
    created_at    timestamptz NOT NULL DEFAULT now(),
    disabled_at   timestamptz
);
CREATE UNIQUE INDEX moderators_email_key ON moderators (lower(email));

-- Operator API tokens. Only a SHA-256 of the token is kept; the token itself is shown once.
CREATE TABLE api_tokens (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name         text NOT NULL,
    token_hash   bytea NOT NULL UNIQUE,
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz,
    revoked_at   timestamptz
);

-- Every decision: who (actor), what (action), on what (subject), from which state to which.
CREATE TABLE audit_log (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at           timestamptz NOT NULL DEFAULT now(),
    actor        text NOT NULL,            -- moderator:<id>, token:<id>, applicant, system:<component>
    action       text NOT NULL,
    subject_type text NOT NULL,            -- application, space, moderator, token
    subject_id   bigint,
    from_state   text,
    to_state     text,
    detail       jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_log_subject_idx ON audit_log (subject_type, subject_id, id);

-- A space is the desired state of one association's Nextcloud; the reconciler records what it observed.
CREATE TABLE spaces (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    slug                text NOT NULL UNIQUE,
    association_name    text NOT NULL,
    contact_email       text NOT NULL,
    locale              text NOT NULL DEFAULT 'fr',
    state               text NOT NULL DEFAULT 'queued'
        CHECK (state IN ('queued', 'provisioning', 'active', 'suspended', 'deleting', 'deleted', 'failed')),
    failure_reason      text,
    storage_limit_bytes bigint NOT NULL CHECK (storage_limit_bytes > 0),
    account_limit       integer NOT NULL CHECK (account_limit > 0),
    generation          bigint NOT NULL DEFAULT 1,
    observed_generation bigint NOT NULL DEFAULT 0,
    conditions          jsonb NOT NULL DEFAULT '[]',
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    state_changed_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX spaces_state_idx ON spaces (state, id);
