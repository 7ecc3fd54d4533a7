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

	"github.com/assospaces/spaces/quota"
	"github.com/assospaces/spaces/tenants"
	"github.com/assospaces/spaces/tenants/pgtest"
)

func TestAuditCommandUsageErrors(t *testing.T) {
	env := []string{"SPACES_TOKEN=spt_x", "SPACES_ADDR=http://127.0.0.1:1"}
	for name, tc := range map[string]struct {
		args []string
		want string
	}{
		"bad since":      {[]string{"audit", "list", "--since", "yesterday"}, `spaces audit list: --since "yesterday" is not a time; use a number of days such as 7d, a duration such as 12h or a date such as 2026-11-01`},
		"negative since": {[]string{"audit", "list", "--since", "-7d"}, `--since "-7d" is not a time`},
		"zero limit":     {[]string{"audit", "list", "--limit", "0"}, `--limit 0 is not a number of entries; use a whole number from 1`},
		"word limit":     {[]string{"audit", "list", "--limit", "all"}, `invalid argument "all" for "--limit"`},
		"bad output":     {[]string{"audit", "list", "-o", "yaml"}, `--output "yaml" is not a format; use table or json`},
		"unknown flag":   {[]string{"audit", "list", "--subject", "x"}, "unknown flag: --subject"},
		"an argument":    {[]string{"audit", "list", "beta"}, "want no arguments, got 1"},
	} {
		t.Run(name, func(t *testing.T) { wantUsageError(t, env, tc.want, tc.args...) })
	}
}

// TestAuditCommandThroughTheAPI runs audit list against the real HTTP handler: every filter, the
// names behind the actors, readable details.
func TestAuditCommandThroughTheAPI(t *testing.T) {
	pool, _ := pgtest.New(t)
	ctx := context.Background()
	srv := apiServer(t, pool)
	m, err := tenants.CreateModerator(ctx, pool, "alex@example.org", "Alex Martin", "a long enough password", tenants.ActorSystem)
	if err != nil {
		t.Fatal(err)
	}
	ops, token, err := tenants.CreateAPIToken(ctx, pool, tenants.NewAPIToken{Name: "ops", Scope: tenants.ScopeOperator}, tenants.ActorSystem)
	if err != nil {
		t.Fatal(err)
	}
	_, readToken, err := tenants.CreateAPIToken(ctx, pool, tenants.NewAPIToken{Name: "grafana", Scope: tenants.ScopeRead}, tenants.ActorSystem)
	if err != nil {
		t.Fatal(err)
	}
	beta, err := tenants.CreateSpace(ctx, pool, tenants.NewSpace{Slug: "beta", AssociationName: "Asso beta", ContactEmail: "beta@example.org",
		Limits: quota.Limits{StorageBytes: 40 * quota.GB, Accounts: 50}}, tenants.ModeratorActor(m.ID))
	if err != nil {
		t.Fatal(err)
	}
	gamma, err := tenants.CreateSpace(ctx, pool, tenants.NewSpace{Slug: "gamma", AssociationName: "Asso gamma", ContactEmail: "gamma@example.org",
		Limits: quota.Limits{StorageBytes: 40 * quota.GB, Accounts: 50}}, tenants.ActorSystem)
	if err != nil {
		t.Fatal(err)
	}
	for _, to := range []tenants.SpaceState{tenants.SpaceProvisioning, tenants.SpaceFailed} {
		if _, err := tenants.TransitionSpace(ctx, pool, beta.ID, tenants.Transition{To: to, Actor: tenants.ActorReconciler,
			Reason: "health: not healthy after 5m0s"}); err != nil {
			t.Fatal(err)
		}
	}
	if err := tenants.RecordAudit(ctx, pool, tenants.AuditEntry{Actor: tenants.ActorReconciler, Action: "space.storage_level",
		SubjectType: "space", SubjectID: gamma.ID, Detail: map[string]any{"from": "ok", "to": "80%", "used_bytes": 34 * quota.GB, "limit_bytes": 40 * quota.GB}}); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `UPDATE audit_log SET at = '2026-01-15T09:00:00Z' WHERE action = 'moderator.create'`); err != nil {
		t.Fatal(err)
	}
	env := []string{"SPACES_ADDR=" + srv.URL, "SPACES_TOKEN=" + token}
	// run gives what spaces prints on its standard output.
	run := func(t *testing.T, args ...string) string {
		t.Helper()
		cmd := spacesCommand(t, env, args...)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("spaces %v: %v\n%s%s", args, err, out, stderr.String())
		}
		return string(out)
	}
	// The retry goes through the API with the ops token: the log has it under the token's name.
	run(t, "space", "retry", "beta")
	opsActor := "ops (token:" + strconv.FormatInt(ops.ID, 10) + ")"

	// rowsOf reads the table: every line after the header, cut into its six columns.
	rowsOf := func(t *testing.T, out string) [][]string {
		t.Helper()
		lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
		if len(lines) == 0 || !regexp.MustCompile(`^AT\s+ACTOR\s+ACTION\s+SUBJECT\s+FROM→TO\s+DETAIL$`).MatchString(lines[0]) {
			t.Fatalf("no header:\n%s", out)
		}
		var rows [][]string
		for _, l := range lines[1:] {
			f := regexp.MustCompile(`\s{2,}`).Split(l, -1)
			if len(f) != 6 {
				t.Fatalf("row %q has %d columns:\n%s", l, len(f), out)
			}
			rows = append(rows, f)
		}
		return rows
	}
	column := func(rows [][]string, i int) []string {
		var out []string
		for _, r := range rows {
			out = append(out, r[i])
		}
		return out
	}

	out := run(t, "audit", "list")
	rows := rowsOf(t, out)
	if len(rows) != 9 {
		t.Fatalf("audit list: %d rows, want 9:\n%s", len(rows), out)
	}
	wantTop := [][]string{
		{opsActor, "space.retry", "space beta", "failed→queued", "—"},
		{"system:reconciler", "space.storage_level", "space gamma", "—", "before: under 80%, after: 80% reached, limit: 40 GB, used: 34 GB"},
		{"system:reconciler", "space.failed", "space beta", "provisioning→failed", "reason: health: not healthy after 5m0s"},
		{"system:reconciler", "space.provisioning", "space beta", "queued→provisioning", "reason: health: not healthy after 5m0s"},
		{"system", "space.create", "space gamma", "→queued", "limits: 40 GB, 50 accounts, address: gamma"},
		{"Alex Martin (moderator:" + strconv.FormatInt(m.ID, 10) + ")", "space.create", "space beta", "→queued", "limits: 40 GB, 50 accounts, address: beta"},
	}
	for i, want := range wantTop {
		if got := rows[i][1:]; strings.Join(got, "|") != strings.Join(want, "|") {
			t.Errorf("row %d: %q\nwant    %q", i, got, want)
		}
	}
	if !strings.HasPrefix(rows[0][0], time.Now().Format("2006-01-02")) {
		t.Errorf("AT %q is not today", rows[0][0])
	}
	if strings.Contains(out, "e+10") || strings.Contains(out, "map[") {
		t.Errorf("a detail is not readable:\n%s", out)
	}

	for name, tc := range map[string]struct {
		args []string
		want []string
	}{
		"space":               {[]string{"--space", "beta"}, []string{"space.retry", "space.failed", "space.provisioning", "space.create"}},
		"token name":          {[]string{"--actor", "ops"}, []string{"space.retry"}},
		"moderator email":     {[]string{"--actor", "Alex@example.org"}, []string{"space.create"}},
		"raw actor":           {[]string{"--actor", "system:reconciler", "--space", "gamma"}, []string{"space.storage_level"}},
		"raw token actor":     {[]string{"--actor", "token:" + strconv.FormatInt(ops.ID, 10)}, []string{"space.retry"}},
		"since an age":        {[]string{"--actor", "system", "--since", "7d"}, []string{"space.create", "token.create", "token.create"}},
		"since a date":        {[]string{"--actor", "system", "--since", "2026-01-01"}, []string{"space.create", "token.create", "token.create", "moderator.create"}},
		"since an RFC 3339":   {[]string{"--actor", "system", "--since", "2026-01-15T09:00:01Z"}, []string{"space.create", "token.create", "token.create"}},
		"limit":               {[]string{"--limit", "2"}, []string{"space.retry", "space.storage_level"}},
		"limit past one page": {[]string{"--limit", "1001", "--space", "gamma"}, []string{"space.storage_level", "space.create"}},
	} {
		t.Run(name, func(t *testing.T) {
			out := run(t, append([]string{"audit", "list"}, tc.args...)...)
			if got := column(rowsOf(t, out), 2); strings.Join(got, " ") != strings.Join(tc.want, " ") {
				t.Errorf("actions %q, want %q\n%s", got, tc.want, out)
			}
		})
	}
	// Cut by --limit, the command says on its standard error that there may be more.
	if b, _ := spacesCommand(t, env, "audit", "list", "--limit", "2").CombinedOutput(); !strings.HasSuffix(string(b),
		"\n(the 2 newest entries; there may be older ones: raise --limit)\n") {
		t.Errorf("no word of older entries:\n%s", b)
	}
	if b, _ := spacesCommand(t, env, "audit", "list", "--limit", "50").CombinedOutput(); strings.Contains(string(b), "older ones") {
		t.Errorf("word of older entries when there are none:\n%s", b)
	}
	if out := run(t, "audit", "list", "--space", "beta", "--actor", "applicant"); out != "no audit entries\n" {
		t.Errorf("nothing to list: %q", out)
	}

	out = run(t, "audit", "list", "--space", "beta", "--output", "json")
	var listed struct {
		Entries []map[string]any `json:"entries"`
	}
	if err := json.Unmarshal([]byte(out), &listed); err != nil || len(listed.Entries) != 4 {
		t.Fatalf("--output json: %v\n%s", err, out)
	}
	if e := listed.Entries[0]; e["actor"] != "token:"+strconv.FormatInt(ops.ID, 10) || e["actor_name"] != "ops" || e["subject_name"] != "beta" {
		t.Errorf("json entry: %v", e)
	}
	if d := listed.Entries[1]["detail"].(map[string]any); d["reason"] != "health: not healthy after 5m0s" {
		t.Errorf("json detail: %v", d)
	}

	// A read token lists the audit log too.
	readEnv := []string{"SPACES_ADDR=" + srv.URL, "SPACES_TOKEN=" + readToken}
	if out, err := spacesCommand(t, readEnv, "audit", "list", "--limit", "1").CombinedOutput(); err != nil || !strings.Contains(string(out), "space.retry") {
		t.Errorf("with a read token: %v\n%s", err, out)
	}
	// What the server refuses: exit 1 with its message.
	for args, want := range map[string]string{
		"--space nope":   "no space named nope (space) [not_found, HTTP 404]",
		"--actor nobody": "no API token, moderator or actor named nobody",
	} {
		b, err := spacesCommand(t, env, append([]string{"audit", "list"}, strings.Fields(args)...)...).CombinedOutput()
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != 1 || !strings.Contains(string(b), want) {
			t.Errorf("audit list %s: %v %s", args, err, b)
		}
	}
	// Past a page of the API (1000 entries), the command asks for the next one.
	if _, err := pool.Exec(ctx, `INSERT INTO audit_log (actor, action, subject_type, subject_id)
		SELECT 'system:bulk', 'space.touch_' || n, 'space', $1 FROM generate_series(1, 1005) n`, gamma.ID); err != nil {
		t.Fatal(err)
	}
	rows = rowsOf(t, run(t, "audit", "list", "--actor", "system:bulk", "--limit", "1003"))
	if len(rows) != 1003 || rows[0][2] != "space.touch_1005" || rows[1002][2] != "space.touch_3" {
		t.Errorf("two pages: %d rows, from %v to %v", len(rows), rows[0], rows[len(rows)-1])
	}
	rows = rowsOf(t, run(t, "audit", "list", "--space", "gamma", "--limit", "5000"))
	if len(rows) != 1007 || rows[1005][2] != "space.storage_level" || rows[1006][2] != "space.create" {
		t.Errorf("every page: %d rows", len(rows))
	}

	// An expired token is told so.
	if _, err := pool.Exec(ctx, `UPDATE api_tokens SET expires_at = '2026-03-01T10:00:00Z' WHERE id = $1`, ops.ID); err != nil {
		t.Fatal(err)
	}
	b, _ := spacesCommand(t, env, "audit", "list").CombinedOutput()
	if !strings.Contains(string(b), "the token expired on 2026-03-01 10:00 UTC") || !strings.Contains(string(b), "token_expired, HTTP 401") {
		t.Errorf("expired token: %s", b)
	}
}
