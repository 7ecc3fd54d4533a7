package webui

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// maxFormBytes bounds a request body: the longest form (the application) is well under it.
const maxFormBytes = 64 << 10

// middleware wraps every route: security headers, panic recovery, body limit, language,
// cross-origin protection, CSRF tokens (for everything but the bearer-token JSON API) and load
// shedding (shed.go).
func (h *handler) middleware(next http.Handler) http.Handler {
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.csrfFailed(w, r)
	}))
	inner := cop.Handler(h.csrf(h.shed(next)))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hdr := w.Header()
		hdr.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self' data:; "+
			"form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
		hdr.Set("X-Content-Type-Options", "nosniff")
		hdr.Set("X-Frame-Options", "DENY")
		// Status pages carry their secret in the URL: never send it on as a referrer.
		hdr.Set("Referrer-Policy", "no-referrer")
		hdr.Set("Cross-Origin-Opener-Policy", "same-origin")
		hdr.Set("Cross-Origin-Resource-Policy", "same-origin")
		hdr.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=(), interest-cohort=()")
		if h.secure {
			hdr.Set("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
		}
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				h.serverError(w, r, fmt.Errorf("panic: %v", v))
			}
		}()
		if r.Body != nil {
			r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
		}
		lang := h.pickLang(w, r)
		r = r.WithContext(context.WithValue(r.Context(), langKey{}, lang))
		inner.ServeHTTP(w, r)
	})
}

// parseForm reads a posted form and answers a too-large or malformed body itself; false means
// the response is written.
func (h *handler) parseForm(w http.ResponseWriter, r *http.Request) bool {
	if err := r.ParseForm(); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			p := h.newPage(r)
			h.showError(w, r, http.StatusRequestEntityTooLarge, "error.toolarge", p.T("error.toolarge.text"))
			return false
		}
		p := h.newPage(r)
		h.showError(w, r, http.StatusBadRequest, "error.csrf", p.T("error.csrf.text"))
		return false
	}
	return true
}

// isAPI tells whether r is for the JSON API, which authenticates with bearer tokens, not cookies.
func isAPI(r *http.Request) bool { return strings.HasPrefix(r.URL.Path, "/api/") }
