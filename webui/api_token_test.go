package webui

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/assospaces/spaces/quota"
	"github.com/assospaces/spaces/tenants"
)

// A read token reads everything and changes nothing; an operator token does both.
func TestAPITokenScopes(t *testing.T) {
	e := newTestEnv(t, envOptions{})
	ctx := context.Background()
	_, read, err := tenants.CreateAPIToken(ctx, e.pool, tenants.NewAPIToken{Name: "grafana", Scope: tenants.ScopeRead}, tenants.ActorSystem)
	if err != nil {
		t.Fatal(err)
	}
	_, ops, err := tenants.CreateAPIToken(ctx, e.pool, tenants.NewAPIToken{Name: "ops", Scope: tenants.ScopeOperator}, tenants.ActorSystem)
	if err != nil {
		t.Fatal(err)
	}
	s, err := tenants.CreateSpace(ctx, e.pool, tenants.NewSpace{Slug: "beta", AssociationName: "Beta", ContactEmail: "b@beta.example",
		Limits: quota.DefaultLimits}, tenants.ActorSystem)
	if err != nil {
		t.Fatal(err)
	}
	for _, to := range []tenants.SpaceState{tenants.SpaceProvisioning, tenants.SpaceFailed} {
		if _, err := tenants.TransitionSpace(ctx, e.pool, s.ID, tenants.Transition{To: to, Actor: tenants.ActorReconciler, Reason: "health"}); err != nil {
			t.Fatal(err)
		}
	}
	for _, path := range []string{"/api/v1/spaces", "/api/v1/spaces/beta", "/api/v1/dashboard", "/api/v1/audit"} {
		if status, body := e.apiCall("GET", path, read); status != http.StatusOK {
			t.Errorf("GET %s with a read token: %d %v", path, status, body)
		}
	}
	status, body := e.apiCall("POST", "/api/v1/spaces/beta/retry", read)
	if code, _ := apiErrorOf(body); status != http.StatusForbidden || code != "forbidden_scope" {
		t.Fatalf("retry with a read token: %d %v", status, body)
	}
	if got, _ := tenants.GetSpace(ctx, e.pool, s.ID); got.State != tenants.SpaceFailed {
		t.Fatalf("a read token changed the space: %s", got.State)
	}
	if status, body := e.apiCall("POST", "/api/v1/spaces/beta/retry", ops); status != http.StatusAccepted {
		t.Fatalf("retry with an operator token: %d %v", status, body)
	}
}

func TestAPITokenExpired(t *testing.T) {
	e := newTestEnv(t, envOptions{})
	ctx := context.Background()
	later := time.Now().Add(time.Hour)
	tok, secret, err := tenants.CreateAPIToken(ctx, e.pool, tenants.NewAPIToken{Name: "contractor", Scope: tenants.ScopeOperator, ExpiresAt: &later}, tenants.ActorSystem)
	if err != nil {
		t.Fatal(err)
	}
	if status, body := e.apiCall("GET", "/api/v1/spaces", secret); status != http.StatusOK {
		t.Fatalf("before its expiry: %d %v", status, body)
	}
	if _, err := e.pool.Exec(ctx, `UPDATE api_tokens SET expires_at = '2026-03-01T10:00:00Z' WHERE id = $1`, tok.ID); err != nil {
		t.Fatal(err)
	}
	status, body := e.apiCall("GET", "/api/v1/spaces", secret)
	code, _ := apiErrorOf(body)
	msg, _ := body["error"].(map[string]any)["message"].(string)
	if status != http.StatusUnauthorized || code != "token_expired" || !strings.HasPrefix(msg, "the token expired on 2026-03-01 10:00 UTC") {
		t.Fatalf("expired token: %d %v", status, body)
	}
	// Revoked wins: an expired token that was revoked is an invalid one.
	if err := tenants.RevokeAPIToken(ctx, e.pool, tok.ID, tenants.ActorSystem); err != nil {
		t.Fatal(err)
	}
	if status, body := e.apiCall("GET", "/api/v1/spaces", secret); status != http.StatusUnauthorized || body["error"].(map[string]any)["code"] != "invalid_token" {
		t.Fatalf("revoked expired token: %d %v", status, body)
	}
}
