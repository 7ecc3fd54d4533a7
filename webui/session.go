package webui

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"time"

	"github.com/assospaces/spaces/tenants"
)

type moderatorKey struct{}

// moderatorFrom returns the logged-in moderator of a request that went through requireModerator.
func moderatorFrom(ctx context.Context) (tenants.Moderator, bool) {
	m, ok := ctx.Value(moderatorKey{}).(tenants.Moderator)
	return m, ok
}

func (h *handler) sessionCookieName() string {
	if h.secure {
		return "__Host-session"
	}
	return "session"
}

func (h *handler) setSessionCookie(w http.ResponseWriter, value string, expires time.Time) {
	c := &http.Cookie{Name: h.sessionCookieName(), Value: value, Path: "/", Secure: h.secure,
		HttpOnly: true, SameSite: http.SameSiteLaxMode}
	if value == "" {
		c.MaxAge = -1
	} else {
		c.Expires = expires
	}
	http.SetCookie(w, c)
}

// requireModerator lets through requests with a live moderator session and sends the others to
// the login page, coming back to where they were going after login.
func (h *handler) requireModerator(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c, err := r.Cookie(h.sessionCookieName())
		if err != nil {
			h.toLogin(w, r, false)
			return
		}
		m, err := tenants.SessionModerator(r.Context(), h.Pool, c.Value)
		if errors.Is(err, tenants.ErrNoSession) {
			h.setSessionCookie(w, "", time.Time{})
			h.toLogin(w, r, true)
			return
		}
		if err != nil {
			h.serverError(w, r, err)
			return
		}
		// Moderators' pages are never cached, nor shown in frames.
		w.Header().Set("Cache-Control", "no-store")
		next(w, r.WithContext(context.WithValue(r.Context(), moderatorKey{}, m)))
	}
}

// requireOperator lets through moderators whose role is operator (requireModerator first); a
// plain moderator, who sees spaces read-only, gets 403 and a page saying operators do this.
func (h *handler) requireOperator(next http.HandlerFunc) http.HandlerFunc {
	return h.requireModerator(func(w http.ResponseWriter, r *http.Request) {
		if m, _ := moderatorFrom(r.Context()); !m.CanOperate() {
			h.Logger.InfoContext(r.Context(), "refused a space action to a moderator who is not an operator",
				"moderator_id", m.ID, "path", r.URL.Path)
			h.operatorsOnly(w, r)
			return
		}
		next(w, r)
	})
}

func (h *handler) toLogin(w http.ResponseWriter, r *http.Request, expired bool) {
	q := url.Values{}
	if r.Method == http.MethodGet {
		q.Set("next", r.URL.RequestURI())
	}
	if expired {
		q.Set("expired", "1")
	}
	seeOther(w, r, "/moderation/login?"+q.Encode())
}
