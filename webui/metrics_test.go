package webui

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/riverqueue/river"

	"github.com/assospaces/spaces/jobs"
	"github.com/assospaces/spaces/jobs/workers"
	"github.com/assospaces/spaces/quota"
	"github.com/assospaces/spaces/tenants"
	"github.com/assospaces/spaces/tenants/notify"
	"github.com/assospaces/spaces/tenants/notify/smtptest"
	"github.com/assospaces/spaces/tenants/secretbox"
)

// scrape reads srv's /metrics with the bearer token (none when empty) and parses the text format.
func scrape(t *testing.T, srv *httptest.Server, token string) map[string]*dto.MetricFamily {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/metrics", nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET /metrics: %s\n%s", resp.Status, b)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain; version=0.0.4") {
		t.Errorf("Content-Type %q, want Prometheus's text format", ct)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("not Prometheus's text format: %v", err)
	}
	return families
}

// value is the value of the series of family name whose labels are exactly labels (pairs);
// found is false when there is no such series.
func value(families map[string]*dto.MetricFamily, name string, labels ...string) (v float64, found bool) {
	f := families[name]
	if f == nil {
		return 0, false
	}
	want := map[string]string{}
	for i := 0; i+1 < len(labels); i += 2 {
		want[labels[i]] = labels[i+1]
	}
next:
	for _, m := range f.GetMetric() {
		if len(m.GetLabel()) != len(want) {
			continue
		}
		for _, l := range m.GetLabel() {
			if want[l.GetName()] != l.GetValue() {
				continue next
			}
		}
		switch {
		case m.Gauge != nil:
			return m.GetGauge().GetValue(), true
		case m.Counter != nil:
			return m.GetCounter().GetValue(), true
		case m.Histogram != nil:
			return float64(m.GetHistogram().GetSampleCount()), true
		}
	}
	return 0, false
}

// TestMetricsScrapesTheDatabaseAndCountsRequests runs the real handler on a real database with
// metrics, submits applications through the form, lets River's mail worker send their receipts,
// and scrapes /metrics: the database's figures, the requests per class and status, the job
// attempts, the repairs read from the log, and the token the metrics listener asks for.
func TestMetricsScrapesTheDatabaseAndCountsRequests(t *testing.T) {
	var m *Metrics
	e := newTestEnv(t, envOptions{capacity: 7, configure: func(o *Options) {
		m = NewMetrics(o.Pool, o.Logger, o.Ceiling)
		o.Metrics = m
	}})
	ctx := context.Background()

	// River's mail worker, watched by the metrics, sends the receipts of the applications.
	mail, err := smtptest.Start("127.0.0.1:0", smtptest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mail.Close() })
	templates, err := notify.ParseTemplates()
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(mail.URL())
	sender, err := notify.NewSMTP(u, "Espaces <no-reply@spaces.test>")
	if err != nil {
		t.Fatal(err)
	}
	box, _ := secretbox.New(e.key)
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	worker, err := workers.NewClient(e.pool, workers.Deps{Logger: logger, Mailer: &notify.Mailer{Templates: templates, Sender: sender}, Box: box})
	if err != nil {
		t.Fatal(err)
	}
	wctx, stopWatching := context.WithCancel(ctx)
	defer stopWatching()
	m.WatchJobs(wctx, worker)
	if err := worker.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		worker.Stop(sctx) //nolint:errcheck
	})

	// Three applications through the form (each post first loads /status/lost for its CSRF
	// token); one of them approved, with its space queued; a space active; two mails given up.
	c := e.newClient()
	for n := 1; n <= 3; n++ {
		resp, body := e.post(c, "/apply", validForm(n))
		mustStatus(t, resp, body, http.StatusSeeOther)
	}
	resp, body := e.get(c, "/no-such-page")
	mustStatus(t, resp, body, http.StatusNotFound)
	resp, body = e.get(c, "/api/v1/spaces")
	mustStatus(t, resp, body, http.StatusUnauthorized)

	var first int64
	if err := e.pool.QueryRow(ctx, `SELECT min(id) FROM applications WHERE state = 'pending'`).Scan(&first); err != nil {
		t.Fatal(err)
	}
	if _, _, err := tenants.ApproveApplication(ctx, e.pool, first, tenants.Approval{Decider: tenants.Decider{Actor: tenants.ActorSystem},
		Limits: quota.DefaultLimits}); err != nil {
		t.Fatal(err)
	}
	active, err := tenants.CreateSpace(ctx, e.pool, tenants.NewSpace{Slug: "actif", AssociationName: "Asso active", ContactEmail: "a@actif.example",
		Limits: quota.DefaultLimits}, tenants.ActorSystem)
	if err != nil {
		t.Fatal(err)
	}
	for _, to := range []tenants.SpaceState{tenants.SpaceProvisioning, tenants.SpaceActive} {
		if _, err := tenants.TransitionSpace(ctx, e.pool, active.ID, tenants.Transition{To: to, Actor: tenants.ActorReconciler}); err != nil {
			t.Fatal(err)
		}
	}
	// The active space is at 90 % of its storage; the first pending application waited two hours.
	if err := tenants.RecordUsage(ctx, e.pool, tenants.Usage{SpaceID: active.ID, UsedBytes: 37 * quota.GB, Level: quota.LevelWarn90},
		time.Now(), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, err := e.pool.Exec(ctx, `UPDATE applications SET created_at = now() - interval '2 hours'
		WHERE id = (SELECT min(id) FROM applications WHERE state = 'pending')`); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := tenants.RecordMailDrop(ctx, e.pool, "space_ready", time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	// A mail whose template does not exist: the worker gives it up at once.
	if _, err := e.jobs.Insert(ctx, jobs.SendMailArgs{To: "x@nowhere.example", Locale: "fr", Template: "no_such_template"}, nil); err != nil {
		t.Fatal(err)
	}
	// A reconcile pass scheduled for later.
	if _, err := e.jobs.Insert(ctx, jobs.ReconcileSpacesArgs{}, &river.InsertOpts{ScheduledAt: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	// The reconciler's log records of repairs, as the provisioner writes them.
	repairLog := slog.New(m.CountRepairs(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelError})))
	repairLog.With("pass", 1).Info(logRepaired, "space", "amis", "reason", "JobStopped", "version", 3)
	repairLog.Warn(logRepairFailed, "space", "amis", "reason", "JobMissing", "err", "nomad: 500")
	repairLog.Info("space job registered", "space", "amis", "reason", "JobStopped") // not a repair record

	// The receipts are sent by the worker: three completed send_mail attempts, one cancelled.
	wait, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if _, err := mail.WaitCount(wait, 3); err != nil {
		t.Fatal(err)
	}
	metricsSrv := httptest.NewServer(m.MetricsHandler(true))
	defer metricsSrv.Close()
	var families map[string]*dto.MetricFamily
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(50 * time.Millisecond) {
		families = scrape(t, metricsSrv, "")
		sent, _ := value(families, "spaces_job_attempts_total", "kind", "send_mail", "outcome", "completed")
		given, _ := value(families, "spaces_job_attempts_total", "kind", "send_mail", "outcome", "cancelled")
		if sent == 3 && given == 1 || time.Now().After(deadline) {
			break
		}
	}

	for _, tc := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"spaces_applications", []string{"state", "pending"}, 2},
		{"spaces_applications", []string{"state", "approved"}, 1},
		{"spaces_applications", []string{"state", "rejected"}, 0},
		{"spaces_spaces", []string{"state", "queued"}, 1},
		{"spaces_spaces", []string{"state", "active"}, 1},
		{"spaces_spaces", []string{"state", "failed"}, 0},
		{"spaces_waiting_list_length", nil, 1},
		{"spaces_capacity_ceiling", nil, 7},
		{"spaces_river_jobs", []string{"queue", "reconcile", "state", "scheduled"}, 1},
		{"spaces_river_jobs", []string{"queue", "mail", "state", "completed"}, 3},
		{"spaces_mail_dropped_total", []string{"template", "space_ready"}, 2},
		{"spaces_reconcile_drifted", nil, 0},
		{"spaces_reconcile_backing_off", nil, 0},
		{"spaces_usage_stale", nil, 0},
		{"spaces_storage_level", []string{"level", "90%"}, 1},
		{"spaces_storage_level", []string{"level", "full"}, 0},
		{"spaces_river_jobs", []string{"queue", "mail", "state", "cancelled"}, 1},
		{"spaces_job_attempts_total", []string{"kind", "send_mail", "outcome", "completed"}, 3},
		{"spaces_job_attempts_total", []string{"kind", "send_mail", "outcome", "cancelled"}, 1},
		{"spaces_job_attempt_duration_seconds", []string{"kind", "send_mail"}, 4},
		{"spaces_reconcile_repairs_total", []string{"reason", "JobStopped", "outcome", "repaired"}, 1},
		{"spaces_reconcile_repairs_total", []string{"reason", "JobMissing", "outcome", "failed"}, 1},
		{"spaces_http_requests_total", []string{"class", "apply", "code", "303"}, 3},
		{"spaces_http_requests_total", []string{"class", "status", "code", "200"}, 3},
		{"spaces_http_requests_total", []string{"class", "other", "code", "404"}, 1},
		{"spaces_http_requests_total", []string{"class", "api", "code", "401"}, 1},
		{"spaces_http_request_duration_seconds", []string{"class", "apply"}, 3},
	} {
		got, found := value(families, tc.name, tc.labels...)
		if !found || got != tc.want {
			t.Errorf("%s%v = %v (found %v), want %v", tc.name, tc.labels, got, found, tc.want)
		}
	}
	if age, _ := value(families, "spaces_moderation_queue_oldest_seconds"); age < 7200 || age > 7200+600 {
		t.Errorf("oldest pending application waited %v s, want two hours", age)
	}
	// The standard collectors are there too.
	for _, name := range []string{"go_goroutines", "process_resident_memory_bytes"} {
		if families[name] == nil {
			t.Errorf("no %s series", name)
		}
	}
	// Nothing names a person, a slug or a token.
	raw := scrapeText(t, metricsSrv.URL+"/metrics", "")
	for _, secret := range []string{"jardin", "camille", "actif", "amis"} {
		if strings.Contains(raw, secret) {
			t.Errorf("the metrics name %q", secret)
		}
	}

	// Not on a loopback address, the listener asks for an API token, as the JSON API does; a
	// read-only token is enough. It serves /metrics and nothing else.
	guarded := httptest.NewServer(m.MetricsHandler(false))
	defer guarded.Close()
	for _, tc := range []struct{ token, code string }{{"", "unauthorized"}, {"spt_nope", "invalid_token"}} {
		req, _ := http.NewRequest(http.MethodGet, guarded.URL+"/metrics", nil)
		if tc.token != "" {
			req.Header.Set("Authorization", "Bearer "+tc.token)
		}
		resp, body := e.do(http.DefaultClient, req)
		var apiErr struct{ Error apiError }
		if resp.StatusCode != http.StatusUnauthorized || json.Unmarshal([]byte(body), &apiErr) != nil || apiErr.Error.Code != tc.code {
			t.Errorf("GET /metrics with token %q: %d %s, want 401 %s", tc.token, resp.StatusCode, body, tc.code)
		}
	}
	_, readToken, err := tenants.CreateAPIToken(ctx, e.pool, tenants.NewAPIToken{Name: "prometheus", Scope: tenants.ScopeRead}, tenants.ActorSystem)
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := value(scrape(t, guarded, readToken), "spaces_applications", "state", "pending"); n != 2 {
		t.Errorf("scrape with a read token: pending applications %v, want 2", n)
	}
	req, _ := http.NewRequest(http.MethodGet, guarded.URL+"/", nil)
	if resp, body := e.do(http.DefaultClient, req); resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET / on the metrics listener: %d %s, want 404", resp.StatusCode, body)
	}
}

func scrapeText(t *testing.T, u, token string) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func TestRouteClass(t *testing.T) {
	for path, want := range map[string]string{
		"/": "apply", "/apply": "apply", "/apply/sent": "apply", "/status/st_x": "status", "/status/lost": "status",
		"/moderation": "moderation", "/moderation/spaces/amis": "moderation", "/moderationx": "other",
		"/api/v1/spaces": "api", "/static/style.css": "static", "/healthz": "health", "/readyz": "health", "/favicon.ico": "other",
	} {
		if got := RouteClass(path); got != want {
			t.Errorf("RouteClass(%q) = %q, want %q", path, got, want)
		}
	}
}
