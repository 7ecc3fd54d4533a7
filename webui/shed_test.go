package webui

import (
	"context"
	"html"
	"io"
	"maps"
	"net/http"
	"net/url"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/assospaces/spaces/tenants"
)

// holdHeader marks the requests shedHolder keeps in their class until released.
const holdHeader = "X-Test-Hold"

// shedHolder keeps marked requests in flight: with a class of one, the next request of that class
// finds no room.
type shedHolder struct {
	held    chan struct{}
	release chan struct{}
}

func newShedHolder() *shedHolder {
	return &shedHolder{held: make(chan struct{}, 4), release: make(chan struct{})}
}

func (s *shedHolder) seam(o *Options) {
	o.shedAdmitted = func(r *http.Request) {
		if r.Header.Get(holdHeader) != "" {
			s.held <- struct{}{}
			<-s.release
		}
	}
}

// hold sends a marked GET of path and returns once it holds its class's room; the returned
// function releases it and gives its status.
func (s *shedHolder) hold(t *testing.T, e *testEnv, path string) func() int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, e.srv.URL+path, nil)
	req.Header.Set(holdHeader, "1")
	done := make(chan int, 1)
	go func() {
		resp, err := e.newClient().Do(req)
		if err != nil {
			t.Error(err)
			done <- 0
			return
		}
		io.Copy(io.Discard, resp.Body) //nolint:errcheck
		resp.Body.Close()
		done <- resp.StatusCode
	}()
	<-s.held
	return func() int {
		close(s.release)
		return <-done
	}
}

var hiddenRe = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`)

// hiddenFields are the hidden inputs of a page, as its form would send them.
func hiddenFields(body string) url.Values {
	v := url.Values{}
	for _, m := range hiddenRe.FindAllStringSubmatch(body, -1) {
		v.Add(m[1], html.UnescapeString(m[2]))
	}
	return v
}

// send posts form to base+path as client c, with extra headers (name, value pairs).
func (e *testEnv) send(c *http.Client, base, path string, form url.Values, headers ...string) (*http.Response, string) {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, base+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return e.do(c, req)
}

// mustBusyPage fails unless resp is a 503 with Retry-After whose page has the lang text of key.
func mustBusyPage(t *testing.T, resp *http.Response, body, lang, key string) {
	t.Helper()
	mustStatus(t, resp, body, http.StatusServiceUnavailable)
	if resp.Header.Get("Retry-After") == "" {
		t.Errorf("%s %s: 503 without Retry-After", resp.Request.Method, resp.Request.URL.Path)
	}
	if want := html.EscapeString(translate(lang, key)); !strings.Contains(body, want) {
		t.Errorf("%s %s: the page lacks %q in %s", resp.Request.Method, resp.Request.URL.Path, want, lang)
	}
}

func TestShedPublicPagesWhenFull(t *testing.T) {
	holder := newShedHolder()
	e := newTestEnv(t, envOptions{configure: func(o *Options) {
		o.PublicInFlight, o.BusyWait = 1, time.Millisecond
		holder.seam(o)
	}})
	// Clients get their CSRF token, and a moderator logs in, before the public class is full.
	fr, en := e.newClient(), e.newClient()
	frToken, enToken := e.csrf(fr), e.csrf(en)
	u, _ := url.Parse(e.srv.URL)
	en.Jar.SetCookies(u, []*http.Cookie{{Name: "lang", Value: "en"}})
	mc, _ := e.addModerator("shed@example.org", "Shed")
	_, secret := e.apiTokenFor("shed", tenants.ScopeRead)

	type resend struct {
		c    *http.Client
		form url.Values
	}
	var resent []resend
	release := holder.hold(t, e, "/")
	for _, tc := range []struct {
		lang   string
		c      *http.Client
		token  string
		form   url.Values
		notice string
	}{
		{"fr", fr, frToken, validForm(1), "busy.apply"},
		{"en", en, enToken, validForm(2), "busy.apply"},
	} {
		tc.form.Set("csrf_token", tc.token)
		tc.form.Set("purpose", "Un jardin <partagé> & \"ouvert\"\nà tous.")
		resp, body := e.send(tc.c, e.srv.URL, "/apply", tc.form)
		mustBusyPage(t, resp, body, tc.lang, tc.notice)
		// The page keeps the form as typed, with the same submission key and a valid token.
		if kept := hiddenFields(body); !maps.EqualFunc(kept, tc.form, slices.Equal) {
			t.Errorf("%s: the busy page keeps %v, want %v", tc.lang, kept, tc.form)
		}
		resent = append(resent, resend{tc.c, hiddenFields(body)})
		// Other public pages: come back later; a form there: nothing was recorded.
		resp, body = e.get(tc.c, "/status/lost")
		mustBusyPage(t, resp, body, tc.lang, "busy.text")
		resp, body = e.send(tc.c, e.srv.URL, "/status/lost", url.Values{"email": {"someone@example.org"}, "csrf_token": {tc.token}})
		mustBusyPage(t, resp, body, tc.lang, "busy.text.post")
	}
	// The moderators' pages and the API have their own room.
	resp, body := e.get(mc, "/moderation")
	mustStatus(t, resp, body, http.StatusOK)
	if code, _ := e.apiCall(http.MethodGet, "/api/v1/applications", secret); code != http.StatusOK {
		t.Errorf("API while the public class is full: %d, want 200", code)
	}
	// Static files and the health check are never shed.
	resp, body = e.get(fr, "/healthz")
	mustStatus(t, resp, body, http.StatusOK)

	if status := release(); status != http.StatusOK {
		t.Fatalf("the held request ended with %d", status)
	}
	if n := countApplications(t, e); n != 0 {
		t.Fatalf("%d applications recorded from refused forms", n)
	}
	// Room again: the forms kept in the busy pages, sent again, are recorded, each once.
	for _, r := range resent {
		for range 2 {
			resp, body = e.send(r.c, e.srv.URL, "/apply", r.form)
			mustStatus(t, resp, body, http.StatusSeeOther)
		}
	}
	if n := countApplications(t, e); n != len(resent) {
		t.Fatalf("%d applications after the kept forms were sent again, want %d", n, len(resent))
	}
}

func TestShedModerationApartFromPublic(t *testing.T) {
	holder := newShedHolder()
	e := newTestEnv(t, envOptions{configure: func(o *Options) {
		o.ModerationInFlight, o.BusyWait = 1, time.Millisecond
		holder.seam(o)
	}})
	mc, _ := e.addModerator("shed@example.org", "Shed")
	_, secret := e.apiTokenFor("shed", tenants.ScopeRead)
	c := e.newClient()
	token := e.csrf(c)

	release := holder.hold(t, e, "/moderation/login")
	code, out := e.apiCall(http.MethodGet, "/api/v1/applications", secret)
	apiErr, _ := out["error"].(map[string]any)
	if code != http.StatusServiceUnavailable || apiErr["code"] != "overloaded" || apiMessageOf(out) == "" {
		t.Errorf("API with the moderation class full: %d %v, want 503 overloaded with a message", code, out)
	}
	resp, body := e.get(mc, "/moderation")
	mustBusyPage(t, resp, body, "fr", "busy.text.moderation")
	// The public form still takes applications.
	f := validForm(3)
	f.Set("csrf_token", token)
	resp, body = e.send(c, e.srv.URL, "/apply", f)
	mustStatus(t, resp, body, http.StatusSeeOther)
	if status := release(); status != http.StatusOK {
		t.Fatalf("the held request ended with %d", status)
	}
	resp, body = e.get(mc, "/moderation")
	mustStatus(t, resp, body, http.StatusOK)
}

// The limit on applications per network is kept in Postgres: two servers on one database count
// together, and the refused form is given back with what was typed, in the reader's language.
func TestApplyRateLimitAcrossReplicas(t *testing.T) {
	e := newTestEnv(t, envOptions{applyPerHour: 2})
	other := e.replica()
	fr, en := e.newClient(), e.newClient()
	frToken, enToken := e.csrf(fr), e.csrf(en)
	first := validForm(10)
	first.Set("csrf_token", frToken)
	resp, body := e.send(fr, e.srv.URL, "/apply", first)
	mustStatus(t, resp, body, http.StatusSeeOther)
	second := validForm(11)
	second.Set("csrf_token", enToken)
	resp, body = e.send(en, other, "/apply", second)
	mustStatus(t, resp, body, http.StatusSeeOther)
	for _, tc := range []struct {
		lang, base string
		c          *http.Client
		token      string
		n          int
	}{
		{"fr", e.srv.URL, fr, frToken, 12},
		{"en", other, en, enToken, 13},
	} {
		f := validForm(tc.n)
		f.Set("csrf_token", tc.token)
		resp, body := e.send(tc.c, tc.base, "/apply", f, "Accept-Language", tc.lang)
		mustStatus(t, resp, body, http.StatusTooManyRequests)
		if resp.Header.Get("Retry-After") == "" {
			t.Errorf("%s: 429 without Retry-After", tc.lang)
		}
		if !strings.Contains(body, html.EscapeString(translate(tc.lang, "apply.ratelimited"))) {
			t.Errorf("%s: the refused form's page should explain in its language", tc.lang)
		}
		if kept := hiddenFields(body); !maps.EqualFunc(kept, f, slices.Equal) {
			t.Errorf("%s: the refused form's page keeps %v, want %v", tc.lang, kept, f)
		}
	}
	// The first form, sent again past the limit, is still answered as the first time.
	resp, body = e.send(fr, other, "/apply", first)
	mustStatus(t, resp, body, http.StatusSeeOther)
	if n := countApplications(t, e); n != 2 {
		t.Fatalf("%d applications recorded, want 2", n)
	}
	var buckets int
	if err := e.pool.QueryRow(context.Background(), `SELECT count(*) FROM rate_buckets WHERE scope = 'apply_network'`).Scan(&buckets); err != nil {
		t.Fatal(err)
	}
	if buckets != 1 {
		t.Fatalf("%d rate buckets, want one for the one client network", buckets)
	}
}

// A class refuses at once when as many requests as it lets wait are waiting already; a slot freed
// goes to one of those waiting.
func TestShedClassBoundsWaiting(t *testing.T) {
	c := newShedClass("test", 1, time.Hour, time.Minute)
	ctx := context.Background()
	if !c.admit(ctx) {
		t.Fatal("an empty class refused")
	}
	admitted := make(chan bool)
	for range waitingPerSlot {
		go func() { admitted <- c.admit(ctx) }()
	}
	for c.waiting.Load() < waitingPerSlot {
		runtime.Gosched()
	}
	// With an hour's wait, a refusal that comes back at all came back at once.
	if c.admit(ctx) {
		t.Fatal("admitted past the bound of waiting requests")
	}
	for range waitingPerSlot {
		c.release()
		if !<-admitted {
			t.Fatal("a waiting request was refused when a slot freed up")
		}
	}
	gone, cancel := context.WithCancel(ctx)
	cancel()
	if c.admit(gone) {
		t.Fatal("a full class admitted a request whose client went away")
	}
}
