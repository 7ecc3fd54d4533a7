package tenants

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"
)

// RateRule is a token bucket kept in Postgres (rate_buckets), so that every `spaces serve` on the
// database counts together: Burst requests at once, then one more each Every.
type RateRule struct {
	Scope string
	Burst int
	Every time.Duration
}

// ApplyNetworkRule is the limit of the application form per client network: perHour applications
// at once, then one more every hour/perHour (a network that sent perHour is full again in an hour).
func ApplyNetworkRule(perHour int) RateRule {
	perHour = max(perHour, 1)
	return RateRule{Scope: "apply_network", Burst: perHour, Every: time.Hour / time.Duration(perHour)}
}

// rateSweepOneIn: one call in this many also deletes the buckets that are full again (no request
// for a whole refill), which say no more than their absence. Rare enough to cost nothing per
// request, often enough to keep the table to the networks seen in the last refill time or so.
var rateSweepOneIn = 512

// RateTake takes one token from key's bucket under rule, in one statement. It tells whether there
// was one and, when there was not, how long until there is.
func RateTake(ctx context.Context, db DB, rule RateRule, key string) (allowed bool, retryAfter time.Duration, err error) {
	var tokens float64
	// t is the bucket refilled up to now (never past the burst); the request takes one token if a
	// whole one is there. Every SET expression reads the row as it was. Now and then the same
	// statement deletes other buckets that are full again.
	err = db.QueryRow(ctx, `WITH swept AS (
			DELETE FROM rate_buckets WHERE $5::bool AND full_at < now() AND NOT (scope = $1 AND key = $2))
		INSERT INTO rate_buckets AS b (scope, key, tokens, allowed, full_at)
		VALUES ($1, $2, $3::float8 - 1, true, now() + $4 * interval '1 second')
		ON CONFLICT (scope, key) DO UPDATE SET (tokens, allowed, updated_at, full_at) = (
			SELECT t - taken, taken = 1, now(), now() + ($3 - t + taken) * $4 * interval '1 second'
			FROM (SELECT t, CASE WHEN t >= 1 THEN 1 ELSE 0 END AS taken
				FROM (SELECT least($3::float8, b.tokens + greatest(0, extract(epoch FROM now() - b.updated_at)::float8) / $4) AS t) refill) take)
		RETURNING allowed, tokens`, rule.Scope, key, rule.Burst, rule.Every.Seconds(), rand.IntN(rateSweepOneIn) == 0).Scan(&allowed, &tokens)
	if err != nil {
		return false, 0, fmt.Errorf("take rate token %s: %w", rule.Scope, err)
	}
	if allowed {
		return true, 0, nil
	}
	return false, time.Duration((1 - tokens) * float64(rule.Every)), nil
}
