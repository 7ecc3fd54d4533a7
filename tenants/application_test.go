package tenants

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/assospaces/spaces/quota"
	"github.com/assospaces/spaces/tenants/pgtest"
)

func newApp(n string) NewApplication {
	return NewApplication{AssociationName: "Asso " + n, LegalID: "W00000000" + n, Slug: "asso-" + n, ContactName: "C",
		ContactEmail: "c" + n + "@example.org", Purpose: "p", Activities: "a", ExpectedAccounts: 5,
		StatusToken: NewSecret("st_"), SubmissionKey: NewSecret("sub_")}
}

// Many moderators approving one application at once make exactly one space.
func TestApproveConcurrently(t *testing.T) {
	pool, _ := pgtest.New(t)
	ctx := context.Background()
	var mods []Moderator
	for i := range 8 {
		m, err := CreateModerator(ctx, pool, "m"+string(rune('a'+i))+"@example.org", "M", "a long enough password", ActorSystem)
		if err != nil {
			t.Fatal(err)
		}
		mods = append(mods, m)
	}
	a, err := SubmitApplication(ctx, pool, newApp("1"), nil)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins, decided := 0, 0
	start := make(chan struct{})
	for _, m := range mods {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			_, _, err := ApproveApplication(ctx, pool, a.ID, Approval{Decider: Decider{ModeratorID: m.ID}, Limits: quota.DefaultLimits})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				wins++
			case errors.Is(err, ErrInvalidApplicationTransition):
				decided++
			default:
				t.Error(err)
			}
		}()
	}
	close(start)
	wg.Wait()
	var spaces, audits int
	pool.QueryRow(ctx, `SELECT count(*) FROM spaces`).Scan(&spaces)                                         //nolint:errcheck
	pool.QueryRow(ctx, `SELECT count(*) FROM audit_log WHERE action = 'application.approve'`).Scan(&audits) //nolint:errcheck
	if wins != 1 || decided != len(mods)-1 || spaces != 1 || audits != 1 {
		t.Fatalf("wins=%d decided=%d spaces=%d approve audits=%d", wins, decided, spaces, audits)
	}
}

func TestClaimExpires(t *testing.T) {
	pool, _ := pgtest.New(t)
	ctx := context.Background()
	m1, _ := CreateModerator(ctx, pool, "a@example.org", "A", "a long enough password", ActorSystem)
	m2, _ := CreateModerator(ctx, pool, "b@example.org", "B", "a long enough password", ActorSystem)
	a, _ := SubmitApplication(ctx, pool, newApp("2"), nil)
	if _, err := ClaimApplication(ctx, pool, a.ID, m1.ID); err != nil {
		t.Fatal(err)
	}
	var ce *ClaimedError
	if _, err := ClaimApplication(ctx, pool, a.ID, m2.ID); !errors.As(err, &ce) || ce.By != "A" {
		t.Fatalf("second claim: %v", err)
	}
	pool.Exec(ctx, `UPDATE applications SET claim_expires_at = now() - interval '1 second'`) //nolint:errcheck
	if _, err := ClaimApplication(ctx, pool, a.ID, m2.ID); err != nil {
		t.Fatalf("claim after expiry: %v", err)
	}
}

func TestPurgeLeavesCountsOnly(t *testing.T) {
	pool, _ := pgtest.New(t)
	ctx := context.Background()
	m, _ := CreateModerator(ctx, pool, "a@example.org", "A", "a long enough password", ActorSystem)
	old, _ := SubmitApplication(ctx, pool, newApp("3"), nil)
	recent, _ := SubmitApplication(ctx, pool, newApp("4"), nil)
	open, _ := SubmitApplication(ctx, pool, newApp("5"), nil)
	approved, _ := SubmitApplication(ctx, pool, newApp("6"), nil)
	if _, err := WithdrawApplication(ctx, pool, old.ID, nil); err != nil {
		t.Fatal(err)
	}
	reasons, _ := ListRejectionReasons(ctx, pool, false)
	if _, err := RejectApplication(ctx, pool, recent.ID, Rejection{Decider: Decider{ModeratorID: m.ID}, ReasonID: reasons[0].ID}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := ApproveApplication(ctx, pool, approved.ID, Approval{Decider: Decider{ModeratorID: m.ID}, Limits: quota.DefaultLimits}); err != nil {
		t.Fatal(err)
	}
	// The withdrawn one is 100 days old.
	pool.Exec(ctx, `UPDATE applications SET state_changed_at = now() - interval '100 days' WHERE id = $1`, old.ID) //nolint:errcheck
	n, err := PurgeApplications(ctx, pool, time.Now().Add(-90*24*time.Hour))
	if err != nil || n != 1 {
		t.Fatalf("purged %d, %v", n, err)
	}
	if _, err := GetApplication(ctx, pool, old.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("old withdrawn application still there: %v", err)
	}
	for _, id := range []int64{recent.ID, open.ID, approved.ID} {
		if _, err := GetApplication(ctx, pool, id); err != nil {
			t.Errorf("application %d purged too early: %v", id, err)
		}
	}
	counts, _ := PurgeCounts(ctx, pool)
	if len(counts) != 1 || counts[0].Outcome != AppWithdrawn || counts[0].Count != 1 {
		t.Errorf("counts %+v", counts)
	}
	var leaks int
	pool.QueryRow(ctx, `SELECT count(*) FROM audit_log WHERE subject_type = 'application' AND subject_id = $1 AND detail <> '{}'`, old.ID).Scan(&leaks) //nolint:errcheck
	if leaks != 0 {
		t.Errorf("audit details of the purged application kept")
	}
	// Running again deletes nothing more.
	if n, _ := PurgeApplications(ctx, pool, time.Now().Add(-90*24*time.Hour)); n != 0 {
		t.Errorf("second purge deleted %d", n)
	}
}

func TestListApplicationsKeyset(t *testing.T) {
	pool, _ := pgtest.New(t)
	ctx := context.Background()
	for i := range 7 {
		if _, err := SubmitApplication(ctx, pool, newApp(string(rune('0'+i))), nil); err != nil {
			t.Fatal(err)
		}
	}
	var seen []int64
	f := QueueFilter{State: AppPending, Limit: 3}
	for {
		page, err := ListApplications(ctx, pool, f)
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range page.Items {
			seen = append(seen, a.ID)
		}
		if page.Next == 0 {
			break
		}
		f.After = page.Next
	}
	if len(seen) != 7 {
		t.Fatalf("saw %d", len(seen))
	}
	for i := 1; i < len(seen); i++ {
		if seen[i] <= seen[i-1] {
			t.Fatalf("not oldest first: %v", seen)
		}
	}
}
