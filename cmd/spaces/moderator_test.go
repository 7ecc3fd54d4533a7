package main

import (
	"context"
	"strings"
	"testing"

	"github.com/assospaces/spaces/tenants"
	"github.com/assospaces/spaces/tenants/pgtest"
)

func TestModeratorCommandsUsageErrors(t *testing.T) {
	env := []string{"SPACES_DATABASE_URL=postgres://u:p@127.0.0.1:1/db"}
	for name, tc := range map[string]struct {
		args []string
		want string
	}{
		"unknown role on add": {[]string{"moderator", "add", "kim@example.org", "--role", "admin"},
			`spaces moderator add: --role "admin" is not a role; use moderator or operator`},
		"empty role on add": {[]string{"moderator", "add", "kim@example.org", "--role", ""}, `--role "" is not a role; use moderator or operator`},
		"unknown role":      {[]string{"moderator", "role", "kim@example.org", "Operator"}, `spaces moderator role: role "Operator" is not a role; use moderator or operator`},
		"role without role": {[]string{"moderator", "role", "kim@example.org"}, "want EMAIL and a role (moderator or operator), got 1 argument(s)"},
	} {
		t.Run(name, func(t *testing.T) { wantUsageError(t, env, tc.want, tc.args...) })
	}
}

func TestModeratorCommands(t *testing.T) {
	pool, dbURL := pgtest.New(t)
	ctx := context.Background()
	env := []string{"SPACES_DATABASE_URL=" + dbURL}
	run := func(args ...string) string {
		t.Helper()
		out, err := spacesCommand(t, env, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("spaces %v: %v\n%s", args, err, out)
		}
		return string(out)
	}

	if out := run("moderator", "add", "alex@example.org", "--name", "Alex Martin"); !strings.HasPrefix(out, "moderator 1 added: alex@example.org (Alex Martin), role moderator\npassword (shown once): ") {
		t.Errorf("add: %q", out)
	}
	if out := run("moderator", "add", "sam@example.org", "--role", "operator"); !strings.HasPrefix(out, "moderator 2 added: sam@example.org (sam), role operator\n") {
		t.Errorf("add --role operator: %q", out)
	}
	if out := run("moderator", "role", "Alex@example.org", "operator"); out != "moderator 1 (alex@example.org) is now operator (was moderator)\n" {
		t.Errorf("role: %q", out)
	}
	if out := run("moderator", "role", "alex@example.org", "operator"); out != "moderator 1 (alex@example.org) is already operator\n" {
		t.Errorf("role again: %q", out)
	}
	if out := run("moderator", "role", "sam@example.org", "moderator"); out != "moderator 2 (sam@example.org) is now moderator (was operator)\n" {
		t.Errorf("role moderator: %q", out)
	}
	out, err := spacesCommand(t, env, "moderator", "role", "nobody@example.org", "operator").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "no moderator with email nobody@example.org") {
		t.Errorf("unknown email: %v %q", err, out)
	}

	out2 := run("moderator", "list")
	rows := tableRows(out2)
	if h := strings.Join(rows["ID"], "|"); h != "ID|EMAIL|NAME|ROLE|STATUS|CREATED" {
		t.Fatalf("header %q:\n%s", h, out2)
	}
	if r := rows["1"]; len(r) != 6 || r[1] != "alex@example.org" || r[3] != "operator" || r[4] != "active" {
		t.Errorf("row of alex: %q\n%s", r, out2)
	}
	if r := rows["2"]; len(r) != 6 || r[3] != "moderator" {
		t.Errorf("row of sam: %q\n%s", r, out2)
	}

	// Each change of role is in the audit log under the person who ran the command.
	var n int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM audit_log WHERE action = 'moderator.role' AND actor LIKE 'cli:%'`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 2 {
		t.Errorf("%d moderator.role entries, want 2", n)
	}
	if m, err := tenants.AuthenticateModerator(ctx, pool, "alex@example.org", "x"); err == nil {
		t.Errorf("authenticated with a wrong password: %+v", m)
	}
}
