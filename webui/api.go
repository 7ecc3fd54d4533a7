package webui

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
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
// internal errors. A database that cannot serve now is a 503 "unavailable" (see unavailable).
func (h *handler) apiInternal(w http.ResponseWriter, r *http.Request, err error) {
	if unavailable(err) {
		h.Logger.WarnContext(r.Context(), "api request failed: database unavailable", "method", r.Method, "path", r.URL.Path, "err", err)
		retryAfter(w, unavailableRetry)
		h.apiFail(w, r, http.StatusServiceUnavailable, "unavailable", "", "the database is unavailable for a moment; nothing was recorded, try again shortly")
		return
	}
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

// requireToken lets through requests carrying `Authorization: Bearer <live API token>` of scope
// read or operator (see authenticateToken); a forward token, which may only send applications,
// gets 403 forbidden_scope.
func (h *handler) requireToken(next http.HandlerFunc) http.HandlerFunc {
	return h.authenticateToken(func(w http.ResponseWriter, r *http.Request) {
		if apiToken(r.Context()).Scope == tenants.ScopeForward {
			h.apiFail(w, r, http.StatusForbidden, "forbidden_scope", "", "this token may only send applications (POST /api/v1/applications); this needs a token with scope read or operator")
			return
		}
		next(w, r)
	})
}

// authenticateToken lets through requests carrying `Authorization: Bearer <live API token>` of
// any scope: 401 unauthorized without one, invalid_token for a token unknown or revoked,
// token_expired for one past its expiry.
func (h *handler) authenticateToken(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		scheme, secret, ok := strings.Cut(r.Header.Get("Authorization"), " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(secret) == "" {
			w.Header().Set("WWW-Authenticate", `Bearer realm="spaces"`)
			h.apiFail(w, r, http.StatusUnauthorized, "unauthorized", "", "this API needs an operator token: Authorization: Bearer <token> (spaces token create)")
			return
		}
		t, err := tenants.AuthenticateAPIToken(r.Context(), h.Pool, strings.TrimSpace(secret))
		var expired *tenants.TokenExpiredError
		if errors.As(err, &expired) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="spaces", error="invalid_token", error_description="the token expired"`)
			h.apiFail(w, r, http.StatusUnauthorized, "token_expired", "", expired.Error()+"; ask for a new one (spaces token create NAME --expires 90d)")
			return
		}
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

// apiDecodeBody reads a request's JSON body into dst: one object with the fields of dst, or no
// body at all (an empty object). On a malformed body, an unknown field or a field of the wrong
// type it answers 400 invalid_body, naming the field when there is one and saying what the body
// should be (body, e.g. `{"reason": "…"}`), and returns false.
func (h *handler) apiDecodeBody(w http.ResponseWriter, r *http.Request, dst any, body string) bool {
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	err := dec.Decode(dst)
	if errors.Is(err, io.EOF) {
		return true
	}
	if err == nil && dec.More() {
		err = errors.New("more than one JSON value")
	}
	if err == nil {
		return true
	}
	var tooBig *http.MaxBytesError
	var typeErr *json.UnmarshalTypeError
	switch {
	case errors.As(err, &tooBig):
		h.apiFail(w, r, http.StatusRequestEntityTooLarge, "body_too_large", "", "the body is larger than "+strconv.Itoa(maxFormBytes>>10)+" KiB")
	case errors.As(err, &typeErr) && typeErr.Field != "":
		h.apiFail(w, r, http.StatusBadRequest, "invalid_body", typeErr.Field,
			typeErr.Field+" must be a JSON "+jsonKind(typeErr.Type.Kind().String())+"; the body is "+body)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name, _ := strconv.Unquote(strings.TrimPrefix(err.Error(), "json: unknown field "))
		h.apiFail(w, r, http.StatusBadRequest, "invalid_body", name, "unknown field "+strconv.Quote(name)+"; the body is "+body)
	default:
		h.apiFail(w, r, http.StatusBadRequest, "invalid_body", "", "the body is not a JSON object ("+err.Error()+"); it is "+body)
	}
	return false
}

// jsonKind names a Go kind as JSON does.
func jsonKind(kind string) string {
	switch {
	case strings.HasPrefix(kind, "int"), strings.HasPrefix(kind, "uint"), strings.HasPrefix(kind, "float"):
		return "number"
	case kind == "bool":
		return "boolean (true or false)"
	}
	return kind
}

// apiSpaceBySlug reads the space the path names; false when the answer is written (404 for an
// unknown slug).
func (h *handler) apiSpaceBySlug(w http.ResponseWriter, r *http.Request) (tenants.Space, bool) {
	slug := r.PathValue("slug")
	s, err := tenants.GetSpaceBySlug(r.Context(), h.Pool, slug)
	if errors.Is(err, tenants.ErrNotFound) {
		h.apiFail(w, r, http.StatusNotFound, "not_found", "slug", "no space named "+slug)
		return s, false
	}
	if err != nil {
		h.apiInternal(w, r, err)
		return s, false
	}
	return s, true
}
