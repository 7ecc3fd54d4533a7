package webui

import (
	"context"
	"crypto/rand"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/assospaces/spaces/jobs"
	"github.com/assospaces/spaces/jobs/workers"
	"github.com/assospaces/spaces/quota"
	"github.com/assospaces/spaces/tenants"
	"github.com/assospaces/spaces/tenants/notify"
	"github.com/assospaces/spaces/tenants/notify/smtptest"
	"github.com/assospaces/spaces/tenants/pgtest"
	"github.com/assospaces/spaces/tenants/secretbox"
)

// testEnv is a real server on a real database: httptest in front of the full handler.
type testEnv struct {
	t      testing.TB
	pool   *pgxpool.Pool
	srv    *httptest.Server
	jobs   *jobs.Client
	key    []byte
	client *http.Client
	// opts are the handler's options, to build another replica on the same database.
	opts Options
}

type envOptions struct {
	applyPerHour int
	// capacity is the ceiling of spaces provisioning or running at once (0: none).
	capacity int
	// mail, when set, runs River's mail worker against this SMTP server.
	mail *smtptest.Server
	// workerPool gives the mail workers the database, which the lost-link worker needs (with mail).
	workerPool bool
	// configure, when set, changes the handler's options (test seams) before it is built.
	configure func(*Options)
}

func newTestEnv(t testing.TB, o envOptions) *testEnv {
	t.Helper()
	pool, _ := pgtest.New(t)
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		logger = slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	key := make([]byte, secretbox.KeySize)
	rand.Read(key) //nolint:errcheck
	box, _ := secretbox.New(key)
	deps := workers.Deps{Logger: logger}
	work := false
	if o.mail != nil {
		templates, err := notify.ParseTemplates()
		if err != nil {
			t.Fatal(err)
		}
		u, _ := url.Parse(o.mail.URL())
		sender, err := notify.NewSMTP(u, "Espaces <no-reply@spaces.test>")
		if err != nil {
			t.Fatal(err)
		}
		deps.Mailer, deps.Box, work = &notify.Mailer{Templates: templates, Sender: sender}, box, true
	}
	var handler atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		handler.Load().(http.Handler).ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	pub, _ := url.Parse(srv.URL)
	if o.workerPool {
		deps.Pool, deps.PublicURL = pool, srv.URL
	}
	// The handler inserts through a client without workers, as a worker-less client does not
	// check that every job kind has a worker here (provisioning's is not part of these tests).
	jc, err := jobs.NewInsertClient(pool, logger)
	if err != nil {
		t.Fatal(err)
	}
	if work {
		jc, err := workers.NewClient(pool, deps)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		if err := jc.Start(ctx); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			cancel()
			stopCtx, c2 := context.WithTimeout(context.Background(), 5*time.Second)
			defer c2()
			jc.Stop(stopCtx) //nolint:errcheck
		})
	}
	e := &testEnv{t: t, pool: pool, jobs: jc, key: key, srv: srv}
	if o.applyPerHour == 0 {
		o.applyPerHour = 1000
	}
	e.opts = Options{Pool: pool, Jobs: jc, Logger: logger, PublicURL: pub, BaseDomain: "spaces.test",
		DefaultLimits: quota.DefaultLimits, Ceiling: func(context.Context) (int, error) { return o.capacity, nil }, ApplyPerHour: o.applyPerHour, SecretKey: key, Retention: 90 * 24 * time.Hour}
	if o.configure != nil {
		o.configure(&e.opts)
	}
	h, err := New(e.opts)
	if err != nil {
		t.Fatal(err)
	}
	handler.Store(h)
	e.client = e.newClient()
	return e
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// newClient is a browser: it keeps cookies and does not follow redirects, so tests see them.
func (e *testEnv) newClient() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}
}

var csrfRe = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)
var submissionRe = regexp.MustCompile(`name="submission_key" value="([^"]+)"`)

func (e *testEnv) do(c *http.Client, req *http.Request) (*http.Response, string) {
	e.t.Helper()
	resp, err := c.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func (e *testEnv) get(c *http.Client, path string) (*http.Response, string) {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, e.srv.URL+path, nil)
	return e.do(c, req)
}

// csrf fetches a page to get the client's CSRF token.
func (e *testEnv) csrf(c *http.Client) string {
	e.t.Helper()
	_, body := e.get(c, "/status/lost")
	m := csrfRe.FindStringSubmatch(body)
	if m == nil {
		e.t.Fatal("no CSRF token in page")
	}
	return m[1]
}

// post sends a form with the client's CSRF token (unless the form has one).
func (e *testEnv) post(c *http.Client, path string, form url.Values) (*http.Response, string) {
	e.t.Helper()
	if _, ok := form["csrf_token"]; !ok {
		form.Set("csrf_token", e.csrf(c))
	}
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return e.do(c, req)
}

// validForm is an application that passes every rule; n makes identifiers unique.
func validForm(n int) url.Values {
	return url.Values{
		"association_name":  {"Les Amis du Jardin " + itoa(n)},
		"legal_id":          {rna(n)},
		"slug":              {"jardin-" + itoa(n)},
		"contact_name":      {"Camille Martin"},
		"contact_email":     {"camille" + itoa(n) + "@jardin.example"},
		"purpose":           {"Entretenir un jardin partagé et transmettre les savoirs."},
		"activities":        {"Ateliers, chantiers collectifs, fête des semences."},
		"expected_accounts": {"12"},
		"terms":             {"on"},
		"submission_key":    {tenants.NewSecret("sub_")},
	}
}

// statusPath is the status page of the application form made (the link its mail carries),
// derived from its submission key as the server does.
func (e *testEnv) statusPath(form url.Values) string {
	h := &handler{statusKey: deriveKey(e.key, "spaces/webui/status-token")}
	return "/status/" + h.statusToken(form.Get("submission_key"))
}

func itoa(n int) string { return strconv.Itoa(n) }

// rna makes a distinct valid RNA number from n.
func rna(n int) string {
	s := "000000000" + itoa(n)
	return "W" + s[len(s)-9:]
}

// mustStatus fails the test unless resp has the status.
func mustStatus(t testing.TB, resp *http.Response, body string, want int) {
	t.Helper()
	if resp.StatusCode != want {
		if len(body) > 3000 {
			body = body[:3000]
		}
		t.Fatalf("%s %s: status %d, want %d\n%s", resp.Request.Method, resp.Request.URL.Path, resp.StatusCode, want, body)
	}
}

// addModerator creates a moderator and returns a client logged in as them.
func (e *testEnv) addModerator(email, name string) (*http.Client, tenants.Moderator) {
	e.t.Helper()
	m, err := tenants.CreateModerator(context.Background(), e.pool, email, name, "correct horse battery staple", tenants.ActorSystem)
	if err != nil {
		e.t.Fatal(err)
	}
	c := e.newClient()
	resp, body := e.post(c, "/moderation/login", url.Values{"email": {email}, "password": {"correct horse battery staple"}})
	mustStatus(e.t, resp, body, http.StatusSeeOther)
	return c, m
}
