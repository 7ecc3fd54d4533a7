package tenants

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/assospaces/spaces/tenants/pgtest"
)

// An application left needs_info past the limit is closed as withdrawn by the system, with its
// audit entry and the caller's mail in the same transaction, and then purged after the retention;
// one answered, one asked recently and a pending one (however old) stay; the pending one is
// counted as overdue.
func TestExpireStaleApplicationsThenPurge(t *testing.T) {
	pool, _ := pgtest.New(t)
	ctx := context.Background()
	m, err := CreateModerator(ctx, pool, "m@example.org", "M", "a long enough password", ActorSystem)
	if err != nil {
		t.Fatal(err)
	}
	submit := func(n string) Application {
		a, err := SubmitApplication(ctx, pool, newApp(n), nil)
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	ask := func(a Application) {
		if _, err := AskForInformation(ctx, pool, a.ID, Question{Decider: Decider{ModeratorID: m.ID}, Text: "Which town?"}); err != nil {
			t.Fatal(err)
		}
	}
	age := func(a Application, days int) {
		if _, err := pool.Exec(ctx, `UPDATE applications SET state_changed_at = now() - make_interval(days => $2) WHERE id = $1`,
			a.ID, days); err != nil {
			t.Fatal(err)
		}
	}
	stale, recent, answered, waiting := submit("1"), submit("2"), submit("3"), submit("4")
	for _, a := range []Application{stale, recent, answered} {
		ask(a)
	}
	age(stale, 100)
	age(recent, 10)
	age(answered, 100)
	if _, err := ReplyToApplication(ctx, pool, answered.ID, "Lyon", nil); err != nil {
		t.Fatal(err)
	}
	age(waiting, 200)

	// The clock: now, with applications left 90 days without an answer closed.
	now := time.Now()
	staleAfter := 90 * 24 * time.Hour
	var mailed []int64
	then := func(ctx context.Context, tx pgx.Tx, a Application) error {
		if a.State != AppWithdrawn {
			t.Errorf("then called with application %d %s", a.ID, a.State)
		}
		mailed = append(mailed, a.ID)
		return nil
	}
	n, err := ExpireStaleApplications(ctx, pool, now.Add(-staleAfter), then)
	if err != nil || n != 1 || len(mailed) != 1 || mailed[0] != stale.ID {
		t.Fatalf("closed %d (mailed %v): %v", n, mailed, err)
	}
	want := map[int64]ApplicationState{stale.ID: AppWithdrawn, recent.ID: AppNeedsInfo, answered.ID: AppPending, waiting.ID: AppPending}
	for id, state := range want {
		a, err := GetApplication(ctx, pool, id)
		if err != nil || a.State != state {
			t.Errorf("application %d: %s, want %s (%v)", id, a.State, state, err)
		}
	}
	trail, err := AuditTrail(ctx, pool, "application", stale.ID)
	if err != nil {
		t.Fatal(err)
	}
	last := trail[len(trail)-1]
	if last.Actor != ActorSystem || last.Action != "application.withdraw" || last.Detail["reason"] != "no_answer" ||
		last.FromState != "needs_info" || last.ToState != "withdrawn" {
		t.Errorf("audit entry %+v", last)
	}
	// Again: nothing more to close.
	if n, err := ExpireStaleApplications(ctx, pool, now.Add(-staleAfter), then); err != nil || n != 0 {
		t.Errorf("second pass closed %d: %v", n, err)
	}
	// A mail that fails to be queued leaves the application as it was.
	age(recent, 100)
	if _, err := ExpireStaleApplications(ctx, pool, now.Add(-staleAfter), func(context.Context, pgx.Tx, Application) error {
		return errors.New("queue down")
	}); err == nil {
		t.Error("a failed mail did not fail the expiry")
	}
	if a, _ := GetApplication(ctx, pool, recent.ID); a.State != AppNeedsInfo {
		t.Errorf("application closed without its mail: %s", a.State)
	}

	// Within the retention the closed application stays; after it, it is purged.
	retention := 90 * 24 * time.Hour
	if n, err := PurgeApplications(ctx, pool, now.Add(-retention)); err != nil || n != 0 {
		t.Fatalf("purged %d before the retention: %v", n, err)
	}
	later := now.Add(retention + 24*time.Hour)
	if n, err := PurgeApplications(ctx, pool, later.Add(-retention)); err != nil || n != 1 {
		t.Fatalf("purged %d after the retention: %v", n, err)
	}
	if _, err := GetApplication(ctx, pool, stale.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("closed application not purged: %v", err)
	}
	if a, err := GetApplication(ctx, pool, waiting.ID); err != nil || a.State != AppPending {
		t.Errorf("a pending application was dropped: %+v %v", a, err)
	}

	// The dashboard counts the pending one as overdue, and the mail given up lately.
	for _, at := range []time.Time{now, now, now.Add(-40 * 24 * time.Hour)} {
		if err := RecordMailDrop(ctx, pool, "application_received", at); err != nil {
			t.Fatal(err)
		}
	}
	d, err := Dashboard(ctx, pool)
	if err != nil {
		t.Fatal(err)
	}
	if d.PendingOverdue != 1 || d.MailDropped != 2 {
		t.Errorf("dashboard: %d overdue, %d mails dropped; want 1 and 2", d.PendingOverdue, d.MailDropped)
	}
	drops, err := MailDropsSince(ctx, pool, now.Add(-50*24*time.Hour))
	if err != nil || drops["application_received"] != 3 {
		t.Errorf("drops %v: %v", drops, err)
	}
}
