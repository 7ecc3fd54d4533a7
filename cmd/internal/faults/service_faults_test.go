//go:build faults

package faults_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/assospaces/spaces/cmd/internal/devenv"
	"github.com/assospaces/spaces/jobs"
	"github.com/assospaces/spaces/quota"
	"github.com/assospaces/spaces/tenants"
	"github.com/assospaces/spaces/tenants/schema"
	"github.com/assospaces/spaces/webui"
)

func testLogger(t testing.TB) *slog.Logger {
	if v := os.Getenv("SPACES_TEST_VERBOSE"); v != "" {
		var level slog.Level
		level.UnmarshalText([]byte(v)) //nolint:errcheck
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// privateDir is a folder of the test's own that the postgres user can reach (the servers drop
// to it when the tests run as root), removed at cleanup.
func privateDir(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "spaces-faults-")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// privatePostgres starts a PostgreSQL cluster of the test's own in dir, as make test starts the
// suite's, so that the test can stop it or fill its disk without touching the other tests.
func privatePostgres(t testing.TB, dir string) *devenv.Postgres {
	t.Helper()
	port, err := devenv.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	pg := &devenv.Postgres{Dir: dir, Port: port, Fast: true}
	t.Cleanup(func() {
		if err := pg.Stop(); err != nil {
			t.Logf("stop the private postgres: %v", err)
		}
	})
	if err := pg.Start(context.Background(), testLogger(t)); err != nil {
		t.Fatalf("private postgres: %v", err)
	}
	return pg
}

// service is the web UI and API of spaces serve on a migrated database of the private cluster.
type service struct {
	t     testing.TB
	pool  *pgxpool.Pool
	srv   *httptest.Server
	token string // an operator API token
}

func newService(t testing.TB, pg *devenv.Postgres) *service {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, pg.URL("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = conn.Exec(ctx, `CREATE DATABASE spaces`)
	conn.Close(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := pgxpool.ParseConfig(pg.URL("spaces"))
	if err != nil {
		t.Fatal(err)
	}
	// A request never waits long for a connection the database cannot give.
	cfg.ConnConfig.ConnectTimeout = 5 * time.Second
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	logger := testLogger(t)
	if err := schema.Migrate(ctx, pool, logger); err != nil {
		t.Fatal(err)
	}
	jc, err := jobs.NewInsertClient(pool, logger)
	if err != nil {
		t.Fatal(err)
	}
	key := make([]byte, 32)
	rand.Read(key) //nolint:errcheck
	var h http.Handler
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.ServeHTTP(w, r) }))
	t.Cleanup(srv.Close)
	pub, _ := url.Parse(srv.URL)
	h, err = webui.New(webui.Options{Pool: pool, Jobs: jc, Logger: logger, PublicURL: pub, BaseDomain: "spaces.test",
		DefaultLimits: quota.DefaultLimits, ApplyPerHour: 1_000_000, SecretKey: key, Retention: 90 * 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	_, token, err := tenants.CreateAPIToken(ctx, pool, tenants.NewAPIToken{Name: "faults", Scope: tenants.ScopeOperator}, tenants.ActorSystem)
	if err != nil {
		t.Fatal(err)
	}
	return &service{t: t, pool: pool, srv: srv, token: token}
}

// browser is one person's browser: it keeps cookies and does not follow redirects.
type browser struct {
	s    *service
	c    *http.Client
	csrf string
}

var csrfRe = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

// newBrowser opens the application form, which needs no database, and keeps its CSRF token.
func (s *service) newBrowser() *browser {
	s.t.Helper()
	jar, _ := cookiejar.New(nil)
	b := &browser{s: s, c: &http.Client{Jar: jar, Timeout: time.Minute,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	resp, body, err := b.do(http.MethodGet, "/", nil)
	if err != nil {
		s.t.Fatal(err)
	}
	m := csrfRe.FindStringSubmatch(body)
	if resp.StatusCode != http.StatusOK || m == nil {
		s.t.Fatalf("the form: HTTP %d, no CSRF token\n%s", resp.StatusCode, body)
	}
	b.csrf = m[1]
	return b
}

func (b *browser) do(method, path string, form url.Values) (*http.Response, string, error) {
	var body io.Reader
	if form != nil {
		form.Set("csrf_token", b.csrf)
		body = strings.NewReader(form.Encode())
	}
	req, _ := http.NewRequest(method, b.s.srv.URL+path, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := b.c.Do(req)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	return resp, string(out), err
}

// submit sends an application form and returns the status and page.
func (b *browser) submit(form url.Values) (int, string, http.Header) {
	b.s.t.Helper()
	resp, body, err := b.do(http.MethodPost, "/apply", form)
	if err != nil {
		b.s.t.Errorf("POST /apply: %v", err)
		return 0, "", nil
	}
	return resp.StatusCode, body, resp.Header
}

// api calls the JSON API with the operator token and returns the status and the decoded error
// code, if any.
func (s *service) api(method, path, body string) (int, string) {
	s.t.Helper()
	req, _ := http.NewRequest(method, s.srv.URL+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+s.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	var e struct {
		Error struct{ Code, Message string }
	}
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 400 {
		if err := json.Unmarshal(raw, &e); err != nil || e.Error.Code == "" || e.Error.Message == "" {
			s.t.Errorf("%s %s: HTTP %d without a structured error: %s", method, path, resp.StatusCode, raw)
		}
	}
	return resp.StatusCode, e.Error.Code
}

// applicationForm is an application that passes every rule; n makes it unique.
func applicationForm(n int) url.Values {
	return url.Values{
		"association_name":  {fmt.Sprintf("Les Amis du Jardin %d", n)},
		"legal_id":          {fmt.Sprintf("W%09d", n)},
		"slug":              {fmt.Sprintf("jardin-%d", n)},
		"contact_name":      {"Camille Martin"},
		"contact_email":     {fmt.Sprintf("camille%d@jardin.example", n)},
		"purpose":           {"Entretenir un jardin partagé et transmettre les savoirs."},
		"activities":        {"Ateliers, chantiers collectifs, fête des semences."},
		"expected_accounts": {"12"},
		"terms":             {"on"},
		"submission_key":    {tenants.NewSecret("sub_")},
	}
}

// checkUnavailablePage checks a 503 answer to the form: the form again, with what was typed and a
// message saying to send it again, and Retry-After.
func checkUnavailablePage(t testing.TB, form url.Values, body string, header http.Header) {
	t.Helper()
	if header.Get("Retry-After") == "" || !strings.Contains(body, `role="alert"`) ||
		!strings.Contains(body, "momentanément indisponible") ||
		!strings.Contains(body, form.Get("association_name")) || !strings.Contains(body, form.Get("submission_key")) {
		if len(body) > 3000 {
			body = body[:3000]
		}
		t.Errorf("503 answer without the form as typed, its message or Retry-After (%v):\n%s", header, body)
	}
}

// checkApplications checks that the database holds each form of forms exactly once, and nothing
// else: one application each, with its one application_received mail job.
func checkApplications(t testing.TB, pool *pgxpool.Pool, forms []url.Values) {
	t.Helper()
	ctx := context.Background()
	rows, err := pool.Query(ctx, `SELECT a.legal_id, (SELECT count(*) FROM river_job j WHERE j.kind = 'send_mail'
		AND j.args->>'template' = 'application_received' AND j.args->>'to' = a.contact_email) FROM applications a`)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for rows.Next() {
		var legalID string
		var mails int
		if err := rows.Scan(&legalID, &mails); err != nil {
			t.Fatal(err)
		}
		seen[legalID]++
		if mails != 1 {
			t.Errorf("application %s has %d application_received mails, want 1", legalID, mails)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	for _, f := range forms {
		if id := f.Get("legal_id"); seen[id] != 1 {
			t.Errorf("application %s recorded %d times, want once", id, seen[id])
		}
	}
	if len(seen) != len(forms) {
		t.Errorf("%d applications in the database, want %d", len(seen), len(forms))
	}
	var orphanMails int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM river_job j WHERE j.kind = 'send_mail'
		AND NOT EXISTS (SELECT 1 FROM applications a WHERE a.contact_email = j.args->>'to')`).Scan(&orphanMails); err != nil {
		t.Fatal(err)
	}
	if orphanMails != 0 {
		t.Errorf("%d mail jobs for no application", orphanMails)
	}
}

// waitFor polls cond; the limit only guards a hung test.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
