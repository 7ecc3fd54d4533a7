package workers_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/assospaces/spaces/jobs"
	"github.com/assospaces/spaces/jobs/workers"
	"github.com/assospaces/spaces/tenants"
)

// partnerAPI is a partner host's JSON API as the forward worker meets it: it answers each request
// with the next status of its script (the last one repeats) and keeps what it received.
type partnerAPI struct {
	srv    *httptest.Server
	mu     sync.Mutex
	script []int
	got    []*http.Request
	bodies []map[string]any
}

func newPartnerAPI(t *testing.T, script ...int) *partnerAPI {
	p := &partnerAPI{script: script}
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body map[string]any
		raw, _ := io.ReadAll(r.Body)
		_ = json.Unmarshal(raw, &body)
		p.mu.Lock()
		status := p.script[min(len(p.got), len(p.script)-1)]
		p.got, p.bodies = append(p.got, r), append(p.bodies, body)
		p.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		if status == http.StatusAccepted {
			io.WriteString(w, `{"status":"received"}`) //nolint:errcheck
			return
		}
		io.WriteString(w, `{"error":{"code":"some_code","message":"the partner says no"}}`) //nolint:errcheck
	}))
	t.Cleanup(p.srv.Close)
	return p
}

func (p *partnerAPI) requests() ([]*http.Request, []map[string]any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]*http.Request(nil), p.got...), append([]map[string]any(nil), p.bodies...)
}

// queueForward records a partner forwarding to api and a forward to it, with its job allowed
// maxAttempts attempts.
func queueForward(t *testing.T, e *mailEnv, name string, api *partnerAPI, email string, maxAttempts int) (tenants.Forward, int64) {
	t.Helper()
	ctx := context.Background()
	p, err := tenants.AddPartner(ctx, e.pool, tenants.Partner{Name: name, URL: "https://" + strings.ToLower(name) + ".example/apply",
		OfferFR: "x", Open: true}, tenants.ActorSystem)
	if err != nil {
		t.Fatal(err)
	}
	addr, token := api.srv.URL, "spt_token_of_"+strings.ToLower(name)
	if _, err := tenants.SetPartnerForwarding(ctx, e.pool, e.box, p.ID, tenants.ForwardingChange{URL: &addr, Token: &token}, tenants.ActorSystem); err != nil {
		t.Fatal(err)
	}
	var jobID int64
	f, err := tenants.QueueForward(ctx, e.pool, tenants.NewForward{PartnerID: p.ID, FormKey: tenants.NewSecret("sub_"),
		Payload: tenants.ForwardPayload{AssociationName: "Les Amis", LegalID: "W751234567", Slug: "amis", ContactName: "Sacha",
			ContactEmail: email, Purpose: "p", Activities: "a", ExpectedAccounts: 3, Locale: "en"}},
		func(ctx context.Context, tx pgx.Tx, f tenants.Forward) error {
			res, err := e.client.InsertTx(ctx, tx, jobs.ForwardApplicationArgs{ForwardID: f.ID}, &river.InsertOpts{MaxAttempts: maxAttempts})
			if err == nil {
				jobID = res.Job.ID
			}
			return err
		})
	if err != nil {
		t.Fatal(err)
	}
	return f, jobID
}

// The worker retries a partner answering 500, with the same key, and records the delivery; a
// partner never reached is failed after the last attempt, and one refusing our token at once,
// each time with the payload cleared and the applicant mailed where to apply.
func TestForwardWorkerRetriesThenDeliversOrFails(t *testing.T) {
	e := newMailEnv(t, workers.Deps{PublicURL: "https://spaces.test/"})
	ctx := context.Background()
	flaky := newPartnerAPI(t, http.StatusInternalServerError, http.StatusAccepted)
	down := newPartnerAPI(t, http.StatusBadGateway)
	strict := newPartnerAPI(t, http.StatusUnauthorized)
	delivered, job1 := queueForward(t, e, "Flaky", flaky, "a@amis.example", 3)
	failed, job2 := queueForward(t, e, "Down", down, "b@amis.example", 1)
	refused, job3 := queueForward(t, e, "Strict", strict, "c@amis.example", 10)
	e.start(t)
	e.waitJobState(t, job1, rivertype.JobStateCompleted)
	e.waitJobState(t, job2, rivertype.JobStateCompleted)
	e.waitJobState(t, job3, rivertype.JobStateCompleted)

	got, err := tenants.GetForward(ctx, e.pool, delivered.ID)
	if err != nil || got.State != tenants.ForwardDelivered || got.Payload != nil {
		t.Errorf("flaky partner: %+v %v", got, err)
	}
	reqs, bodies := flaky.requests()
	if len(reqs) != 2 {
		t.Fatalf("flaky partner got %d requests, want 2", len(reqs))
	}
	for i, r := range reqs {
		if r.URL.Path != "/api/v1/applications" || r.Header.Get("Authorization") != "Bearer spt_token_of_flaky" || r.Method != http.MethodPost {
			t.Errorf("request %d: %s %s %q", i, r.Method, r.URL.Path, r.Header.Get("Authorization"))
		}
	}
	key, _ := bodies[0]["submission_key"].(string)
	if !strings.HasPrefix(key, "fwd_") || bodies[1]["submission_key"] != key || bodies[0]["contact_email"] != "a@amis.example" ||
		bodies[0]["expected_accounts"] != 3.0 || bodies[0]["locale"] != "en" {
		t.Errorf("bodies: %v", bodies)
	}

	for _, tc := range []struct {
		f      tenants.Forward
		api    *partnerAPI
		email  string
		answer string
		tries  int
	}{{failed, down, "b@amis.example", "not reached after 1 attempts", 1}, {refused, strict, "c@amis.example", "401 some_code: the partner says no", 1}} {
		got, err := tenants.GetForward(ctx, e.pool, tc.f.ID)
		if err != nil || got.State != tenants.ForwardFailed || got.Payload != nil || !strings.Contains(got.Answer, tc.answer) {
			t.Errorf("%s: %+v %v, want failed with %q", tc.f.PartnerName, got, err, tc.answer)
		}
		if reqs, _ := tc.api.requests(); len(reqs) != tc.tries {
			t.Errorf("%s: %d requests, want %d", tc.f.PartnerName, len(reqs), tc.tries)
		}
		wctx, cancel := context.WithTimeout(ctx, time.Minute)
		m, err := e.srv.Wait(wctx, tc.email)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		site := "https://" + strings.ToLower(tc.f.PartnerName) + ".example/apply"
		if !strings.Contains(m.Subject, "could not be sent to "+tc.f.PartnerName) || !strings.Contains(m.Text, site) ||
			strings.Contains(m.Text, "Les Amis") || strings.Contains(m.Text, "spt_") {
			t.Errorf("%s: mail %q\n%s", tc.f.PartnerName, m.Subject, m.Text)
		}
	}
	for _, m := range e.srv.Messages() {
		if m.To[0] == "a@amis.example" {
			t.Errorf("the applicant of a delivered forward was mailed: %q", m.Subject)
		}
	}
	if strings.Contains(e.logs.String(), "spt_token_of") {
		t.Error("a token is in the logs")
	}
}
