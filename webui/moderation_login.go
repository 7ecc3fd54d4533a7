package webui

import (
	"errors"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/assospaces/spaces/tenants"
)

// loginPage is the data of the login form.
type loginPage struct {
	page
	Email string
	Next  string
	Error string
}

// safeNext keeps a post-login destination only if it is one of the moderators' own pages.
func safeNext(next string) string {
	if strings.HasPrefix(next, "/moderation") && !strings.HasPrefix(next, "//") && !strings.Contains(next, "\\") {
		return next
	}
	return "/moderation"
}

// loginShow shows the moderators' login form.
func (h *handler) loginShow(w http.ResponseWriter, r *http.Request) {
	p := loginPage{page: h.newPage(r), Next: safeNext(r.URL.Query().Get("next"))}
	if r.URL.Query().Get("expired") == "1" {
		p.Error = p.T("login.expired")
	}
	h.render(w, r, http.StatusOK, "login", p)
}

// loginSubmit checks a moderator's email and password and opens a session.
//
// Failed logins are counted in Postgres per account (the typed email, whether or not a moderator
// has it) and per client network (loginNetwork), so the limits hold across replicas. A locked
// account or network is refused before any hashing, with 429, Retry-After and one message for
// both, the same whether the account exists or not. At most hashSlots hashes run at once in this
// process; a login that waits longer than hashWait for one gets 503.
func (h *handler) loginSubmit(w http.ResponseWriter, r *http.Request) {
	email := strings.TrimSpace(r.PostForm.Get("email"))
	next := safeNext(r.PostForm.Get("next"))
	fail := func(status int, key string) {
		p := loginPage{page: h.newPage(r), Email: email, Next: next}
		p.Error = p.T(key)
		h.render(w, r, status, "login", p)
	}
	network := loginNetwork(h.clientAddr(r))
	keys := []tenants.ThrottleKey{
		{Rule: h.loginAccount, Key: tenants.AccountKey(email)},
		{Rule: h.loginNetwork, Key: network.String()},
	}
	until, err := tenants.ThrottleLockedUntil(r.Context(), h.Pool, keys...)
	if err != nil {
		h.serverError(w, r, err)
		return
	}
	if !until.IsZero() {
		h.Logger.WarnContext(r.Context(), "moderator login refused: locked", "network", network.String(),
			"until", until.UTC().Format(time.RFC3339))
		retryAfter(w, time.Until(until))
		fail(http.StatusTooManyRequests, "login.ratelimited")
		return
	}
	m, err := h.hashBounded(r, email, r.PostForm.Get("password"))
	if errors.Is(err, errHashBusy) {
		h.Logger.WarnContext(r.Context(), "moderator login refused: too many password hashes at once", "network", network.String())
		retryAfter(w, 5*time.Second)
		fail(http.StatusServiceUnavailable, "login.busy")
		return
	}
	if errors.Is(err, tenants.ErrBadCredentials) {
		locked, terr := tenants.ThrottleFailure(r.Context(), h.Pool, keys...)
		if terr != nil {
			h.serverError(w, r, terr)
			return
		}
		if locked.IsZero() {
			h.Logger.InfoContext(r.Context(), "moderator login failed", "network", network.String())
		} else {
			h.Logger.WarnContext(r.Context(), "moderator login failed: account or network now locked", "network", network.String(),
				"until", locked.UTC().Format(time.RFC3339))
		}
		fail(http.StatusUnauthorized, "login.failed")
		return
	}
	if err != nil {
		h.serverError(w, r, err)
		return
	}
	// Only the account's counter starts again: a network's failures are other people's too.
	if err := tenants.ThrottleReset(r.Context(), h.Pool, keys[0]); err != nil {
		h.serverError(w, r, err)
		return
	}
	secret, expires, err := tenants.CreateSession(r.Context(), h.Pool, m.ID, r.UserAgent())
	if err != nil {
		h.serverError(w, r, err)
		return
	}
	h.setSessionCookie(w, secret, expires)
	seeOther(w, r, next)
}

// errHashBusy is returned when no password hash slot freed up in time.
var errHashBusy = errors.New("too many password hashes at once")

// hashBounded authenticates a moderator (one argon2 hash, about 19 MiB and tens of milliseconds)
// once one of the process's hash slots is free, or gives up after hashWait: a burst of logins
// queues briefly and is then refused instead of piling up memory and goroutines.
func (h *handler) hashBounded(r *http.Request, email, password string) (tenants.Moderator, error) {
	t := time.NewTimer(h.hashWait)
	defer t.Stop()
	select {
	case h.hashes <- struct{}{}:
	case <-t.C:
		return tenants.Moderator{}, errHashBusy
	case <-r.Context().Done():
		return tenants.Moderator{}, r.Context().Err()
	}
	defer func() { <-h.hashes }()
	return h.authenticate(r.Context(), h.Pool, email, password)
}

// retryAfter tells the client, in whole seconds (at least one), when to try again.
func retryAfter(w http.ResponseWriter, d time.Duration) {
	w.Header().Set("Retry-After", strconv.Itoa(max(1, int(math.Ceil(d.Seconds())))))
}
