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
	tok, secret, err := tenants.CreateAPIToken(ctx, pool, tenants.NewAPIToken{Name: "ci", Scope: tenants.ScopeOperator}, tenants.ActorSystem)
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

func TestModeratorRoles(t *testing.T) {
	ctx := context.Background()
	pool, _ := pgtest.New(t)
	m, err := tenants.CreateModerator(ctx, pool, "alex@example.org", "Alex", "correct horse battery", tenants.ActorSystem)
	if err != nil {
		t.Fatal(err)
	}
	if m.Role != tenants.RoleModerator || m.CanOperate() {
		t.Fatalf("a new moderator: role %q, can operate %v; want a plain moderator", m.Role, m.CanOperate())
	}
	op, err := tenants.CreateModeratorWithRole(ctx, pool, "sam@example.org", "Sam", "correct horse battery", tenants.RoleOperator, tenants.ActorSystem)
	if err != nil || op.Role != tenants.RoleOperator || !op.CanOperate() {
		t.Fatalf("create an operator: %+v, %v", op, err)
	}
	var roleErr *tenants.RoleError
	if _, err := tenants.CreateModeratorWithRole(ctx, pool, "kim@example.org", "Kim", "correct horse battery", "admin", tenants.ActorSystem); !errors.As(err, &roleErr) {
		t.Fatalf("create with role admin: err = %v, want a RoleError", err)
	}

	// Promoted: the role is read at login and by every session, so it applies at the next request.
	got, before, err := tenants.SetModeratorRole(ctx, pool, " ALEX@example.org", tenants.RoleOperator, tenants.Actor("cli:camille"))
	if err != nil || before != tenants.RoleModerator || got.Role != tenants.RoleOperator || got.ID != m.ID {
		t.Fatalf("promote: %+v (before %q), %v", got, before, err)
	}
	secret, _, err := tenants.CreateSession(ctx, pool, m.ID, "test")
	if err != nil {
		t.Fatal(err)
	}
	if s, err := tenants.SessionModerator(ctx, pool, secret); err != nil || !s.CanOperate() {
		t.Fatalf("session after promotion: %+v, %v", s, err)
	}
	if a, err := tenants.AuthenticateModerator(ctx, pool, "alex@example.org", "correct horse battery"); err != nil || a.Role != tenants.RoleOperator {
		t.Fatalf("login after promotion: %+v, %v", a, err)
	}
	// The same role again changes and records nothing.
	if _, before, err := tenants.SetModeratorRole(ctx, pool, "alex@example.org", tenants.RoleOperator, tenants.ActorSystem); err != nil || before != tenants.RoleOperator {
		t.Fatalf("same role: before %q, %v", before, err)
	}
	// Back to read-only on spaces, seen by the live session at once.
	if _, _, err := tenants.SetModeratorRole(ctx, pool, "alex@example.org", tenants.RoleModerator, tenants.ActorSystem); err != nil {
		t.Fatal(err)
	}
	if s, err := tenants.SessionModerator(ctx, pool, secret); err != nil || s.CanOperate() || s.Role != tenants.RoleModerator {
		t.Fatalf("session after demotion: %+v, %v", s, err)
	}
	if _, _, err := tenants.SetModeratorRole(ctx, pool, "alex@example.org", "root", tenants.ActorSystem); !errors.As(err, &roleErr) {
		t.Fatalf("role root: err = %v, want a RoleError", err)
	}
	if _, _, err := tenants.SetModeratorRole(ctx, pool, "nobody@example.org", tenants.RoleOperator, tenants.ActorSystem); !errors.Is(err, tenants.ErrNotFound) {
		t.Fatalf("unknown email: err = %v, want ErrNotFound", err)
	}

	trail, err := tenants.AuditTrail(ctx, pool, "moderator", m.ID)
	if err != nil {
		t.Fatal(err)
	}
	var roles []string
	for _, e := range trail {
		if e.Action == "moderator.role" {
			roles = append(roles, string(e.Actor)+" "+e.Detail["from"].(string)+"→"+e.Detail["to"].(string))
		}
	}
	if strings.Join(roles, ", ") != "cli:camille moderator→operator, system operator→moderator" {
		t.Errorf("role changes in the audit log: %q", roles)
	}
	if trail[0].Action != "moderator.create" || trail[0].Detail["role"] != "moderator" {
		t.Errorf("creation entry: %+v", trail[0])
	}
	list, err := tenants.ListModerators(ctx, pool)
	if err != nil || len(list) != 2 || list[0].Role != tenants.RoleModerator || list[1].Role != tenants.RoleOperator {
		t.Errorf("list: %+v, %v", list, err)
	}
}
