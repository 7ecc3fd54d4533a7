package webui

import (
	"errors"
	"net/http"
	"strings"

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
func (h *handler) loginSubmit(w http.ResponseWriter, r *http.Request) {
	email := strings.TrimSpace(r.PostForm.Get("email"))
	next := safeNext(r.PostForm.Get("next"))
	fail := func(status int, key string) {
		p := loginPage{page: h.newPage(r), Email: email, Next: next}
		p.Error = p.T(key)
		h.render(w, r, status, "login", p)
	}
	if !h.loginLimit.allow(h.clientAddr(r)) {
		fail(http.StatusTooManyRequests, "login.ratelimited")
		return
	}
	m, err := tenants.AuthenticateModerator(r.Context(), h.Pool, email, r.PostForm.Get("password"))
	if errors.Is(err, tenants.ErrBadCredentials) {
		h.Logger.InfoContext(r.Context(), "moderator login failed", "client", h.clientAddr(r).String())
		fail(http.StatusUnauthorized, "login.failed")
		return
	}
	if err != nil {
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
