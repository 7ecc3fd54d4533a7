package webui

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
)

// CSRF protection: every browser gets a random value in a cookie (__Host- prefixed over https,
// so that a space's own subdomain cannot plant one), and every form carries an HMAC of it under
// the service's key. A forged form has no way to know the token; a planted cookie without its
// HMAC is useless. http.CrossOriginProtection adds a check of Sec-Fetch-Site/Origin in front.

const csrfField = "csrf_token"

type csrfKeyType struct{}

func (h *handler) csrfCookieName() string {
	if h.secure {
		return "__Host-csrf"
	}
	return "csrf"
}

// deriveKey makes an independent key for one purpose from the service's secret key.
func deriveKey(secret []byte, purpose string) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(purpose))
	return m.Sum(nil)
}

func (h *handler) csrfToken(cookieValue string) string {
	m := hmac.New(sha256.New, h.csrfKey)
	m.Write([]byte(cookieValue))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// csrfTokenFrom returns the token forms of this request must carry.
func csrfTokenFrom(ctx context.Context) string {
	s, _ := ctx.Value(csrfKeyType{}).(string)
	return s
}

// csrf makes sure the browser has a CSRF cookie, puts the matching token in the request's
// context for templates, and refuses unsafe requests without a valid token.
func (h *handler) csrf(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if isAPI(r) {
			next.ServeHTTP(w, r)
			return
		}
		value := ""
		if c, err := r.Cookie(h.csrfCookieName()); err == nil && len(c.Value) >= 32 && len(c.Value) <= 64 {
			value = c.Value
		}
		safe := r.Method == http.MethodGet || r.Method == http.MethodHead || r.Method == http.MethodOptions
		if !safe {
			if !h.parseForm(w, r) {
				return
			}
			if value == "" {
				h.csrfFailed(w, r)
				return
			}
			if !hmac.Equal([]byte(r.PostForm.Get(csrfField)), []byte(h.csrfToken(value))) {
				h.csrfFailed(w, r)
				return
			}
		}
		if value == "" {
			b := make([]byte, 32)
			rand.Read(b) //nolint:errcheck // crypto/rand does not fail
			value = base64.RawURLEncoding.EncodeToString(b)
			http.SetCookie(w, &http.Cookie{Name: h.csrfCookieName(), Value: value, Path: "/",
				Secure: h.secure, HttpOnly: true, SameSite: http.SameSiteLaxMode})
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), csrfKeyType{}, h.csrfToken(value))))
	})
}

func (h *handler) csrfFailed(w http.ResponseWriter, r *http.Request) {
	h.Logger.InfoContext(r.Context(), "refused form without a valid CSRF token", "path", redactPath(r.URL.Path))
	p := h.newPage(r)
	h.showError(w, r, http.StatusForbidden, "error.csrf", p.T("error.csrf.text"))
}
