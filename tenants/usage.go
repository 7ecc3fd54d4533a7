package tenants

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/assospaces/spaces/quota"
)

// Usage is what the reconciler last measured of a space. A space that could not be reached keeps
// its last figures, with StaleSince and StaleReason saying since when and why.
type Usage struct {
	SpaceID          int64       `json:"-"`
	UsedBytes        int64       `json:"used_bytes"`
	AccountsEnabled  int         `json:"accounts_enabled"`
	AccountsDisabled int         `json:"accounts_disabled"`
	ActiveUsersDay   int         `json:"active_users_day"`
	ActiveUsersMonth int         `json:"active_users_month"`
	CollectedAt      time.Time   `json:"collected_at,omitzero"` // zero: never collected
	StaleSince       time.Time   `json:"stale_since,omitzero"`  // zero: the figures are current
	StaleReason      string      `json:"stale_reason,omitempty"`
	Level            quota.Level `json:"storage_level"`
	// Plan is the quota plan last applied to the space's accounts (a quota.Plan in JSON).
	Plan     json.RawMessage `json:"-"`
	Failures int             `json:"-"`
	NextAt   time.Time       `json:"-"`
}

// Collected tells whether the space's usage was ever measured.
func (u Usage) Collected() bool { return !u.CollectedAt.IsZero() }

// Stale tells whether the last collection failed.
func (u Usage) Stale() bool { return !u.StaleSince.IsZero() }

const usageColumns = `space_id, used_bytes, accounts_enabled, accounts_disabled, active_users_day, active_users_month,
	coalesce(collected_at, 'epoch'), coalesce(stale_since, 'epoch'), coalesce(stale_reason, ''), storage_level,
	quota_plan, failures, next_at`

func scanUsage(row pgx.Row) (Usage, error) {
	var u Usage
	var level string
	err := row.Scan(&u.SpaceID, &u.UsedBytes, &u.AccountsEnabled, &u.AccountsDisabled, &u.ActiveUsersDay, &u.ActiveUsersMonth,
		&u.CollectedAt, &u.StaleSince, &u.StaleReason, &level, &u.Plan, &u.Failures, &u.NextAt)
	if err != nil {
		return u, err
	}
	if u.CollectedAt.Equal(time.Unix(0, 0)) {
		u.CollectedAt = time.Time{}
	}
	if u.StaleSince.Equal(time.Unix(0, 0)) {
		u.StaleSince = time.Time{}
	}
	if err := u.Level.UnmarshalText([]byte(level)); err != nil {
		return u, fmt.Errorf("storage level of space %d: %w", u.SpaceID, err)
	}
	return u, nil
}

// GetUsage reads a space's usage; a space never measured has a zero Usage.
func GetUsage(ctx context.Context, db DB, spaceID int64) (Usage, error) {
	u, err := scanUsage(db.QueryRow(ctx, `SELECT `+usageColumns+` FROM space_usage WHERE space_id = $1`, spaceID))
	if err == pgx.ErrNoRows {
		return Usage{SpaceID: spaceID}, nil
	}
	if err != nil {
		return Usage{}, fmt.Errorf("read usage of space %d: %w", spaceID, err)
	}
	return u, nil
}

// UsageOf reads the usage of several spaces at once, by space id; spaces never measured are absent.
func UsageOf(ctx context.Context, db DB, spaceIDs []int64) (map[int64]Usage, error) {
	rows, err := db.Query(ctx, `SELECT `+usageColumns+` FROM space_usage WHERE space_id = ANY($1)`, spaceIDs)
	if err != nil {
		return nil, fmt.Errorf("read usage: %w", err)
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Usage, error) { return scanUsage(r) })
	if err != nil {
		return nil, fmt.Errorf("read usage: %w", err)
	}
	out := make(map[int64]Usage, len(list))
	for _, u := range list {
		out[u.SpaceID] = u
	}
	return out, nil
}

// SpacesDueForUsage lists up to limit active spaces whose usage is due for collection, the
// longest waiting first.
func SpacesDueForUsage(ctx context.Context, db DB, now time.Time, limit int) ([]Space, error) {
	rows, err := db.Query(ctx, `SELECT `+spaceColumns+` FROM spaces s
		LEFT JOIN space_usage u ON u.space_id = s.id
		WHERE s.state = 'active' AND (u.next_at IS NULL OR u.next_at <= $1)
		ORDER BY u.next_at NULLS FIRST, s.id LIMIT $2`, now, limit)
	if err != nil {
		return nil, fmt.Errorf("list spaces due for usage: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Space, error) { return scanSpace(r) })
	if err != nil {
		return nil, fmt.Errorf("list spaces due for usage: %w", err)
	}
	return out, nil
}

// RecordUsage stores a successful measurement of u.SpaceID: its current figures, its plan and
// level, the next collection at next, and the hour's point of its history (the hour's highest).
// Call it in the transaction that audits a level change, if any.
func RecordUsage(ctx context.Context, db DB, u Usage, now, next time.Time) error {
	level, _ := u.Level.MarshalText()
	_, err := db.Exec(ctx, `
		INSERT INTO space_usage (space_id, used_bytes, accounts_enabled, accounts_disabled, active_users_day,
			active_users_month, collected_at, stale_since, stale_reason, storage_level, quota_plan, failures, next_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, NULL, NULL, $8, $9, 0, $10)
		ON CONFLICT (space_id) DO UPDATE SET used_bytes = $2, accounts_enabled = $3, accounts_disabled = $4,
			active_users_day = $5, active_users_month = $6, collected_at = $7, stale_since = NULL, stale_reason = NULL,
			storage_level = $8, quota_plan = coalesce($9, space_usage.quota_plan), failures = 0, next_at = $10`,
		u.SpaceID, u.UsedBytes, u.AccountsEnabled, u.AccountsDisabled, u.ActiveUsersDay, u.ActiveUsersMonth, now,
		string(level), nullJSON(u.Plan), next)
	if err != nil {
		return fmt.Errorf("record usage of space %d: %w", u.SpaceID, err)
	}
	_, err = db.Exec(ctx, `
		INSERT INTO space_usage_history (space_id, daily, at, used_bytes, accounts, active_users)
		VALUES ($1, false, date_trunc('hour', $2::timestamptz AT TIME ZONE 'UTC') AT TIME ZONE 'UTC', $3, $4, $5)
		ON CONFLICT (space_id, daily, at) DO UPDATE SET used_bytes = GREATEST(space_usage_history.used_bytes, $3),
			accounts = GREATEST(space_usage_history.accounts, $4), active_users = GREATEST(space_usage_history.active_users, $5)`,
		u.SpaceID, now, u.UsedBytes, u.AccountsEnabled, u.ActiveUsersDay)
	if err != nil {
		return fmt.Errorf("record usage history of space %d: %w", u.SpaceID, err)
	}
	return nil
}

func nullJSON(b json.RawMessage) any {
	if len(b) == 0 {
		return nil
	}
	return b
}

// RecordUsageFailure keeps a space's last figures and marks them stale with reason; the next
// collection is not tried before next.
func RecordUsageFailure(ctx context.Context, db DB, spaceID int64, reason string, now, next time.Time) error {
	_, err := db.Exec(ctx, `
		INSERT INTO space_usage (space_id, stale_since, stale_reason, failures, next_at) VALUES ($1, $2, $3, 1, $4)
		ON CONFLICT (space_id) DO UPDATE SET stale_since = coalesce(space_usage.stale_since, $2), stale_reason = $3,
			failures = space_usage.failures + 1, next_at = $4`, spaceID, now, reason, next)
	if err != nil {
		return fmt.Errorf("record usage failure of space %d: %w", spaceID, err)
	}
	return nil
}

// UsagePoint is one point of a space's usage history.
type UsagePoint struct {
	At          time.Time `json:"at"`
	UsedBytes   int64     `json:"used_bytes"`
	Accounts    int       `json:"accounts"`
	ActiveUsers int       `json:"active_users"`
}

// UsageHistory is a space's usage per day since since, oldest first: the daily points, and the
// recent hourly points folded into their day (the day's highest).
func UsageHistory(ctx context.Context, db DB, spaceID int64, since time.Time) ([]UsagePoint, error) {
	rows, err := db.Query(ctx, `
		SELECT day, max(used_bytes), max(accounts), max(active_users) FROM (
			SELECT date_trunc('day', at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AS day, used_bytes, accounts, active_users
			FROM space_usage_history WHERE space_id = $1 AND at >= $2) p
		GROUP BY day ORDER BY day`, spaceID, since)
	if err != nil {
		return nil, fmt.Errorf("read usage history of space %d: %w", spaceID, err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (UsagePoint, error) {
		var p UsagePoint
		return p, r.Scan(&p.At, &p.UsedBytes, &p.Accounts, &p.ActiveUsers)
	})
	if err != nil {
		return nil, fmt.Errorf("read usage history of space %d: %w", spaceID, err)
	}
	return out, nil
}

// History retention: hourly points for a week, then daily points for two years.
const (
	HourlyHistoryFor = 7 * 24 * time.Hour
	DailyHistoryFor  = 2 * 365 * 24 * time.Hour
)

// CompactUsageHistory folds the hourly points older than HourlyHistoryFor into daily points
// (the day's highest) and drops daily points older than DailyHistoryFor. It returns how many
// hourly points were folded.
func CompactUsageHistory(ctx context.Context, db DB, now time.Time) (int64, error) {
	var folded int64
	err := pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `
			WITH old AS (
				DELETE FROM space_usage_history WHERE NOT daily AND at < $1
				RETURNING space_id, date_trunc('day', at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AS day, used_bytes, accounts, active_users),
			ins AS (
				INSERT INTO space_usage_history (space_id, daily, at, used_bytes, accounts, active_users)
				SELECT space_id, true, day, max(used_bytes), max(accounts), max(active_users) FROM old GROUP BY space_id, day
				ON CONFLICT (space_id, daily, at) DO UPDATE SET
					used_bytes = GREATEST(space_usage_history.used_bytes, excluded.used_bytes),
					accounts = GREATEST(space_usage_history.accounts, excluded.accounts),
					active_users = GREATEST(space_usage_history.active_users, excluded.active_users))
			SELECT count(*) FROM old`, now.Add(-HourlyHistoryFor)).Scan(&folded)
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `DELETE FROM space_usage_history WHERE daily AND at < $1`, now.Add(-DailyHistoryFor))
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("compact usage history: %w", err)
	}
	return folded, nil
}
