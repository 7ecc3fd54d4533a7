package tenants

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/assospaces/spaces/quota"
)

// NearLimitShown is how many of the spaces near their limits Dashboard lists.
const NearLimitShown = 50

// DashboardTotals is the whole service at a glance: how many spaces are in each state, what the
// running ones use of what they were given, what the reconciler could not measure or could not
// place, and the spaces closest to their limits.
type DashboardTotals struct {
	// SpacesByState counts spaces per state; every state is present, zeros included.
	SpacesByState map[SpaceState]int `json:"spaces_by_state"`
	// StorageUsedBytes is the last measured usage of the active and suspended spaces, and
	// StorageAllocatedBytes the sum of their storage limits.
	StorageUsedBytes      int64 `json:"storage_used_bytes"`
	StorageAllocatedBytes int64 `json:"storage_allocated_bytes"`
	// AccountsEnabled is the enabled accounts of the same spaces, as last measured, and
	// AccountsAllowed the sum of their accounts limits.
	AccountsEnabled int64 `json:"accounts_enabled"`
	AccountsAllowed int64 `json:"accounts_allowed"`
	// OrphanJobs counts the Nomad jobs that look like a space's but belong to no space.
	OrphanJobs int `json:"orphan_jobs"`
	// StaleSpaces counts the active spaces whose last measurement failed, so that their figures
	// are not current; UnmeasuredSpaces the active spaces never measured yet.
	StaleSpaces      int `json:"stale_spaces"`
	UnmeasuredSpaces int `json:"unmeasured_spaces"`
	// NearLimit lists the active and suspended spaces at a storage level of 80 % or more, or with
	// at least as many enabled accounts as their limit: the most used storage (as a share of the
	// limit) first, at most NearLimitShown. NearLimitTotal counts them all.
	NearLimit      []NearLimit `json:"near_limit"`
	NearLimitTotal int         `json:"near_limit_total"`
	// MailDropped counts the mails given up in the last 30 days (see RecordMailDrop), and
	// PendingOverdue the pending applications waiting for a moderator for longer than
	// PendingOverdueAfter.
	MailDropped    int `json:"mail_dropped"`
	PendingOverdue int `json:"pending_overdue"`
}

// Spaces counts the spaces that are not deleted.
func (d DashboardTotals) Spaces() int {
	n := 0
	for s, c := range d.SpacesByState {
		if s != SpaceDeleted {
			n += c
		}
	}
	return n
}

// NearLimit is a space close to its limits, with its last measured usage.
type NearLimit struct {
	SpaceID         int64        `json:"space_id"`
	Slug            string       `json:"slug"`
	AssociationName string       `json:"association_name"`
	State           SpaceState   `json:"state"`
	Limits          quota.Limits `json:"limits"`
	// ApplicationID is the approved application that created the space, whose page moderators
	// open; 0 for a space created otherwise.
	ApplicationID int64 `json:"application_id,omitempty"`
	Usage         Usage `json:"usage"`
}

// AccountsAtLimit tells whether the space has at least as many enabled accounts as its limit.
func (n NearLimit) AccountsAtLimit() bool { return n.Usage.AccountsEnabled >= n.Limits.Accounts }

// Dashboard reads the totals in three statements whatever the number of spaces: one pass over the
// spaces and their usage grouped by state (with the orphan jobs counted), the dropped mail and
// overdue applications, and the spaces near their limits.
func Dashboard(ctx context.Context, db DB) (DashboardTotals, error) {
	d := DashboardTotals{SpacesByState: make(map[SpaceState]int, len(SpaceStates)), NearLimit: []NearLimit{}}
	for _, s := range SpaceStates {
		d.SpacesByState[s] = 0
	}
	// The orphan count drives the join, so that it is read even when there is no space at all.
	rows, err := db.Query(ctx, `
		WITH per_state AS (
			SELECT s.state, count(*) AS spaces,
				sum(u.used_bytes) AS used, sum(s.storage_limit_bytes) AS allocated,
				sum(u.accounts_enabled) AS accounts, sum(s.account_limit) AS allowed,
				count(*) FILTER (WHERE u.stale_since IS NOT NULL) AS stale,
				count(*) FILTER (WHERE u.collected_at IS NULL) AS unmeasured
			FROM spaces s LEFT JOIN space_usage u ON u.space_id = s.id
			GROUP BY s.state)
		SELECT o.n, p.state, coalesce(p.spaces, 0), coalesce(p.used, 0)::bigint, coalesce(p.allocated, 0)::bigint,
			coalesce(p.accounts, 0)::bigint, coalesce(p.allowed, 0)::bigint, coalesce(p.stale, 0), coalesce(p.unmeasured, 0)
		FROM (SELECT count(*) AS n FROM orphan_jobs) o LEFT JOIN per_state p ON true`)
	if err != nil {
		return d, fmt.Errorf("read dashboard totals: %w", err)
	}
	var (
		state                             *string
		spaces, stale, unmeasured         int
		used, allocated, accounts, allows int64
	)
	_, err = pgx.ForEachRow(rows, []any{&d.OrphanJobs, &state, &spaces, &used, &allocated, &accounts, &allows, &stale, &unmeasured},
		func() error {
			if state == nil {
				return nil
			}
			st := SpaceState(*state)
			d.SpacesByState[st] = spaces
			if st == SpaceActive || st == SpaceSuspended {
				d.StorageUsedBytes += used
				d.StorageAllocatedBytes += allocated
				d.AccountsEnabled += accounts
				d.AccountsAllowed += allows
			}
			if st == SpaceActive {
				d.StaleSpaces, d.UnmeasuredSpaces = stale, unmeasured
			}
			return nil
		})
	if err != nil {
		return d, fmt.Errorf("read dashboard totals: %w", err)
	}

	if err := db.QueryRow(ctx, `SELECT
			(SELECT coalesce(sum(count), 0)::bigint FROM mail_drops WHERE day > (now() AT TIME ZONE 'UTC')::date - 30),
			(SELECT count(*) FROM applications WHERE state = 'pending' AND state_changed_at < now() - make_interval(secs => $1))`,
		PendingOverdueAfter.Seconds()).Scan(&d.MailDropped, &d.PendingOverdue); err != nil {
		return d, fmt.Errorf("read dropped mail and overdue applications: %w", err)
	}

	// The spaces near their limits: the window count is taken before the limit; the application
	// of each of the few listed is then found by its slug's index.
	rows, err = db.Query(ctx, `
		SELECT n.id, n.slug, n.association_name, n.state, n.storage_limit_bytes, n.account_limit,
			coalesce((SELECT a.id FROM applications a WHERE a.slug = n.slug AND a.space_id = n.id ORDER BY a.id LIMIT 1), 0),
			n.used_bytes, n.accounts_enabled, n.accounts_disabled, n.active_users_day, n.active_users_month,
			n.collected_at, n.stale_since, n.stale_reason, n.storage_level, n.total
		FROM (
			SELECT s.id, s.slug, s.association_name, s.state, s.storage_limit_bytes, s.account_limit,
				u.used_bytes, u.accounts_enabled, u.accounts_disabled, u.active_users_day, u.active_users_month,
				coalesce(u.collected_at, 'epoch') AS collected_at, coalesce(u.stale_since, 'epoch') AS stale_since,
				coalesce(u.stale_reason, '') AS stale_reason, u.storage_level,
				u.used_bytes::float8 / s.storage_limit_bytes AS storage_share,
				u.accounts_enabled::float8 / s.account_limit AS accounts_share,
				count(*) OVER () AS total
			FROM spaces s JOIN space_usage u ON u.space_id = s.id
			WHERE s.state IN ('active', 'suspended') AND (u.storage_level <> 'ok' OR u.accounts_enabled >= s.account_limit)
			ORDER BY storage_share DESC, accounts_share DESC, s.id
			LIMIT $1) n
		ORDER BY n.storage_share DESC, n.accounts_share DESC, n.id`, NearLimitShown)
	if err != nil {
		return d, fmt.Errorf("read spaces near their limits: %w", err)
	}
	var n NearLimit
	var level string
	_, err = pgx.ForEachRow(rows, []any{&n.SpaceID, &n.Slug, &n.AssociationName, &n.State, &n.Limits.StorageBytes,
		&n.Limits.Accounts, &n.ApplicationID, &n.Usage.UsedBytes, &n.Usage.AccountsEnabled, &n.Usage.AccountsDisabled,
		&n.Usage.ActiveUsersDay, &n.Usage.ActiveUsersMonth, &n.Usage.CollectedAt, &n.Usage.StaleSince, &n.Usage.StaleReason,
		&level, &d.NearLimitTotal},
		func() error {
			n.Usage.SpaceID = n.SpaceID
			n.Usage.CollectedAt = notEpoch(n.Usage.CollectedAt)
			n.Usage.StaleSince = notEpoch(n.Usage.StaleSince)
			if err := n.Usage.Level.UnmarshalText([]byte(level)); err != nil {
				return fmt.Errorf("storage level of space %d: %w", n.SpaceID, err)
			}
			d.NearLimit = append(d.NearLimit, n)
			return nil
		})
	if err != nil {
		return d, fmt.Errorf("read spaces near their limits: %w", err)
	}
	return d, nil
}

// notEpoch turns the epoch that stands for NULL back into the zero time.
func notEpoch(t time.Time) time.Time {
	if t.Equal(time.Unix(0, 0)) {
		return time.Time{}
	}
	return t
}
