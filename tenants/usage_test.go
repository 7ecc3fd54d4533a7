package tenants_test

import (
	"context"
	"testing"
	"time"

	"github.com/assospaces/spaces/quota"
	"github.com/assospaces/spaces/tenants"
	"github.com/assospaces/spaces/tenants/pgtest"
)

// TestUsageHistoryIsCompacted: a point per hour for a week, then the day's highest per day; a
// failed measurement keeps the last figures and marks them stale.
func TestUsageHistoryIsCompacted(t *testing.T) {
	pool, _ := pgtest.New(t)
	ctx := context.Background()
	s, err := tenants.CreateSpace(ctx, pool, tenants.NewSpace{Slug: "hist", AssociationName: "A", ContactEmail: "a@example.org",
		Limits: quota.DefaultLimits}, tenants.ModeratorActor(1))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	old := now.Add(-10 * 24 * time.Hour).Truncate(24 * time.Hour) // a day ten days ago
	record := func(at time.Time, used int64) {
		t.Helper()
		u := tenants.Usage{SpaceID: s.ID, UsedBytes: used, AccountsEnabled: 3, ActiveUsersDay: 2, Level: quota.LevelOK}
		if err := tenants.RecordUsage(ctx, pool, u, at, at.Add(5*time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	// Three hours of that old day, two measurements in one hour, and one today.
	record(old.Add(1*time.Hour), 100)
	record(old.Add(1*time.Hour+30*time.Minute), 150) // the same hour: its highest is kept
	record(old.Add(5*time.Hour), 120)
	record(old.Add(9*time.Hour), 90)
	record(now, 500)

	folded, err := tenants.CompactUsageHistory(ctx, pool, now)
	if err != nil {
		t.Fatal(err)
	}
	if folded != 3 {
		t.Errorf("folded %d hourly points, want 3", folded)
	}
	var hourly, daily int
	if err := pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE NOT daily), count(*) FILTER (WHERE daily)
		FROM space_usage_history WHERE space_id = $1`, s.ID).Scan(&hourly, &daily); err != nil {
		t.Fatal(err)
	}
	if hourly != 1 || daily != 1 {
		t.Errorf("%d hourly and %d daily points, want 1 and 1", hourly, daily)
	}
	points, err := tenants.UsageHistory(ctx, pool, s.ID, now.Add(-30*24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(points) != 2 || !points[0].At.Equal(old) || points[0].UsedBytes != 150 || points[1].UsedBytes != 500 {
		t.Errorf("history = %+v, want the old day at its highest (150) and today", points)
	}
	// Compacting again changes nothing.
	if n, err := tenants.CompactUsageHistory(ctx, pool, now); err != nil || n != 0 {
		t.Errorf("second compaction folded %d, %v", n, err)
	}

	// A failed measurement: the last figures stay, marked stale.
	if err := tenants.RecordUsageFailure(ctx, pool, s.ID, "connection refused", now.Add(time.Minute), now.Add(10*time.Minute)); err != nil {
		t.Fatal(err)
	}
	u, err := tenants.GetUsage(ctx, pool, s.ID)
	if err != nil {
		t.Fatal(err)
	}
	if u.UsedBytes != 500 || !u.Stale() || u.StaleReason != "connection refused" || u.Failures != 1 || !u.CollectedAt.Equal(now) {
		t.Errorf("usage after a failure = %+v", u)
	}
}
