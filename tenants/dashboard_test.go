package tenants_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/assospaces/spaces/quota"
	"github.com/assospaces/spaces/tenants"
	"github.com/assospaces/spaces/tenants/pgtest"
)

// spaceIn creates a space with limits and walks it to state as the provisioner would.
func spaceIn(t testing.TB, db tenants.DB, slug string, limits quota.Limits, state tenants.SpaceState) tenants.Space {
	t.Helper()
	ctx := context.Background()
	s, err := tenants.CreateSpace(ctx, db, tenants.NewSpace{Slug: slug, AssociationName: "Asso " + slug,
		ContactEmail: slug + "@example.org", Limits: limits}, tenants.ActorSystem)
	if err != nil {
		t.Fatal(err)
	}
	path := map[tenants.SpaceState][]tenants.SpaceState{
		tenants.SpaceQueued:    nil,
		tenants.SpaceActive:    {tenants.SpaceProvisioning, tenants.SpaceActive},
		tenants.SpaceSuspended: {tenants.SpaceProvisioning, tenants.SpaceActive, tenants.SpaceSuspended},
		tenants.SpaceFailed:    {tenants.SpaceProvisioning, tenants.SpaceFailed},
		tenants.SpaceDeleted:   {tenants.SpaceProvisioning, tenants.SpaceActive, tenants.SpaceDeleting, tenants.SpaceDeleted},
	}[state]
	for _, to := range path {
		if s, err = tenants.TransitionSpace(ctx, db, s.ID, tenants.Transition{To: to, Actor: tenants.ActorReconciler, DeleteAfter: time.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

// measure records a successful measurement of s at now with its storage level.
func measure(t testing.TB, db tenants.DB, s tenants.Space, used int64, accounts int, level quota.Level, now time.Time) {
	t.Helper()
	u := tenants.Usage{SpaceID: s.ID, UsedBytes: used, AccountsEnabled: accounts, AccountsDisabled: 1,
		ActiveUsersDay: 2, ActiveUsersMonth: 4, Level: level}
	if err := tenants.RecordUsage(context.Background(), db, u, now, now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
}

func TestDashboard(t *testing.T) {
	ctx := context.Background()
	pool, _ := pgtest.New(t)
	now := time.Date(2026, 3, 10, 14, 0, 0, 0, time.UTC)
	std := quota.Limits{StorageBytes: 40 * quota.GB, Accounts: 50}

	// An empty service still reads its orphan jobs, and every state is counted.
	if _, err := tenants.SyncOrphanJobs(ctx, pool, []tenants.OrphanJob{{JobID: "space-ghost", SpaceMeta: "999"},
		{JobID: "space-gone", SpaceMeta: "998"}}, now); err != nil {
		t.Fatal(err)
	}
	d, err := tenants.Dashboard(ctx, pool)
	if err != nil {
		t.Fatal(err)
	}
	if d.OrphanJobs != 2 || len(d.SpacesByState) != len(tenants.SpaceStates) || d.Spaces() != 0 || d.NearLimit == nil || d.NearLimitTotal != 0 {
		t.Fatalf("empty service: %+v", d)
	}

	// An approved application's space, so that the list links to the application.
	m, err := tenants.CreateModerator(ctx, pool, "alex@example.org", "Alex", "correct horse battery staple", tenants.ActorSystem)
	if err != nil {
		t.Fatal(err)
	}
	app, err := tenants.SubmitApplication(ctx, pool, tenants.NewApplication{AssociationName: "Asso full", LegalID: "W000000001",
		Slug: "full", ContactName: "C", ContactEmail: "c@full.example", Purpose: "p", Activities: "a", ExpectedAccounts: 5,
		StatusToken: tenants.NewSecret("st_"), SubmissionKey: tenants.NewSecret("sub_")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, full, err := tenants.ApproveApplication(ctx, pool, app.ID, tenants.Approval{Decider: tenants.Decider{ModeratorID: m.ID}, Limits: std})
	if err != nil {
		t.Fatal(err)
	}
	for _, to := range []tenants.SpaceState{tenants.SpaceProvisioning, tenants.SpaceActive} {
		if _, err := tenants.TransitionSpace(ctx, pool, full.ID, tenants.Transition{To: to, Actor: tenants.ActorReconciler}); err != nil {
			t.Fatal(err)
		}
	}
	measure(t, pool, full, 41*quota.GB, 10, quota.LevelFull, now)

	at85 := spaceIn(t, pool, "at85", std, tenants.SpaceActive)
	measure(t, pool, at85, 34*quota.GB, 12, quota.LevelWarn80, now)
	// Gone down to 78 % after a warning: still at the 80 % level until it is under 75 %.
	at78 := spaceIn(t, pool, "at78", std, tenants.SpaceActive)
	measure(t, pool, at78, 31200*quota.MB, 3, quota.LevelWarn80, now)
	crowded := spaceIn(t, pool, "crowded", std, tenants.SpaceActive)
	measure(t, pool, crowded, 4*quota.GB, 50, quota.LevelOK, now)
	quiet := spaceIn(t, pool, "quiet", std, tenants.SpaceActive)
	measure(t, pool, quiet, 20*quota.GB, 7, quota.LevelOK, now)
	// Unreachable since: its last figures count, marked stale.
	stale := spaceIn(t, pool, "stale", std, tenants.SpaceActive)
	measure(t, pool, stale, 10*quota.GB, 5, quota.LevelOK, now.Add(-2*time.Hour))
	if err := tenants.RecordUsageFailure(ctx, pool, stale.ID, "no healthy allocation to ask", now.Add(-time.Hour), now); err != nil {
		t.Fatal(err)
	}
	spaceIn(t, pool, "fresh", std, tenants.SpaceActive) // never measured
	small := quota.Limits{StorageBytes: 10 * quota.GB, Accounts: 5}
	paused := spaceIn(t, pool, "paused", small, tenants.SpaceSuspended)
	measure(t, pool, paused, 9216*quota.MB, 2, quota.LevelWarn90, now)
	// Neither failed nor deleted spaces count in usage, nor are listed.
	broken := spaceIn(t, pool, "broken", std, tenants.SpaceActive)
	measure(t, pool, broken, 39*quota.GB, 50, quota.LevelWarn90, now)
	if _, err := tenants.TransitionSpace(ctx, pool, broken.ID, tenants.Transition{To: tenants.SpaceFailed, Actor: tenants.ActorReconciler}); err != nil {
		t.Fatal(err)
	}
	gone := spaceIn(t, pool, "gone", std, tenants.SpaceDeleted)
	measure(t, pool, gone, 39*quota.GB, 50, quota.LevelWarn90, now)
	spaceIn(t, pool, "waiting", std, tenants.SpaceQueued)

	d, err = tenants.Dashboard(ctx, pool)
	if err != nil {
		t.Fatal(err)
	}
	wantStates := map[tenants.SpaceState]int{tenants.SpaceQueued: 1, tenants.SpaceProvisioning: 0, tenants.SpaceActive: 7,
		tenants.SpaceSuspended: 1, tenants.SpaceDeleting: 0, tenants.SpaceDeleted: 1, tenants.SpaceFailed: 1}
	for s, n := range wantStates {
		if d.SpacesByState[s] != n {
			t.Errorf("%s: %d spaces, want %d", s, d.SpacesByState[s], n)
		}
	}
	if d.Spaces() != 10 {
		t.Errorf("%d spaces not deleted, want 10", d.Spaces())
	}
	wantUsed := 41*quota.GB + 34*quota.GB + 31200*quota.MB + 4*quota.GB + 20*quota.GB + 10*quota.GB + 9216*quota.MB
	if d.StorageUsedBytes != wantUsed || d.StorageAllocatedBytes != 7*40*quota.GB+10*quota.GB {
		t.Errorf("storage %d of %d, want %d of %d", d.StorageUsedBytes, d.StorageAllocatedBytes, wantUsed, 7*40*quota.GB+10*quota.GB)
	}
	if d.AccountsEnabled != 10+12+3+50+7+5+2 || d.AccountsAllowed != 7*50+5 {
		t.Errorf("accounts %d of %d", d.AccountsEnabled, d.AccountsAllowed)
	}
	if d.OrphanJobs != 2 || d.StaleSpaces != 1 || d.UnmeasuredSpaces != 1 {
		t.Errorf("orphans %d, stale %d, unmeasured %d; want 2, 1, 1", d.OrphanJobs, d.StaleSpaces, d.UnmeasuredSpaces)
	}
	var got []string
	for _, n := range d.NearLimit {
		got = append(got, n.Slug)
	}
	if want := "[full paused at85 at78 crowded]"; fmt.Sprint(got) != want || d.NearLimitTotal != 5 {
		t.Fatalf("near limits %v (%d in all), want %s", got, d.NearLimitTotal, want)
	}
	first := d.NearLimit[0]
	if first.ApplicationID != app.ID || first.State != tenants.SpaceActive || first.Limits != std || first.Usage.Level != quota.LevelFull ||
		first.Usage.UsedBytes != 41*quota.GB || !first.Usage.CollectedAt.Equal(now) || first.Usage.Stale() || first.Usage.AccountsDisabled != 1 {
		t.Errorf("first near limit: %+v", first)
	}
	if d.NearLimit[1].State != tenants.SpaceSuspended || d.NearLimit[1].ApplicationID != 0 || d.NearLimit[1].Usage.Level != quota.LevelWarn90 {
		t.Errorf("suspended near limit: %+v", d.NearLimit[1])
	}
	if c := d.NearLimit[4]; !c.AccountsAtLimit() || c.Usage.Level != quota.LevelOK || d.NearLimit[0].AccountsAtLimit() {
		t.Errorf("accounts at limit: %+v", c)
	}
}

// Past NearLimitShown, the list keeps the most used and counts the rest.
func TestDashboardNearLimitIsBounded(t *testing.T) {
	ctx := context.Background()
	pool, _ := pgtest.New(t)
	_, err := pool.Exec(ctx, `
		WITH s AS (
			INSERT INTO spaces (slug, association_name, contact_email, storage_limit_bytes, account_limit, state)
			SELECT 'near-' || i, 'Asso ' || i, 'c' || i || '@example.org', 100 * 1024^3, 50, 'active'
			FROM generate_series(1, 70) AS i RETURNING id, slug)
		INSERT INTO space_usage (space_id, used_bytes, collected_at, storage_level)
		SELECT id, (30 + substr(slug, 6)::int) * 1024^3, now(),
			CASE WHEN 30 + substr(slug, 6)::int >= 100 THEN 'full' WHEN 30 + substr(slug, 6)::int >= 90 THEN '90%'
				WHEN 30 + substr(slug, 6)::int >= 80 THEN '80%' ELSE 'ok' END
		FROM s`)
	if err != nil {
		t.Fatal(err)
	}
	d, err := tenants.Dashboard(ctx, pool)
	if err != nil {
		t.Fatal(err)
	}
	// Spaces 50 to 70 are at 80 % or more (80 to 100 GB of 100 GB): 21 of them, all listed.
	if d.NearLimitTotal != 21 || len(d.NearLimit) != 21 || d.NearLimit[0].Slug != "near-70" || d.NearLimit[20].Slug != "near-50" {
		t.Fatalf("near limit: %d listed of %d, first %s", len(d.NearLimit), d.NearLimitTotal, d.NearLimit[0].Slug)
	}
	if _, err := pool.Exec(ctx, `UPDATE space_usage SET storage_level = '90%'`); err != nil {
		t.Fatal(err)
	}
	d, err = tenants.Dashboard(ctx, pool)
	if err != nil {
		t.Fatal(err)
	}
	if d.NearLimitTotal != 70 || len(d.NearLimit) != tenants.NearLimitShown || d.NearLimit[0].Slug != "near-70" ||
		d.NearLimit[tenants.NearLimitShown-1].Slug != "near-21" {
		t.Fatalf("bounded: %d listed of %d, first %s, last %s", len(d.NearLimit), d.NearLimitTotal, d.NearLimit[0].Slug,
			d.NearLimit[len(d.NearLimit)-1].Slug)
	}
	for i := 1; i < len(d.NearLimit); i++ {
		if d.NearLimit[i].Usage.UsedBytes > d.NearLimit[i-1].Usage.UsedBytes {
			t.Fatalf("not most used first at %d", i)
		}
	}
}

// BenchmarkDashboard reads the dashboard of 10,000 spaces, 9,000 of them active and measured,
// 500 near their limits, with a year of daily history each (the history is not read: it must not
// slow the totals down).
func BenchmarkDashboard(b *testing.B) {
	ctx := context.Background()
	pool, _ := pgtest.New(b)
	_, err := pool.Exec(ctx, `
		WITH s AS (
			INSERT INTO spaces (slug, association_name, contact_email, storage_limit_bytes, account_limit, state)
			SELECT 'bench-' || i, 'Asso ' || i, 'c' || i || '@example.org', 40 * 1024^3, 50,
				CASE WHEN i % 10 = 0 THEN 'queued' ELSE 'active' END
			FROM generate_series(1, 10000) AS i RETURNING id, state)
		INSERT INTO space_usage (space_id, used_bytes, accounts_enabled, collected_at, storage_level)
		SELECT id, (id % 20) * 2 * 1024^3 + id, id % 51, now(), CASE WHEN id % 20 >= 16 THEN '80%' ELSE 'ok' END
		FROM s WHERE state = 'active'`)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `
		INSERT INTO space_usage_history (space_id, daily, at, used_bytes, accounts, active_users)
		SELECT u.space_id, true, date_trunc('day', now()) - d * interval '1 day', u.used_bytes, 1, 1
		FROM space_usage u, generate_series(1, 365) AS d`); err != nil {
		b.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `VACUUM ANALYZE`); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		d, err := tenants.Dashboard(ctx, pool)
		if err != nil {
			b.Fatal(err)
		}
		if d.SpacesByState[tenants.SpaceActive] != 9000 || len(d.NearLimit) != tenants.NearLimitShown {
			b.Fatalf("dashboard: %d active, %d near", d.SpacesByState[tenants.SpaceActive], len(d.NearLimit))
		}
	}
}
