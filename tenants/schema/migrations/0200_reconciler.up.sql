-- What the reconciler measures of each space and how it applies the space's limits.

-- One row per space: its latest usage, whether those figures are stale, the storage level reached
-- (for warnings sent once per crossing), the quota plan last applied to its accounts, and when
-- the next collection is due (spaces that keep failing are backed off).
CREATE TABLE space_usage (
    space_id           bigint PRIMARY KEY REFERENCES spaces (id) ON DELETE CASCADE,
    used_bytes         bigint NOT NULL DEFAULT 0,
    accounts_enabled   integer NOT NULL DEFAULT 0,
    accounts_disabled  integer NOT NULL DEFAULT 0,
    active_users_day   integer NOT NULL DEFAULT 0,
    active_users_month integer NOT NULL DEFAULT 0,
    collected_at       timestamptz,            -- last successful collection; NULL: never
    stale_since        timestamptz,            -- first failed collection since the last success
    stale_reason       text,
    storage_level      text NOT NULL DEFAULT 'ok' CHECK (storage_level IN ('ok', '80%', '90%', 'full')),
    quota_plan         jsonb,
    failures           integer NOT NULL DEFAULT 0,
    next_at            timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX space_usage_next_idx ON space_usage (next_at);

-- Usage over time: a point per space and hour for a week, then one per day (the day's highest).
CREATE TABLE space_usage_history (
    space_id     bigint NOT NULL REFERENCES spaces (id) ON DELETE CASCADE,
    daily        boolean NOT NULL,
    at           timestamptz NOT NULL,         -- start of the hour, or of the day (UTC)
    used_bytes   bigint NOT NULL,
    accounts     integer NOT NULL,
    active_users integer NOT NULL,
    PRIMARY KEY (space_id, daily, at)
);
-- Compaction (every usage pass) finds the old points by age, whatever the space.
CREATE INDEX space_usage_history_age_idx ON space_usage_history (daily, at);

-- Repairs of a space's Nomad job that failed: the next is not tried before retry_at.
CREATE TABLE reconcile_backoff (
    space_id   bigint PRIMARY KEY REFERENCES spaces (id) ON DELETE CASCADE,
    failures   integer NOT NULL,
    retry_at   timestamptz NOT NULL,
    last_error text NOT NULL
);

-- Nomad jobs that carry our meta but belong to no space: reported, never deleted by the reconciler.
CREATE TABLE orphan_jobs (
    job_id     text PRIMARY KEY,
    space_meta text NOT NULL,                  -- the spaces_space_id the job carries
    first_seen timestamptz NOT NULL DEFAULT now(),
    last_seen  timestamptz NOT NULL DEFAULT now()
);
