package workers_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/riverqueue/river/rivertype"

	"github.com/assospaces/spaces/jobs"
	"github.com/assospaces/spaces/jobs/workers"
	"github.com/assospaces/spaces/tenants"
)

// The purge closes an application left without an answer past SPACES_STALE_AFTER, as withdrawn
// by the system, and mails its applicant by its number alone; a pending one, however old, stays.
func TestPurgeClosesApplicationsLeftWithoutAnAnswer(t *testing.T) {
	day := 24 * time.Hour
	e := newMailEnv(t, workers.Deps{Retention: 90 * day, StaleAfter: 60 * day, PublicURL: "https://spaces.test/"})
	ctx := context.Background()
	m, err := tenants.CreateModerator(ctx, e.pool, "m@example.org", "M", "a long enough password", tenants.ActorSystem)
	if err != nil {
		t.Fatal(err)
	}
	submit := func(n, name string) tenants.Application {
		a, err := tenants.SubmitApplication(ctx, e.pool, tenants.NewApplication{AssociationName: name,
			LegalID: "W00000000" + n, Slug: "asso-" + n, ContactName: "Visit scam.example", ContactEmail: "c" + n + "@example.org",
			Purpose: "p", Activities: "a", ExpectedAccounts: 5, Locale: "en",
			StatusToken: tenants.NewSecret("st_"), SubmissionKey: tenants.NewSecret("sub_")}, nil)
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	stale := submit("1", "CHEAP PILLS at pills.example")
	waiting := submit("2", "Les Amis du Jardin")
	if _, err := tenants.AskForInformation(ctx, e.pool, stale.ID, tenants.Question{
		Decider: tenants.Decider{ModeratorID: m.ID}, Text: "Which town?"}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.pool.Exec(ctx, `UPDATE applications SET state_changed_at = now() - interval '61 days'`); err != nil {
		t.Fatal(err)
	}

	// The purge runs as the workers start, then hourly.
	res, err := e.client.Insert(ctx, jobs.PurgeApplicationsArgs{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	e.start(t)
	e.waitJobState(t, res.Job.ID, rivertype.JobStateCompleted)
	wctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	mail, err := e.srv.Wait(wctx, "c1@example.org")
	if err != nil {
		t.Fatal(err)
	}
	ref := strconv.FormatInt(stale.ID, 10)
	if !strings.Contains(mail.Subject, "no. "+ref) || !strings.Contains(mail.Text, "60 days") ||
		!strings.Contains(mail.Text, "90 days") || !strings.Contains(mail.Text, "https://spaces.test") {
		t.Errorf("mail %q:\n%s", mail.Subject, mail.Text)
	}
	if all := strings.ToLower(mail.Subject + mail.Text); strings.Contains(all, "pills") || strings.Contains(all, "scam") {
		t.Errorf("the mail echoes what the applicant typed:\n%s", mail.Text)
	}
	if a, err := tenants.GetApplication(ctx, e.pool, stale.ID); err != nil || a.State != tenants.AppWithdrawn {
		t.Errorf("stale application: %s %v", a.State, err)
	}
	if a, err := tenants.GetApplication(ctx, e.pool, waiting.ID); err != nil || a.State != tenants.AppPending {
		t.Errorf("pending application: %s %v", a.State, err)
	}
	if n := len(e.srv.Messages()); n != 1 {
		t.Errorf("%d mails sent, want 1", n)
	}
}
