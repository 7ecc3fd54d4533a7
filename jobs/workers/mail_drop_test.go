package workers_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/assospaces/spaces/jobs"
	"github.com/assospaces/spaces/jobs/workers"
	"github.com/assospaces/spaces/tenants"
	"github.com/assospaces/spaces/tenants/notify"
	"github.com/assospaces/spaces/tenants/notify/smtptest"
	"github.com/assospaces/spaces/tenants/pgtest"
	"github.com/assospaces/spaces/tenants/secretbox"
)

// logBuffer is a log destination the River workers may write to concurrently.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// mailEnv is a River client with every worker on a fresh database, whose mail goes to a real SMTP
// listener.
type mailEnv struct {
	pool   *pgxpool.Pool
	client *jobs.Client
	srv    *smtptest.Server
	box    *secretbox.Box
	logs   *logBuffer
}

func newMailEnv(t *testing.T, deps workers.Deps) *mailEnv {
	t.Helper()
	pool, _ := pgtest.New(t)
	srv, err := smtptest.Start("127.0.0.1:0", smtptest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
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
	logs := &logBuffer{}
	deps.Logger = slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	deps.Pool, deps.Mailer, deps.Box = pool, &notify.Mailer{Templates: templates, Sender: sender}, box
	client, err := workers.NewClient(pool, deps)
	if err != nil {
		t.Fatal(err)
	}
	return &mailEnv{pool: pool, client: client, srv: srv, box: box, logs: logs}
}

// start starts the client's workers (and periodic jobs), stopped at cleanup.
func (e *mailEnv) start(t *testing.T) {
	t.Helper()
	if err := e.client.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		e.client.Stop(ctx) //nolint:errcheck
	})
}

// waitJobState waits for job id to reach state, or fails the test after a minute.
func (e *mailEnv) waitJobState(t *testing.T, id int64, state rivertype.JobState) *rivertype.JobRow {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for {
		job, err := e.client.JobGet(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if job.State == state {
			return job
		}
		select {
		case <-ctx.Done():
			t.Fatalf("job %d is %s, not %s; errors %v", id, job.State, state, job.Errors)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// A mail the server always refuses is retried, then given up after its last attempt: River
// discards it, the log has an error line naming the template and the masked recipient (never the
// sealed status link), and the drop is counted once for the dashboard.
func TestMailGivenUpIsLoggedAndCounted(t *testing.T) {
	e := newMailEnv(t, workers.Deps{})
	e.srv.SetFailing(true)
	e.start(t)
	ctx := context.Background()
	args, err := jobs.SealMail(e.box, jobs.SendMailArgs{To: "camille@jardin.example", Locale: "fr",
		Template: "application_received", Data: map[string]string{"Reference": "42", "PublicURL": "https://spaces.test"}},
		map[string]string{"StatusURL": "https://spaces.test/status/st_secret"})
	if err != nil {
		t.Fatal(err)
	}
	res, err := e.client.Insert(ctx, args, &river.InsertOpts{MaxAttempts: 2})
	if err != nil {
		t.Fatal(err)
	}
	job := e.waitJobState(t, res.Job.ID, rivertype.JobStateDiscarded)
	if job.Attempt != 2 || job.Queue != jobs.QueueMail {
		t.Errorf("discarded after %d attempts on queue %s", job.Attempt, job.Queue)
	}
	drops, err := tenants.MailDropsSince(ctx, e.pool, time.Now().Add(-24*time.Hour))
	if err != nil || len(drops) != 1 || drops["application_received"] != 1 {
		t.Fatalf("drops counted %v (%v); want one application_received", drops, err)
	}
	d, err := tenants.Dashboard(ctx, e.pool)
	if err != nil || d.MailDropped != 1 {
		t.Errorf("dashboard shows %d dropped mails (%v)", d.MailDropped, err)
	}
	logs := e.logs.String()
	var line string
	for _, l := range strings.Split(logs, "\n") {
		if strings.Contains(l, "mail given up") {
			if line != "" {
				t.Errorf("more than one drop logged:\n%s", logs)
			}
			line = l
		}
	}
	if !strings.Contains(line, `"level":"ERROR"`) || !strings.Contains(line, `"template":"application_received"`) ||
		!strings.Contains(line, "c•••@jardin.example") || !strings.Contains(line, "451") {
		t.Errorf("drop log line: %q", line)
	}
	if strings.Contains(logs, "camille@") || strings.Contains(logs, "st_secret") || strings.Contains(logs, args.Sealed) {
		t.Errorf("the log has the recipient or the sealed data:\n%s", logs)
	}
	if n := len(e.srv.Messages()); n != 0 {
		t.Errorf("%d mails delivered", n)
	}
}
