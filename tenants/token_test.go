package tenants

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/assospaces/spaces/tenants/pgtest"
)

func TestTokenScopesAndExpiry(t *testing.T) {
	ctx := context.Background()
	pool, _ := pgtest.New(t)
	in90 := time.Now().Add(90 * 24 * time.Hour).Truncate(time.Second)
	read, readSecret, err := CreateAPIToken(ctx, pool, NewAPIToken{Name: "grafana", Scope: ScopeRead, ExpiresAt: &in90}, ActorSystem)
	if err != nil {
		t.Fatal(err)
	}
	if read.Scope != ScopeRead || read.CanOperate() || read.ExpiresAt == nil || !read.ExpiresAt.Equal(in90) {
		t.Fatalf("created %+v", read)
	}
	got, err := AuthenticateAPIToken(ctx, pool, readSecret)
	if err != nil || got.Scope != ScopeRead || got.CanOperate() || got.ExpiresAt == nil {
		t.Fatalf("authenticate a read token: %+v, %v", got, err)
	}
	ops, opsSecret, err := CreateAPIToken(ctx, pool, NewAPIToken{Name: "ops", Scope: ScopeOperator}, ActorSystem)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := AuthenticateAPIToken(ctx, pool, opsSecret); err != nil || !got.CanOperate() || got.ExpiresAt != nil {
		t.Fatalf("authenticate an operator token: %+v, %v", got, err)
	}

	past := time.Now().Add(-time.Minute)
	for name, n := range map[string]NewAPIToken{
		"no scope":       {Name: "x"},
		"unknown scope":  {Name: "x", Scope: "admin"},
		"no name":        {Name: "  ", Scope: ScopeRead},
		"expiry in past": {Name: "x", Scope: ScopeRead, ExpiresAt: &past},
	} {
		if _, _, err := CreateAPIToken(ctx, pool, n, ActorSystem); err == nil {
			t.Errorf("%s: created", name)
		}
	}

	// Past its expiry, the read token is refused with its own error, which says when.
	if _, err := pool.Exec(ctx, `UPDATE api_tokens SET expires_at = '2026-03-01T10:00:00Z', last_used_at = NULL WHERE id = $1`, read.ID); err != nil {
		t.Fatal(err)
	}
	_, err = AuthenticateAPIToken(ctx, pool, readSecret)
	var expired *TokenExpiredError
	if !errors.Is(err, ErrTokenExpired) || errors.Is(err, ErrBadToken) || !errors.As(err, &expired) ||
		err.Error() != "the token expired on 2026-03-01 10:00 UTC" {
		t.Fatalf("expired token: %v", err)
	}
	var lastUsed *time.Time
	pool.QueryRow(ctx, `SELECT last_used_at FROM api_tokens WHERE id = $1`, read.ID).Scan(&lastUsed) //nolint:errcheck
	if lastUsed != nil {
		t.Errorf("an expired token's use was noted: %v", lastUsed)
	}
	// Revoked and expired: revoked, as an unknown token.
	if err := RevokeAPIToken(ctx, pool, read.ID, ActorSystem); err != nil {
		t.Fatal(err)
	}
	if _, err := AuthenticateAPIToken(ctx, pool, readSecret); !errors.Is(err, ErrBadToken) {
		t.Fatalf("revoked expired token: %v", err)
	}

	// The list: every token with its scope, dates and state.
	soon := time.Now().Add(time.Hour)
	later, _, err := CreateAPIToken(ctx, pool, NewAPIToken{Name: "later", Scope: ScopeRead, ExpiresAt: &soon}, ActorSystem)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `UPDATE api_tokens SET expires_at = now() - interval '1 second' WHERE id = $1`, later.ID); err != nil {
		t.Fatal(err)
	}
	list, err := ListAPITokens(ctx, pool)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	want := []struct {
		id    int64
		name  string
		scope TokenScope
		state string
	}{{read.ID, "grafana", ScopeRead, TokenRevoked}, {ops.ID, "ops", ScopeOperator, TokenActive}, {later.ID, "later", ScopeRead, TokenExpired}}
	if len(list) != len(want) {
		t.Fatalf("list: %+v", list)
	}
	for i, w := range want {
		l := list[i]
		if l.ID != w.id || l.Name != w.name || l.Scope != w.scope || l.State(now) != w.state || l.CreatedAt.IsZero() {
			t.Errorf("list[%d] = %+v (state %s), want %+v", i, l, l.State(now), w)
		}
	}
	if list[0].RevokedAt == nil || list[0].ExpiresAt == nil || list[1].LastUsedAt == nil || list[1].ExpiresAt != nil {
		t.Errorf("list dates: %+v", list)
	}

	// The audit log says what each token could do and until when.
	trail, err := AuditTrail(ctx, pool, "token", read.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(trail) != 2 || trail[0].Action != "token.create" || trail[1].Action != "token.revoke" {
		t.Fatalf("trail: %+v", trail)
	}
	for _, e := range trail {
		if e.Detail["name"] != "grafana" || e.Detail["scope"] != "read" {
			t.Errorf("%s detail: %v", e.Action, e.Detail)
		}
	}
	if trail[0].Detail["expires_at"] != in90.UTC().Format(time.RFC3339) || trail[1].Detail["expires_at"] != "2026-03-01T10:00:00Z" {
		t.Errorf("expiry in the audit: %v, %v", trail[0].Detail, trail[1].Detail)
	}
	opsTrail, _ := AuditTrail(ctx, pool, "token", ops.ID)
	if len(opsTrail) != 1 || opsTrail[0].Detail["scope"] != "operator" {
		t.Errorf("ops trail: %+v", opsTrail)
	}
	if v, ok := opsTrail[0].Detail["expires_at"]; !ok || v != nil {
		t.Errorf("a token that never expires: expires_at = %v, %v; want null", v, ok)
	}
}

// Tokens made before scopes existed could change everything: the migration keeps them operators.
func TestTokensBeforeScopesStayOperators(t *testing.T) {
	ctx := context.Background()
	pool, _ := pgtest.New(t)
	secret := NewSecret(tokenPrefix)
	if _, err := pool.Exec(ctx, `INSERT INTO api_tokens (name, token_hash) VALUES ('old', $1)`, HashSecret(secret)); err != nil {
		t.Fatal(err)
	}
	got, err := AuthenticateAPIToken(ctx, pool, secret)
	if err != nil || got.Scope != ScopeOperator || got.ExpiresAt != nil {
		t.Fatalf("old token: %+v, %v", got, err)
	}
	if _, err := pool.Exec(ctx, `UPDATE api_tokens SET scope = 'admin'`); err == nil || !strings.Contains(err.Error(), "check") {
		t.Errorf("scope admin stored: %v", err)
	}
}

func TestParseWhen(t *testing.T) {
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		in          string
		since, till time.Time
	}{
		{"7d", now.Add(-7 * 24 * time.Hour), now.Add(7 * 24 * time.Hour)},
		{"0d", now, now},
		{"12h", now.Add(-12 * time.Hour), now.Add(12 * time.Hour)},
		{"1h30m", now.Add(-90 * time.Minute), now.Add(90 * time.Minute)},
		{"2026-11-01", time.Date(2026, 11, 1, 0, 0, 0, 0, paris), time.Date(2026, 11, 1, 0, 0, 0, 0, paris)},
		{"2026-11-01T08:30:00Z", time.Date(2026, 11, 1, 8, 30, 0, 0, time.UTC), time.Date(2026, 11, 1, 8, 30, 0, 0, time.UTC)},
		{"2026-11-01T08:30:00.5+01:00", time.Date(2026, 11, 1, 7, 30, 0, 5e8, time.UTC), time.Date(2026, 11, 1, 7, 30, 0, 5e8, time.UTC)},
	} {
		if got, err := ParseSince(tc.in, now, paris); err != nil || !got.Equal(tc.since) {
			t.Errorf("ParseSince(%q) = %v, %v; want %v", tc.in, got, err, tc.since)
		}
		if got, err := ParseUntil(tc.in, now, paris); err != nil || !got.Equal(tc.till) {
			t.Errorf("ParseUntil(%q) = %v, %v; want %v", tc.in, got, err, tc.till)
		}
	}
	for _, bad := range []string{"", "d", "-7d", "7 d", "7days", "-1h", "yesterday", "2026-13-01", "01/11/2026", "99999999d", "1w"} {
		if got, err := ParseSince(bad, now, paris); !errors.Is(err, ErrBadTime) {
			t.Errorf("ParseSince(%q) = %v, %v; want ErrBadTime", bad, got, err)
		}
	}
}
