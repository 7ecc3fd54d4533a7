package workers

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/assospaces/spaces/jobs"
	"github.com/assospaces/spaces/tenants/notify"
	"github.com/assospaces/spaces/tenants/notify/smtptest"
	"github.com/assospaces/spaces/tenants/secretbox"
)

func TestMailWorkerThroughRealSMTP(t *testing.T) {
	srv, err := smtptest.Start("127.0.0.1:0", smtptest.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	templates, err := notify.ParseTemplates()
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(srv.URL())
	sender, err := notify.NewSMTP(u, "Espaces <no-reply@spaces.test>")
	if err != nil {
		t.Fatal(err)
	}
	box, _ := secretbox.New(make([]byte, 32))
	w := &MailWorker{Mailer: &notify.Mailer{Templates: templates, Sender: sender}, Box: box}
	args, err := jobs.SealMail(box, jobs.SendMailArgs{To: "camille@jardin.example", Locale: "fr", Template: "application_received",
		Data: map[string]string{"AssociationName": "Les Amis du Jardin", "ContactName": "Camille", "Reference": "42",
			"Address": "https://jardin.spaces.test", "PublicURL": "https://spaces.test"}},
		map[string]string{"StatusURL": "https://spaces.test/status/st_secret"})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(args.Sealed, "st_secret") {
		t.Fatal("secret in clear")
	}
	ctx := context.Background()

	// An outage: the job fails and will be retried, nothing is lost.
	srv.SetFailing(true)
	if err := w.Work(ctx, &river.Job[jobs.SendMailArgs]{JobRow: &rivertype.JobRow{Attempt: 1, MaxAttempts: 20}, Args: args}); err == nil {
		t.Fatal("send during outage succeeded")
	}
	srv.SetFailing(false)
	if err := w.Work(ctx, &river.Job[jobs.SendMailArgs]{JobRow: &rivertype.JobRow{Attempt: 2, MaxAttempts: 20}, Args: args}); err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	m, err := srv.Wait(wctx, "camille@jardin.example")
	if err != nil {
		t.Fatal(err)
	}
	if m.Subject != "Demande reçue (n° 42)" {
		t.Errorf("subject %q", m.Subject)
	}
	// The first mail to an address nobody has proven to own echoes nothing typed in the form.
	if !strings.Contains(m.Text, "https://spaces.test/status/st_secret") || strings.Contains(m.Text, "Camille") ||
		strings.Contains(m.Text, "Jardin") || strings.Contains(m.Text, "jardin.spaces.test") {
		t.Errorf("body:\n%s", m.Text)
	}
	if m.Header.Get("Auto-Submitted") != "auto-generated" || m.Header.Get("Message-Id") == "" {
		t.Errorf("headers %v", m.Header)
	}

	// A mail that cannot be composed is cancelled, not retried forever.
	bad := jobs.SendMailArgs{To: "x@example.org", Locale: "fr", Template: "no_such_template"}
	err = w.Work(ctx, &river.Job[jobs.SendMailArgs]{JobRow: &rivertype.JobRow{}, Args: bad})
	var cancelErr *river.JobCancelError
	if err == nil || !asCancel(err, &cancelErr) {
		t.Errorf("unknown template: %v", err)
	}
}

func asCancel(err error, target **river.JobCancelError) bool {
	c, ok := err.(*river.JobCancelError)
	*target = c
	return ok
}
