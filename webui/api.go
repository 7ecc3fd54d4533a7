package webui

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/assospaces/spaces/tenants"
)

// The operators' JSON API (/api/v1): bearer-token authentication with tenants' API tokens, JSON
// bodies, and errors as {"error":{"code","message","field"}} with the matching HTTP status.

// apiError is the body of every API failure. Code is stable for programs; Message is for people.
type apiError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field,omitempty"`
}

// apiJSON writes v as the response body with status.
func (h *handler) apiJSON(w http.ResponseWriter, r *http.Request, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		h.Logger.WarnContext(r.Context(), "write api response", "path", r.URL.Path, "err", err)
	}
}

// apiFail writes a structured error.
func (h *handler) apiFail(w http.ResponseWriter, r *http.Request, status int, code, field, message string) {
	h.apiJSON(w, r, status, map[string]apiError{"error": {Code: code, Message: message, Field: field}})
}

// apiInternal logs err with the request's fields and answers a plain 500: callers never see
// internal errors.
func (h *handler) apiInternal(w http.ResponseWriter, r *http.Request, err error) {
	h.Logger.ErrorContext(r.Context(), "api request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	h.apiFail(w, r, http.StatusInternalServerError, "internal", "", "internal error; the server log has the details")
}

type apiTokenKey struct{}

// apiToken is the token that authenticated the request (set by requireToken).
func apiToken(ctx context.Context) tenants.APIToken {
	t, _ := ctx.Value(apiTokenKey{}).(tenants.APIToken)
	return t
}

// apiActor is who acts in the audit log for this request.
func apiActor(ctx context.Context) tenants.Actor { return tenants.TokenActor(apiToken(ctx).ID) }

// requireToken lets through requests carrying `Authorization: Bearer <live API token>`.
func (h *handler) requireToken(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		scheme, secret, ok := strings.Cut(r.Header.Get("Authorization"), " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(secret) == "" {
			w.Header().Set("WWW-Authenticate", `Bearer realm="spaces"`)
			h.apiFail(w, r, http.StatusUnauthorized, "unauthorized", "", "this API needs an operator token: Authorization: Bearer <token> (spaces token create)")
			return
		}
		t, err := tenants.AuthenticateAPIToken(r.Context(), h.Pool, strings.TrimSpace(secret))
		if errors.Is(err, tenants.ErrBadToken) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="spaces", error="invalid_token"`)
			h.apiFail(w, r, http.StatusUnauthorized, "invalid_token", "", "the token is unknown or revoked")
			return
		}
		if err != nil {
			h.apiInternal(w, r, err)
			return
		}
		next(w, r.WithContext(context.WithValue(r.Context(), apiTokenKey{}, t)))
	}
}

// apiNotFound answers unknown API paths in JSON rather than with the HTML page.
func (h *handler) apiNotFound(w http.ResponseWriter, r *http.Request) {
	h.apiFail(w, r, http.StatusNotFound, "not_found", "", "no such API endpoint: "+r.Method+" "+r.URL.Path)
}

// requireOperatorToken lets through requests whose token may change things (scope operator); a
// read-only token gets 403.
func (h *handler) requireOperatorToken(next http.HandlerFunc) http.HandlerFunc {
	return h.requireToken(func(w http.ResponseWriter, r *http.Request) {
		if !apiToken(r.Context()).CanOperate() {
			h.apiFail(w, r, http.StatusForbidden, "forbidden_scope", "", "this token is read-only; this needs a token with scope operator (spaces token create NAME --scope operator)")
			return
		}
		next(w, r)
	})
}
