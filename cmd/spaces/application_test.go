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

	"github.com/assospaces/spaces/tenants"
	"github.com/assospaces/spaces/tenants/pgtest"
)

func TestApplicationCommandsUsageErrors(t *testing.T) {
	env := []string{"SPACES_TOKEN=spt_x", "SPACES_ADDR=http://127.0.0.1:1"}
	for name, tc := range map[string]struct {
		args []string
		want string
	}{
		"bad state":       {[]string{"application", "list", "--state", "open"}, `--state "open" is not a state; use pending, needs_info, approved, rejected, withdrawn, all`},
		"bad limit":       {[]string{"application", "list", "--limit", "0"}, "--limit 0 is out of range"},
		"bad output":      {[]string{"application", "list", "--output", "yaml"}, `--output "yaml" is not a format; use table or json`},
		"no id":           {[]string{"application", "show"}, "want ID"},
		"two ids":         {[]string{"application", "approve", "1", "2"}, "want ID, got 2"},
		"id not a number": {[]string{"application", "approve", "twelve"}, `ID must be an application number such as 12, got "twelve"`},
		"missing reason":  {[]string{"application", "reject", "12"}, "--reason is required"},
		"empty reason":    {[]string{"application", "reject", "12", "--reason", " "}, "--reason is required"},
		"missing message": {[]string{"application", "ask", "12"}, "--message is required"},
		"no limits":       {[]string{"application", "approve", "12", "--storage", "80GB"}, "unknown flag: --storage"},
	} {
		t.Run(name, func(t *testing.T) {
			out, err := spacesCommand(t, env, tc.args...).CombinedOutput()
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.ExitCode() != 2 {
				t.Fatalf("exit: %v\n%s", err, out)
			}
			if lines := strings.Split(strings.TrimSpace(string(out)), "\n"); len(lines) != 1 || !strings.Contains(lines[0], tc.want) {
				t.Errorf("output %q, want one line with %q", out, tc.want)
			}
		})
	}
	// Every command explains itself with examples.
	for _, sub := range []string{"list", "show", "approve", "reject", "ask", "reasons"} {
		out, err := spacesCommand(t, nil, "application", sub, "--help").CombinedOutput()
		if err != nil || !strings.Contains(string(out), "Examples:\n  spaces application "+sub) {
			t.Errorf("application %s --help: %v\n%s", sub, err, out)
		}
	}
}

// TestApplicationCommandsThroughTheAPI works the moderation queue with the binary against the
// real HTTP handler and database: what each command changes, mails and records.
func TestApplicationCommandsThroughTheAPI(t *testing.T) {
	pool, _ := pgtest.New(t)
	ctx := context.Background()
	srv := apiServer(t, pool)
	tok, token, err := tenants.CreateAPIToken(ctx, pool, tenants.NewAPIToken{Name: "ops", Scope: tenants.ScopeOperator}, tenants.ActorSystem)
	if err != nil {
		t.Fatal(err)
	}
	_, readToken, err := tenants.CreateAPIToken(ctx, pool, tenants.NewAPIToken{Name: "watch", Scope: tenants.ScopeRead}, tenants.ActorSystem)
	if err != nil {
		t.Fatal(err)
	}
	apps := map[int]tenants.Application{}
	for n := 1; n <= 5; n++ {
		a, err := tenants.SubmitApplication(ctx, pool, tenants.NewApplication{AssociationName: "Asso numéro " + strconv.Itoa(n),
			LegalID: "W00000000" + strconv.Itoa(n), Slug: "asso-" + strconv.Itoa(n), ContactName: "Camille",
			ContactEmail: "contact" + strconv.Itoa(n) + "@asso.example", Purpose: "Jardiner ensemble.", Activities: "Ateliers.\nFêtes.",
			ExpectedAccounts: 10 + n, Locale: "fr", StatusToken: tenants.NewSecret("st_"), SubmissionKey: tenants.NewSecret("sub_")}, nil)
		if err != nil {
			t.Fatal(err)
		}
		apps[n] = a
	}
	ref := func(n int) string { return strconv.FormatInt(apps[n].ID, 10) }
	mod, err := tenants.CreateModerator(ctx, pool, "sam@example.org", "Sam", "correct horse battery staple", tenants.ActorSystem)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tenants.ClaimApplication(ctx, pool, apps[4].ID, mod.ID); err != nil {
		t.Fatal(err)
	}
	var reasonTitle, reasonFR string
	if err := pool.QueryRow(ctx, `SELECT title, body_fr FROM rejection_reasons WHERE archived_at IS NULL ORDER BY position LIMIT 1`).
		Scan(&reasonTitle, &reasonFR); err != nil {
		t.Fatal(err)
	}

	env := []string{"SPACES_ADDR=" + srv.URL, "SPACES_TOKEN=" + token}
	run := func(stdin string, args ...string) string {
		t.Helper()
		cmd := spacesCommand(t, env, args...)
		cmd.Stdin = strings.NewReader(stdin)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("spaces %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	// fail runs a command that must fail with exit code 1 and one line holding want.
	fail := func(env []string, want string, args ...string) {
		t.Helper()
		out, err := spacesCommand(t, env, args...).CombinedOutput()
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != 1 {
			t.Errorf("spaces %v: exit %v, want 1\n%s", args, err, out)
			return
		}
		if lines := strings.Split(strings.TrimSpace(string(out)), "\n"); len(lines) != 1 || !strings.Contains(lines[0], want) {
			t.Errorf("spaces %v: %q, want one line with %q", args, out, want)
		}
	}
	stateOf := func(n int) string {
		t.Helper()
		a, err := tenants.GetApplication(ctx, pool, apps[n].ID)
		if err != nil {
			t.Fatal(err)
		}
		return string(a.State)
	}
	mailTo := func(template string, n int) map[string]any {
		t.Helper()
		var data map[string]any
		err := pool.QueryRow(ctx, `SELECT args->'data' FROM river_job WHERE kind = 'send_mail' AND args->>'template' = $1
			AND args->>'to' = $2`, template, apps[n].ContactEmail).Scan(&data)
		if err != nil {
			t.Errorf("no %s mail to %s: %v", template, apps[n].ContactEmail, err)
		}
		return data
	}
	lastAudit := func(n int) tenants.AuditEntry {
		t.Helper()
		trail, err := tenants.AuditTrail(ctx, pool, "application", apps[n].ID)
		if err != nil || len(trail) == 0 {
			t.Fatalf("audit trail: %v %v", trail, err)
		}
		return trail[len(trail)-1]
	}

	// The queue: pending, oldest first, with who claimed what and the counts.
	out := run("", "application", "list")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) < 7 || !strings.HasPrefix(lines[0], "ID ") || !strings.Contains(lines[0], "STATE") || !strings.Contains(lines[0], "CLAIMED BY") {
		t.Fatalf("list:\n%s", out)
	}
	for i := 1; i <= 5; i++ {
		row := lines[i]
		if !strings.HasPrefix(row, ref(i)+" ") || !strings.Contains(row, "pending") || !strings.Contains(row, "Asso numéro "+strconv.Itoa(i)) ||
			!strings.Contains(row, apps[i].CreatedAt.Local().Format("2006-01-02 15:04")) {
			t.Errorf("list row %d: %q", i, row)
		}
		if claimed := strings.Contains(row, "Sam until "); claimed != (i == 4) {
			t.Errorf("list row %d claim: %q", i, row)
		}
	}
	if !strings.Contains(out, "In all: 5 pending, 0 needs info, 0 approved, 0 rejected, 0 withdrawn") {
		t.Errorf("list lacks the counts:\n%s", out)
	}
	out = run("", "application", "list", "--limit", "2")
	if !strings.Contains(out, "More: spaces application list --state pending --after "+ref(2)+" --limit 2") {
		t.Errorf("list --limit 2 does not say how to go on:\n%s", out)
	}
	out = run("", "application", "list", "--state", "all", "--search", "contact3@asso.example", "--output", "json")
	var page struct {
		Applications []map[string]any `json:"applications"`
		Counts       map[string]int   `json:"counts"`
	}
	if err := json.Unmarshal([]byte(out), &page); err != nil || len(page.Applications) != 1 || page.Applications[0]["slug"] != "asso-3" ||
		page.Counts["pending"] != 5 {
		t.Errorf("list --search --output json: %v\n%s", err, out)
	}
	out = run("", "application", "list", "--state", "rejected")
	if !strings.HasPrefix(out, "no rejected applications\n") {
		t.Errorf("empty list:\n%s", out)
	}

	out = run("", "application", "show", ref(1))
	for _, want := range []string{"Application:  #" + ref(1), "State:        pending since ", "Association:  Asso numéro 1 (RNA W000000001)",
		"Address:      asso-1 (https://asso-1.spaces.test)", "Contact:      Camille <contact1@asso.example>, writes in French",
		"Accounts:     11 expected", "Purpose:\n  Jardiner ensemble.", "Activities:\n  Ateliers.\n  Fêtes.",
		"History:\n  " + apps[1].CreatedAt.Local().Format("2006-01-02 15:04") + "  the association sent its application (address: asso-1)"} {
		if !strings.Contains(out, want) {
			t.Errorf("show lacks %q:\n%s", want, out)
		}
	}
	for _, raw := range []string{"map[", "needs_info", "application.submit", "moderator:", "token:"} {
		if strings.Contains(out, raw) {
			t.Errorf("show prints %q for people:\n%s", raw, out)
		}
	}
	if regexp.MustCompile(`\dT\d\d:|Z\b|\+\d\d:\d\d`).MatchString(out) {
		t.Errorf("show prints machine timestamps:\n%s", out)
	}
	if out := run("", "application", "show", ref(4)); !strings.Contains(out, "pending since ") || !strings.Contains(out, ", claimed by Sam until ") {
		t.Errorf("show of a claimed application:\n%s", out)
	}

	// approve: the space is queued with its provisioning job, the applicant mailed, the token recorded.
	out = run("", "application", "approve", ref(1))
	if !strings.Contains(out, "application #"+ref(1)+" approved; the applicant was mailed\nspace asso-1 is queued (position 1 on the waiting list); follow it with: spaces space show asso-1") {
		t.Errorf("approve:\n%s", out)
	}
	if s := stateOf(1); s != "approved" {
		t.Errorf("approved application is %s", s)
	}
	space, err := tenants.GetSpaceBySlug(ctx, pool, "asso-1")
	if err != nil || space.State != tenants.SpaceQueued {
		t.Errorf("space: %+v %v", space, err)
	}
	var provisions int
	pool.QueryRow(ctx, `SELECT count(*) FROM river_job WHERE kind = 'provision_space' AND (args->>'space_id')::bigint = $1`, space.ID).Scan(&provisions) //nolint:errcheck
	if provisions != 1 {
		t.Errorf("%d provisioning jobs", provisions)
	}
	if m := mailTo("approved", 1); m["Address"] != "https://asso-1.spaces.test" {
		t.Errorf("approval mail: %v", m)
	}
	if a := lastAudit(1); a.Actor != tenants.TokenActor(tok.ID) || a.Action != "application.approve" {
		t.Errorf("approval audited as %+v", a)
	}

	// reject, by title, with a note: the reason in the applicant's language then the note.
	out = run("", "application", "reject", ref(2), "--reason", reasonTitle, "--note", "Bonne continuation.")
	if !strings.Contains(out, "application #"+ref(2)+" rejected; the applicant was mailed the reason:\n  "+reasonFR+"\n\n  Bonne continuation.") {
		t.Errorf("reject:\n%s", out)
	}
	if s := stateOf(2); s != "rejected" {
		t.Errorf("rejected application is %s", s)
	}
	if m := mailTo("rejected", 2); m["Reason"] != reasonFR+"\n\nBonne continuation." {
		t.Errorf("rejection mail: %v", m)
	}
	if a := lastAudit(2); a.Actor != tenants.TokenActor(tok.ID) || a.Action != "application.reject" || a.Detail["reason"] != reasonTitle {
		t.Errorf("rejection audited as %+v", a)
	}

	// ask, the message read from standard input.
	out = run("Pourriez-vous nous envoyer vos statuts ?\nMerci.\n", "application", "ask", ref(3), "--message", "-")
	if !strings.Contains(out, "application #"+ref(3)+" now waits for the applicant's answer (needs info); the question was mailed") {
		t.Errorf("ask:\n%s", out)
	}
	if s := stateOf(3); s != "needs_info" {
		t.Errorf("asked application is %s", s)
	}
	if m := mailTo("needs_info", 3); m["Question"] != "Pourriez-vous nous envoyer vos statuts ?\nMerci." {
		t.Errorf("question mail: %v", m)
	}
	if a := lastAudit(3); a.Actor != tenants.TokenActor(tok.ID) || a.Action != "application.ask_info" {
		t.Errorf("question audited as %+v", a)
	}
	out = run("", "application", "show", ref(3))
	for _, want := range []string{"State:        needs info since", "Conversation:\n", "  the team:\n    Pourriez-vous nous envoyer vos statuts ?\n    Merci.",
		"an operator (token ops) asked the association for more information"} {
		if !strings.Contains(out, want) {
			t.Errorf("show after ask lacks %q:\n%s", want, out)
		}
	}
	out = run("", "application", "list", "--state", "all")
	if !strings.Contains(out, "In all: 2 pending, 1 needs info, 1 approved, 1 rejected, 0 withdrawn") {
		t.Errorf("counts after the decisions:\n%s", out)
	}

	// Refusals: the API's message, exit code 1, nothing changed.
	fail(env, "no application #999999", "application", "show", "999999")
	fail(env, "no application #999999", "application", "approve", "999999")
	fail(env, "application #"+ref(2)+" is rejected; only pending or needs_info applications can be approved", "application", "approve", ref(2))
	fail(env, "application #"+ref(3)+" is needs_info; only pending applications can be asked for more information",
		"application", "ask", ref(3), "--message", "Encore ?")
	fail(env, "application #"+ref(4)+" is claimed by moderator Sam until ", "application", "approve", ref(4))
	fail(env, `no saved rejection reason "Trop tard"; the reasons are "`+reasonTitle+`"`, "application", "reject", ref(5), "--reason", "Trop tard")
	fail(env, "message holds the character U+202E", "application", "ask", ref(5), "--message", "voir \u202e ici")
	readEnv := []string{"SPACES_ADDR=" + srv.URL, "SPACES_TOKEN=" + readToken}
	fail(readEnv, "this token is read-only", "application", "approve", ref(5))
	fail(readEnv, "this token is read-only", "application", "reject", ref(5), "--reason", reasonTitle)
	fail(readEnv, "this token is read-only", "application", "ask", ref(5), "--message", "Une question")
	if out, err := spacesCommand(t, readEnv, "application", "show", ref(5)).CombinedOutput(); err != nil {
		t.Errorf("show with a read-only token: %v\n%s", err, out)
	}
	for _, n := range []int{4, 5} {
		if s := stateOf(n); s != "pending" {
			t.Errorf("application %d is %s after refused decisions", n, s)
		}
	}

	out = run("", "application", "reasons")
	if !strings.HasPrefix(out, "ID  TITLE") || !strings.Contains(out, reasonTitle) {
		t.Errorf("reasons:\n%s", out)
	}

	// Completion: ids with the association and state, in the order asked; silent when it fails.
	complete := func(env []string, args ...string) []string {
		t.Helper()
		cmd := spacesCommand(t, env, append([]string{"__complete"}, args...)...)
		b, err := cmd.Output()
		if err != nil {
			t.Fatalf("__complete %v: %v", args, err)
		}
		return strings.Split(strings.TrimSpace(string(b)), "\n")
	}
	got := complete(env, "application", "show", "")
	want := []string{ref(4) + "\tAsso numéro 4 (pending)", ref(5) + "\tAsso numéro 5 (pending)", ref(3) + "\tAsso numéro 3 (needs info)",
		ref(2) + "\tAsso numéro 2 (rejected)", ref(1) + "\tAsso numéro 1 (approved)", ":36"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("completion of show:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if got := complete(env, "application", "ask", ""); strings.Join(got, "|") != ref(4)+"\tAsso numéro 4 (pending)|"+ref(5)+"\tAsso numéro 5 (pending)|:36" {
		t.Errorf("completion of ask: %q", got)
	}
	if got := complete(env, "application", "approve", ref(3)); strings.Join(got, "|") != ref(3)+"\tAsso numéro 3 (needs info)|:36" {
		t.Errorf("completion of approve with a prefix: %q", got)
	}
	if got := complete(env, "application", "reject", ref(5), "--reason", strings.ToLower(reasonTitle[:3])); len(got) != 2 || !strings.HasPrefix(got[0], reasonTitle+"\t") {
		t.Errorf("completion of --reason: %q", got)
	}
	for _, bad := range [][]string{{"SPACES_ADDR=" + srv.URL, "SPACES_TOKEN=spt_wrong"}, {"SPACES_ADDR=http://127.0.0.1:1", "SPACES_TOKEN=" + token}, {"SPACES_TOKEN="}} {
		if got := complete(bad, "application", "approve", ""); strings.Join(got, "|") != ":36" {
			t.Errorf("completion with %v is not silent: %q", bad, got)
		}
	}
}
