package webui

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/assospaces/spaces/tenants"
)

// hashCounter counts the password hashes a handler makes, through its authenticate seam.
type hashCounter struct{ n atomic.Int64 }

func (c *hashCounter) seam(o *Options) {
	o.authenticate = func(ctx context.Context, db tenants.DB, email, password string) (tenants.Moderator, error) {
		c.n.Add(1)
		return tenants.AuthenticateModerator(ctx, db, email, password)
	}
}

// replica builds a second server on the same database and options, as a second `spaces serve`
// behind one balancer, and returns its base URL.
func (e *testEnv) replica() string {
	e.t.Helper()
	h, err := New(e.opts)
	if err != nil {
		e.t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	e.t.Cleanup(srv.Close)
	return srv.URL
}

// login posts the login form to base from client address from (empty: the connection's).
func (e *testEnv) login(c *http.Client, base, from, email, password string) (*http.Response, string) {
	e.t.Helper()
	form := url.Values{"email": {email}, "password": {password}, "csrf_token": {e.csrf(c)}}
	req, _ := http.NewRequest(http.MethodPost, base+"/moderation/login", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if from != "" {
		req.Header.Set("X-Forwarded-For", from)
	}
	return e.do(c, req)
}

// withoutTokens blanks what differs between two renderings of one page for reasons other than
// the answer: the CSRF token and the given strings (the typed email).
func withoutTokens(body string, typed ...string) string {
	body = csrfRe.ReplaceAllString(body, `name="csrf_token" value=""`)
	for _, s := range typed {
		body = strings.ReplaceAll(body, s, "EMAIL")
	}
	return body
}

func TestLoginLockoutPerAccountAcrossReplicas(t *testing.T) {
	var hashes hashCounter
	e := newTestEnv(t, envOptions{configure: hashes.seam})
	other := e.replica()
	const known, unknown, good = "lock@example.org", "nobody@example.org", "correct horse battery staple"
	if _, err := tenants.CreateModerator(context.Background(), e.pool, known, "Lock", good, tenants.ActorSystem); err != nil {
		t.Fatal(err)
	}
	c := e.newClient()
	bases := []string{e.srv.URL, other}
	lockedBody := map[string]string{}
	for _, email := range []string{known, unknown} {
		before := hashes.n.Load()
		// Five failures, spread over both replicas, lock the account on both.
		for i := range tenants.LoginAccountRule.Limit {
			resp, body := e.login(c, bases[i%2], "", email, "wrong password "+strconv.Itoa(i))
			mustStatus(t, resp, body, http.StatusUnauthorized)
		}
		if got := hashes.n.Load() - before; got != int64(tenants.LoginAccountRule.Limit) {
			t.Fatalf("%s: %d hashes for %d failures", email, got, tenants.LoginAccountRule.Limit)
		}
		for _, base := range bases {
			// Even the right password is refused now, without hashing it.
			resp, body := e.login(c, base, "", strings.ToUpper(email), good)
			mustStatus(t, resp, body, http.StatusTooManyRequests)
			if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err != nil || s < 1 || s > 60 {
				t.Errorf("%s: Retry-After %q", email, resp.Header.Get("Retry-After"))
			}
			if !strings.Contains(body, `value="`+strings.ToUpper(email)+`"`) {
				t.Errorf("%s: the refused form lost the typed email", email)
			}
			lockedBody[email] = withoutTokens(body, strings.ToUpper(email))
		}
		if got := hashes.n.Load() - before; got != int64(tenants.LoginAccountRule.Limit) {
			t.Errorf("%s: a locked account cost %d more hashes", email, got-int64(tenants.LoginAccountRule.Limit))
		}
	}
	if lockedBody[known] != lockedBody[unknown] {
		t.Errorf("a locked account that exists answers differently from one that does not:\n%s\n---\n%s", lockedBody[known], lockedBody[unknown])
	}
	// Another account from the same network is not locked.
	resp, body := e.login(c, other, "", "someone.else@example.org", "wrong")
	mustStatus(t, resp, body, http.StatusUnauthorized)
}

func TestLoginSuccessResetsAccountCounter(t *testing.T) {
	e := newTestEnv(t, envOptions{})
	const email, good = "reset@example.org", "correct horse battery staple"
	if _, err := tenants.CreateModerator(context.Background(), e.pool, email, "Reset", good, tenants.ActorSystem); err != nil {
		t.Fatal(err)
	}
	c := e.newClient()
	for range 2 {
		for range tenants.LoginAccountRule.Limit - 1 {
			resp, body := e.login(c, e.srv.URL, "", email, "wrong")
			mustStatus(t, resp, body, http.StatusUnauthorized)
		}
		resp, body := e.login(e.newClient(), e.srv.URL, "", email, good)
		mustStatus(t, resp, body, http.StatusSeeOther)
	}
}

func TestLoginLockoutPerNetwork(t *testing.T) {
	var hashes hashCounter
	rule := tenants.LoginNetworkRule
	rule.Limit = 3
	e := newTestEnv(t, envOptions{configure: func(o *Options) {
		hashes.seam(o)
		o.loginNetwork = &rule
		o.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	}})
	c := e.newClient()
	for i := range rule.Limit {
		resp, body := e.login(c, e.srv.URL, "203.0.113."+strconv.Itoa(10+i), "guess"+strconv.Itoa(i)+"@example.org", "wrong")
		mustStatus(t, resp, body, http.StatusUnauthorized)
	}
	before := hashes.n.Load()
	// A fresh account from another address of the same /24 is refused, without a hash.
	resp, body := e.login(c, e.srv.URL, "203.0.113.200", "fresh@example.org", "wrong")
	mustStatus(t, resp, body, http.StatusTooManyRequests)
	if resp.Header.Get("Retry-After") == "" {
		t.Errorf("no Retry-After")
	}
	if hashes.n.Load() != before {
		t.Errorf("a locked network cost a hash")
	}
	// Another network is not.
	resp, body = e.login(c, e.srv.URL, "198.51.100.7", "fresh@example.org", "wrong")
	mustStatus(t, resp, body, http.StatusUnauthorized)
	// IPv6 counts per /64.
	if got, want := loginNetwork(netip.MustParseAddr("2001:db8:1:2:aaaa::1")), netip.MustParsePrefix("2001:db8:1:2::/64"); got != want {
		t.Errorf("loginNetwork = %s, want %s", got, want)
	}
}

func TestLoginHashBound(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	var hashes atomic.Int64
	e := newTestEnv(t, envOptions{configure: func(o *Options) {
		o.hashSlots = 1
		o.hashWait = 50 * time.Millisecond
		o.authenticate = func(ctx context.Context, db tenants.DB, email, password string) (tenants.Moderator, error) {
			hashes.Add(1)
			if email == "slow@example.org" {
				close(entered)
				<-release
			}
			return tenants.AuthenticateModerator(ctx, db, email, password)
		}
	}})
	done := make(chan int)
	c := e.newClient()
	token := e.csrf(c)
	go func() {
		form := url.Values{"email": {"slow@example.org"}, "password": {"wrong"}, "csrf_token": {token}}
		req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/moderation/login", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp, err := c.Do(req)
		if err != nil {
			done <- 0
			return
		}
		resp.Body.Close()
		done <- resp.StatusCode
	}()
	<-entered
	// The one slot is taken: the next login waits, then gets 503 rather than a hash.
	resp, body := e.login(e.newClient(), e.srv.URL, "", "other@example.org", "wrong")
	mustStatus(t, resp, body, http.StatusServiceUnavailable)
	if resp.Header.Get("Retry-After") == "" || !strings.Contains(body, `value="other@example.org"`) {
		t.Errorf("busy page lacks Retry-After or the typed email")
	}
	if hashes.Load() != 1 {
		t.Errorf("%d hashes, want 1 (the waiting login must not hash)", hashes.Load())
	}
	close(release)
	if status := <-done; status != http.StatusUnauthorized {
		t.Errorf("the first login answered %d", status)
	}
	// The slot is free again.
	resp, body = e.login(e.newClient(), e.srv.URL, "", "other@example.org", "wrong")
	mustStatus(t, resp, body, http.StatusUnauthorized)
}
