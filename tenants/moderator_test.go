package tenants_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/assospaces/spaces/tenants"
	"github.com/assospaces/spaces/tenants/pgtest"
)

func TestModeratorAccounts(t *testing.T) {
	ctx := context.Background()
	pool, _ := pgtest.New(t)
	m, err := tenants.CreateModerator(ctx, pool, "Alice@Example.org", "Alice", "correct horse battery", tenants.ActorSystem)
	if err != nil {
		t.Fatal(err)
	}
	var stored string
	pool.QueryRow(ctx, `SELECT password_hash FROM moderators WHERE id = $1`, m.ID).Scan(&stored) //nolint:errcheck
	if !strings.HasPrefix(stored, "$argon2id$") || strings.Contains(stored, "horse") {
		t.Fatalf("stored password hash %q is not an argon2id hash", stored)
	}
	if _, err := tenants.CreateModerator(ctx, pool, "alice@example.org", "Alice 2", "another long password", tenants.ActorSystem); !errors.Is(err, tenants.ErrEmailTaken) {
		t.Fatalf("duplicate email in another case: err = %v, want ErrEmailTaken", err)
	}
	if _, err := tenants.CreateModerator(ctx, pool, "bob@example.org", "Bob", "short", tenants.ActorSystem); !errors.Is(err, tenants.ErrWeakPassword) {
		t.Fatalf("short password: err = %v, want ErrWeakPassword", err)
	}

	got, err := tenants.AuthenticateModerator(ctx, pool, " alice@EXAMPLE.org", "correct horse battery")
	if err != nil || got.ID != m.ID {
		t.Fatalf("authenticate: %+v, %v", got, err)
	}
	for _, c := range []struct{ email, password string }{
		{"alice@example.org", "wrong password here"},
		{"nobody@example.org", "correct horse battery"},
	} {
		if _, err := tenants.AuthenticateModerator(ctx, pool, c.email, c.password); !errors.Is(err, tenants.ErrBadCredentials) {
			t.Errorf("authenticate(%s): err = %v, want ErrBadCredentials", c.email, err)
		}
	}
	if _, err := tenants.DisableModerator(ctx, pool, "alice@example.org", tenants.ActorSystem); err != nil {
		t.Fatal(err)
	}
	if _, err := tenants.AuthenticateModerator(ctx, pool, "alice@example.org", "correct horse battery"); !errors.Is(err, tenants.ErrBadCredentials) {
		t.Fatalf("disabled moderator logged in: err = %v", err)
	}
	trail, _ := tenants.AuditTrail(ctx, pool, "moderator", m.ID)
	if len(trail) != 2 || trail[0].Action != "moderator.create" || trail[1].Action != "moderator.disable" {
		t.Fatalf("audit trail = %+v", trail)
	}
}

func TestPasswordHashing(t *testing.T) {
	h1, _ := tenants.HashPassword("same password")
	h2, _ := tenants.HashPassword("same password")
	if h1 == h2 {
		t.Fatal("two hashes of one password are equal: no salt")
	}
	if !tenants.VerifyPassword(h1, "same password") || tenants.VerifyPassword(h1, "other password") {
		t.Fatal("VerifyPassword disagrees with HashPassword")
	}
	for _, bad := range []string{"", "$argon2id$", "$bcrypt$x$y$z$w", h1[:len(h1)-4] + "!!!!"} {
		if tenants.VerifyPassword(bad, "same password") {
			t.Errorf("malformed hash %q verified", bad)
		}
	}
}

func TestAPITokens(t *testing.T) {
	ctx := context.Background()
	pool, _ := pgtest.New(t)
	tok, secret, err := tenants.CreateAPIToken(ctx, pool, "ci", tenants.ActorSystem)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(secret, "spt_") || len(secret) < 50 {
		t.Fatalf("token %q is too weak", secret)
	}
	var n int
	pool.QueryRow(ctx, `SELECT count(*) FROM api_tokens WHERE token_hash::text LIKE '%' || $1 || '%'`, secret).Scan(&n) //nolint:errcheck
	if n != 0 {
		t.Fatal("token stored in clear")
	}
	got, err := tenants.AuthenticateAPIToken(ctx, pool, secret)
	if err != nil || got.ID != tok.ID || got.LastUsedAt == nil {
		t.Fatalf("authenticate: %+v, %v", got, err)
	}
	for _, bad := range []string{"", "spt_", secret + "x", strings.TrimPrefix(secret, "spt_")} {
		if _, err := tenants.AuthenticateAPIToken(ctx, pool, bad); !errors.Is(err, tenants.ErrBadToken) {
			t.Errorf("authenticate(%q): err = %v, want ErrBadToken", bad, err)
		}
	}
	if err := tenants.RevokeAPIToken(ctx, pool, tok.ID, tenants.ActorSystem); err != nil {
		t.Fatal(err)
	}
	if _, err := tenants.AuthenticateAPIToken(ctx, pool, secret); !errors.Is(err, tenants.ErrBadToken) {
		t.Fatalf("revoked token accepted: %v", err)
	}
}
