package tenants

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// ThrottleRule says how many failures a key may have within Window before it is locked, and for
// how long: Lockout the first time, twice as long each next time, at most MaxLockout. A key whose
// last lockout (or window) ended more than a day ago starts again from Lockout.
type ThrottleRule struct {
	Scope      string
	Limit      int
	Window     time.Duration
	Lockout    time.Duration
	MaxLockout time.Duration
}

// The rules of the moderators' login and of the lost-link page.
var (
	// LoginAccountRule: 5 failed logins for one email in 15 minutes lock that email for 1 minute,
	// then 2, 4… up to an hour. Short first lockouts, so that a stranger typing a moderator's
	// address does not keep them out for long, while guessing stays at a few tries an hour.
	LoginAccountRule = ThrottleRule{Scope: "login_account", Limit: 5, Window: 15 * time.Minute,
		Lockout: time.Minute, MaxLockout: time.Hour}
	// LoginNetworkRule: 50 failed logins from one network in 15 minutes (whichever emails) lock
	// the network the same way.
	LoginNetworkRule = ThrottleRule{Scope: "login_network", Limit: 50, Window: 15 * time.Minute,
		Lockout: time.Minute, MaxLockout: time.Hour}
	// LostLinkNetworkRule: 10 lost-link requests from one network in an hour (each request counts
	// as a failure, known address or not) lock it for an hour, then longer, up to a day.
	LostLinkNetworkRule = ThrottleRule{Scope: "lost_link_network", Limit: 10, Window: time.Hour,
		Lockout: time.Hour, MaxLockout: 24 * time.Hour}
)

// ThrottleKey is one counter: a rule and what it counts (an account, a network).
type ThrottleKey struct {
	Rule ThrottleRule
	Key  string
}

// AccountKey is the throttle key of a login email: the SHA-256 of its trimmed, lowercased form,
// the same whether or not a moderator has it.
func AccountKey(email string) string {
	sum := sha256.Sum256([]byte(strings.ToLower(strings.TrimSpace(email))))
	return hex.EncodeToString(sum[:])
}

// ThrottleLockedUntil returns until when the most locked of keys is locked, or the zero time when
// none is locked now.
func ThrottleLockedUntil(ctx context.Context, db DB, keys ...ThrottleKey) (time.Time, error) {
	var until time.Time
	for _, k := range keys {
		var u time.Time
		err := db.QueryRow(ctx, `SELECT coalesce(max(locked_until), 'epoch') FROM throttle_counters
			WHERE scope = $1 AND key = $2 AND locked_until > now()`, k.Rule.Scope, k.Key).Scan(&u)
		if err != nil {
			return time.Time{}, fmt.Errorf("read throttle %s: %w", k.Rule.Scope, err)
		}
		if u.After(until) {
			until = u
		}
	}
	if until.Unix() <= 0 {
		return time.Time{}, nil
	}
	return until, nil
}

// ThrottleFailure counts one failure against each of keys (in one transaction; give keys in the
// same order everywhere) and locks each key that reaches its rule's limit. It returns until when
// the most locked key is now locked by this failure, or the zero time. Counters untouched for two
// days are deleted on the way.
func ThrottleFailure(ctx context.Context, db DB, keys ...ThrottleKey) (time.Time, error) {
	var until time.Time
	err := pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM throttle_counters WHERE updated_at < now() - interval '2 days'
			AND (locked_until IS NULL OR locked_until < now())`); err != nil {
			return err
		}
		for _, k := range keys {
			var failures, lockouts int
			err := tx.QueryRow(ctx, `INSERT INTO throttle_counters AS c (scope, key, failures) VALUES ($1, $2, 1)
				ON CONFLICT (scope, key) DO UPDATE SET
					lockouts = CASE WHEN coalesce(c.locked_until, c.window_start) < now() - interval '1 day' THEN 0 ELSE c.lockouts END,
					failures = CASE WHEN c.window_start <= now() - $3 * interval '1 second' THEN 1 ELSE c.failures + 1 END,
					window_start = CASE WHEN c.window_start <= now() - $3 * interval '1 second' THEN now() ELSE c.window_start END,
					updated_at = now()
				RETURNING failures, lockouts`, k.Rule.Scope, k.Key, k.Rule.Window.Seconds()).Scan(&failures, &lockouts)
			if err != nil {
				return err
			}
			if failures < k.Rule.Limit {
				continue
			}
			var u time.Time
			if err := tx.QueryRow(ctx, `UPDATE throttle_counters SET locked_until = now() + $3 * interval '1 second',
					lockouts = lockouts + 1, failures = 0, window_start = now()
				WHERE scope = $1 AND key = $2 RETURNING locked_until`,
				k.Rule.Scope, k.Key, k.Rule.lockout(lockouts).Seconds()).Scan(&u); err != nil {
				return err
			}
			if u.After(until) {
				until = u
			}
		}
		return nil
	})
	if err != nil {
		return time.Time{}, fmt.Errorf("count failure: %w", err)
	}
	return until, nil
}

// lockout is how long the lockout after previous ones in a row lasts.
func (r ThrottleRule) lockout(previous int) time.Duration {
	d := r.Lockout
	for range min(previous, 30) {
		d *= 2
		if d >= r.MaxLockout {
			return r.MaxLockout
		}
	}
	return min(d, r.MaxLockout)
}

// ThrottleReset forgets the counters of keys, as after a successful login.
func ThrottleReset(ctx context.Context, db DB, keys ...ThrottleKey) error {
	for _, k := range keys {
		if _, err := db.Exec(ctx, `DELETE FROM throttle_counters WHERE scope = $1 AND key = $2`, k.Rule.Scope, k.Key); err != nil {
			return fmt.Errorf("reset throttle %s: %w", k.Rule.Scope, err)
		}
	}
	return nil
}
