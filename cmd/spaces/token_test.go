package main

import (
	"context"
	"encoding/json"
	"errors"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/assospaces/spaces/tenants"
	"github.com/assospaces/spaces/tenants/pgtest"
)

// wantUsageError runs spaces with args and checks that it exits with code 2 and one line
// holding want.
func wantUsageError(t *testing.T, env []string, want string, args ...string) {
	t.Helper()
	out, err := spacesCommand(t, env, args...).CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 2 {
		t.Errorf("spaces %v: exit %v, want 2\n%s", args, err, out)
		return
	}
	if lines := strings.Split(strings.TrimSpace(string(out)), "\n"); len(lines) != 1 || !strings.Contains(lines[0], want) {
		t.Errorf("spaces %v: output %q, want one line with %q", args, out, want)
	}
}

// tableRows splits a table printed with tabwriter into its cells, by the header's first cell.
func tableRows(out string) map[string][]string {
	rows := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		f := regexp.MustCompile(`\s{2,}`).Split(strings.TrimSpace(line), -1)
		rows[f[0]] = f
	}
	return rows
}

func TestTokenCommandsUsageErrors(t *testing.T) {
	env := []string{"SPACES_DATABASE_URL=postgres://u:p@127.0.0.1:1/db"}
	for name, tc := range map[string]struct {
		args []string
		want string
	}{
		"unknown scope":     {[]string{"token", "create", "x", "--scope", "admin"}, `spaces token create: --scope "admin" is not a scope; use operator, read or forward`},
		"empty scope":       {[]string{"token", "create", "x", "--scope", ""}, `--scope "" is not a scope; use operator, read or forward`},
		"bad expiry":        {[]string{"token", "create", "x", "--expires", "soon"}, `--expires "soon" is not an expiry; use a number of days such as 90d or a date such as 2027-01-31`},
		"negative expiry":   {[]string{"token", "create", "x", "--expires", "-5d"}, `--expires "-5d" is not an expiry`},
		"expiry in past":    {[]string{"token", "create", "x", "--expires", "2020-01-31"}, `--expires "2020-01-31" is not in the future`},
		"no name":           {[]string{"token", "create", "--scope", "read"}, "want NAME"},
		"bad output":        {[]string{"token", "list", "--output", "xml"}, `--output "xml" is not a format; use table or json`},
		"list takes no arg": {[]string{"token", "list", "ops"}, "want no arguments, got 1"},
	} {
		t.Run(name, func(t *testing.T) { wantUsageError(t, env, tc.want, tc.args...) })
	}
}

func TestTokenCommands(t *testing.T) {
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
	created := regexp.MustCompile(`^token (\d+) \(([^)]*)\) created; shown once:\n(spt_\S+)\n$`)
	create := func(args ...string) (int64, string, string) {
		t.Helper()
		out := run(append([]string{"token", "create"}, args...)...)
		m := created.FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("token create %v: %q", args, out)
		}
		id, _ := strconv.ParseInt(m[1], 10, 64)
		return id, m[2], m[3]
	}

	opsID, opsText, opsSecret := create("ops")
	if opsText != "ops, scope operator, never expires" {
		t.Errorf("create ops: %q", opsText)
	}
	if tok, err := tenants.AuthenticateAPIToken(ctx, pool, opsSecret); err != nil || !tok.CanOperate() || tok.ExpiresAt != nil {
		t.Errorf("the printed operator token: %+v, %v", tok, err)
	}
	before := time.Now()
	_, grafanaText, grafanaSecret := create("grafana", "--scope", "read", "--expires", "90d")
	if !strings.HasPrefix(grafanaText, "grafana, scope read, expires "+before.Add(90*24*time.Hour).Format("2006-01-02")) {
		t.Errorf("create grafana: %q", grafanaText)
	}
	tok, err := tenants.AuthenticateAPIToken(ctx, pool, grafanaSecret)
	if err != nil || tok.CanOperate() || tok.ExpiresAt == nil || tok.ExpiresAt.Sub(before) < 90*24*time.Hour || tok.ExpiresAt.Sub(before) > 90*24*time.Hour+time.Minute {
		t.Errorf("the printed read token: %+v, %v", tok, err)
	}
	contractorID, contractorText, _ := create("contractor", "--expires", "2099-01-31")
	wantExpiry := time.Date(2099, 1, 31, 0, 0, 0, 0, time.Local)
	if contractorText != "contractor, scope operator, expires "+wantExpiry.Format("2006-01-02 15:04 MST") {
		t.Errorf("create contractor: %q", contractorText)
	}
	if out := run("token", "revoke", strconv.FormatInt(opsID, 10)); out != "token "+strconv.FormatInt(opsID, 10)+" revoked\n" {
		t.Errorf("revoke: %q", out)
	}
	if _, err := pool.Exec(ctx, `UPDATE api_tokens SET expires_at = now() - interval '1 day' WHERE id = $1`, contractorID); err != nil {
		t.Fatal(err)
	}
	if _, err := tenants.AuthenticateAPIToken(ctx, pool, grafanaSecret); err != nil {
		t.Fatal(err)
	}

	out := run("token", "list")
	rows := tableRows(out)
	if h := rows["ID"]; strings.Join(h, "|") != "ID|NAME|SCOPE|CREATED|LAST USED|EXPIRES|STATE" {
		t.Fatalf("header %q:\n%s", h, out)
	}
	today := time.Now().Format("2006-01-02")
	for name, want := range map[string][]string{
		"ops":        {"ops", "operator", today, today, "—", "revoked"},
		"grafana":    {"grafana", "read", today, today, tok.ExpiresAt.Local().Format("2006-01-02 15:04"), "active"},
		"contractor": {"contractor", "operator", today, "—", time.Now().Add(-24 * time.Hour).Format("2006-01-02"), "expired"},
	} {
		var row []string
		for _, r := range rows {
			if len(r) > 1 && r[1] == name {
				row = r
			}
		}
		if len(row) != 7 || row[2] != want[1] || !strings.HasPrefix(row[3], want[2]) || !strings.HasPrefix(row[4], want[3]) ||
			!strings.HasPrefix(row[5], want[4]) || row[6] != want[5] {
			t.Errorf("row of %s: %q, want %q\n%s", name, row, want, out)
		}
	}

	var listed struct {
		Tokens []map[string]any `json:"tokens"`
	}
	out = run("token", "list", "--output", "json")
	if err := json.Unmarshal([]byte(out), &listed); err != nil || len(listed.Tokens) != 3 {
		t.Fatalf("list --output json: %v\n%s", err, out)
	}
	for i, want := range [][3]string{{"ops", "operator", "revoked"}, {"grafana", "read", "active"}, {"contractor", "operator", "expired"}} {
		tk := listed.Tokens[i]
		if tk["name"] != want[0] || tk["scope"] != want[1] || tk["state"] != want[2] || tk["created_at"] == nil {
			t.Errorf("json token %d: %v, want %v", i, tk, want)
		}
		if _, hash := tk["token_hash"]; hash {
			t.Errorf("json token %d carries its hash: %v", i, tk)
		}
	}
	if listed.Tokens[1]["expires_at"] == nil || listed.Tokens[1]["last_used_at"] == nil || listed.Tokens[0]["revoked_at"] == nil {
		t.Errorf("json dates: %v", listed.Tokens)
	}
	for _, args := range [][]string{{"token", "create"}, {"token", "list"}, {"token", "revoke"}, {"audit", "list"}} {
		if out := run(append(args, "--help")...); !strings.Contains(out, "Examples:") || !strings.Contains(out, "spaces "+strings.Join(args, " ")) {
			t.Errorf("spaces %v --help has no example:\n%s", args, out)
		}
	}
	if out := run("token", "create", "--help"); !strings.Contains(out, "operator (the default") {
		t.Errorf("token create --help does not name the default scope:\n%s", out)
	}
}
