-- Token buckets of the rate limits on public actions (applications per client network), shared by
-- every `spaces serve` on this database so that replicas count together. A bucket holds up to its
-- rule's burst of tokens, refilled one every interval of the rule; a request takes one, or is
-- refused when less than one is left (allowed, the last request's answer). full_at is when the
-- bucket is full again: past it, the row says no more than its absence, and it may be deleted.
CREATE TABLE rate_buckets (
    scope      text             NOT NULL,
    key        text             NOT NULL,
    tokens     double precision NOT NULL,
    allowed    boolean          NOT NULL,
    updated_at timestamptz      NOT NULL DEFAULT now(),
    full_at    timestamptz      NOT NULL,
    PRIMARY KEY (scope, key)
);
CREATE INDEX rate_buckets_full_at ON rate_buckets (full_at);
