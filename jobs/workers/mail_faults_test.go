//go:build faults

package workers_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/riverqueue/river/rivertype"

	"github.com/assospaces/spaces/jobs"
	"github.com/assospaces/spaces/jobs/workers"
	"github.com/assospaces/spaces/tenants/notify/smtptest"
)

// TestFaultSMTPDown: the mail server goes away (its port refuses connections) while mail keeps
// being enqueued. Every mail fails its attempts during the outage, River keeps it; once the
// server is back on its address every one is delivered, and none twice.
//
// The outage lasts until each mail has failed twice; in production River would wait minutes
// before the next attempts (attempt⁴ seconds), which the test stands for by asking River to retry
// now, as an operator's `retry` does: what it checks is that nothing is lost or doubled, not how
// long River waits.
func TestFaultSMTPDown(t *testing.T) {
	e := newMailEnv(t, workers.Deps{})
	e.start(t)
	ctx := context.Background()
	addr := e.srv.Addr()
	send := func(n int) int64 {
		t.Helper()
		args, err := jobs.SealMail(e.box, jobs.SendMailArgs{To: fmt.Sprintf("contact%d@asso.example", n), Locale: "fr",
			Template: "application_received", Data: map[string]string{"Reference": fmt.Sprint(n), "PublicURL": "https://spaces.test"}},
			map[string]string{"StatusURL": fmt.Sprintf("https://spaces.test/status/st_%d", n)})
		if err != nil {
			t.Fatal(err)
		}
		res, err := e.client.Insert(ctx, args, nil)
		if err != nil {
			t.Fatal(err)
		}
		return res.Job.ID
	}

	// Before: a mail goes through.
	first := send(0)
	e.waitJobState(t, first, rivertype.JobStateCompleted)

	// The server goes down; mail keeps coming.
	if err := e.srv.Close(); err != nil {
		t.Fatal(err)
	}
	const n = 12
	ids := make([]int64, 0, n)
	for i := 1; i <= n; i++ {
		ids = append(ids, send(i))
	}
	for _, id := range ids {
		waitFor(t, fmt.Sprintf("mail job %d to fail twice", id), func() bool {
			job, err := e.client.JobGet(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if job.State == rivertype.JobStateCompleted || job.State == rivertype.JobStateDiscarded {
				t.Fatalf("mail job %d %s while the server is down; errors %v", id, job.State, job.Errors)
			}
			return len(job.Errors) >= 2 && job.State == rivertype.JobStateRetryable
		})
	}

	// The server is back on the same address: River's next attempts deliver every mail.
	back, err := smtptest.Start(addr, smtptest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { back.Close() })
	for _, id := range ids {
		if _, err := e.client.JobRetry(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	for _, id := range ids {
		e.waitJobState(t, id, rivertype.JobStateCompleted)
	}
	if _, err := back.WaitCount(ctx, n); err != nil {
		t.Fatal(err)
	}
	// Nothing left to run that could send again.
	var pending int
	if err := e.pool.QueryRow(ctx, `SELECT count(*) FROM river_job WHERE kind = 'send_mail' AND state <> 'completed'`).Scan(&pending); err != nil {
		t.Fatal(err)
	}
	if pending != 0 {
		t.Errorf("%d mail jobs not completed", pending)
	}
	got := map[string]int{}
	for _, m := range append(e.srv.Messages(), back.Messages()...) {
		for _, to := range m.To {
			got[to]++
		}
	}
	for i := 0; i <= n; i++ {
		if to := fmt.Sprintf("contact%d@asso.example", i); got[to] != 1 {
			t.Errorf("%s got %d mails, want 1", to, got[to])
		}
	}
	if len(got) != n+1 {
		t.Errorf("mail went to %d addresses, want %d: %v", len(got), n+1, got)
	}
}
