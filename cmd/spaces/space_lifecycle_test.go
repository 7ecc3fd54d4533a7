package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/assospaces/spaces/quota"
	"github.com/assospaces/spaces/tenants"
	"github.com/assospaces/spaces/tenants/pgtest"
)

// lifecycleServer is the real handler on a test database, and the environment that points the
// binary at it with an operator token.
func lifecycleServer(t *testing.T) (*pgxpool.Pool, []string) {
	t.Helper()
	pool, _ := pgtest.New(t)
	srv := apiServer(t, pool)
	_, token, err := tenants.CreateAPIToken(context.Background(), pool, tenants.NewAPIToken{Name: "ops", Scope: tenants.ScopeOperator}, tenants.ActorSystem)
	if err != nil {
		t.Fatal(err)
	}
	return pool, []string{"SPACES_ADDR=" + srv.URL, "SPACES_TOKEN=" + token, "TZ=UTC"}
}

// lifecycleSpace makes a space in state, 40 GB for 50 accounts, whose generation is observed and
// whose job runs healthy (as the reconciler would report it) when it runs.
func lifecycleSpace(t *testing.T, pool *pgxpool.Pool, slug string, state tenants.SpaceState) tenants.Space {
	t.Helper()
	ctx := context.Background()
	s, err := tenants.CreateSpace(ctx, pool, tenants.NewSpace{Slug: slug, AssociationName: "Asso " + slug, ContactEmail: slug + "@example.org",
		Limits: quota.Limits{StorageBytes: 40 * quota.GB, Accounts: 50}}, tenants.ActorSystem)
	if err != nil {
		t.Fatal(err)
	}
	path := map[tenants.SpaceState][]tenants.SpaceState{
		tenants.SpaceQueued:    nil,
		tenants.SpaceActive:    {tenants.SpaceProvisioning, tenants.SpaceActive},
		tenants.SpaceSuspended: {tenants.SpaceProvisioning, tenants.SpaceActive, tenants.SpaceSuspended},
		tenants.SpaceDeleting:  {tenants.SpaceProvisioning, tenants.SpaceActive, tenants.SpaceDeleting},
		tenants.SpaceFailed:    {tenants.SpaceProvisioning, tenants.SpaceFailed},
	}[state]
	for _, to := range path {
		s, err = tenants.TransitionSpace(ctx, pool, s.ID, tenants.Transition{To: to, Actor: tenants.ActorReconciler,
			Reason: "bootstrap: Nextcloud answered 503", DeleteAfter: time.Now().Add(30 * 24 * time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
	}
	if state != tenants.SpaceQueued && state != tenants.SpaceFailed {
		if err := tenants.RecordObservation(ctx, pool, s.ID, s.Generation, []tenants.Condition{
			{Type: "Healthy", Status: "True", Reason: "AllocationHealthy", Message: "allocation 4f2a at 10.0.0.3:2300"},
			{Type: "Drifted", Status: "False", Reason: "InSync", Message: "job space-" + slug + " runs generation as decided"},
		}, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

// runSpaces runs the binary and returns its standard output, its standard error and its exit code.
func runSpaces(t *testing.T, env []string, args ...string) (string, string, int) {
	t.Helper()
	cmd := spacesCommand(t, env, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("spaces %v: %v", args, err)
	}
	code := 0
	if exit != nil {
		code = exit.ExitCode()
	}
	return stdout.String(), stderr.String(), code
}

func TestSpaceLifecycleCommands(t *testing.T) {
	pool, env := lifecycleServer(t)
	ctx := context.Background()
	amis := lifecycleSpace(t, pool, "amis", tenants.SpaceActive)
	lifecycleSpace(t, pool, "attente", tenants.SpaceQueued)
	now := time.Now()
	if err := tenants.RecordUsage(ctx, pool, tenants.Usage{SpaceID: amis.ID, UsedBytes: 20 * quota.GB, AccountsEnabled: 10}, now, now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	gen := amis.Generation
	ok := func(args ...string) string {
		t.Helper()
		out, errOut, code := runSpaces(t, env, args...)
		if code != 0 || errOut != "" {
			t.Fatalf("spaces %v: exit %d\n%s%s", args, code, out, errOut)
		}
		return out
	}
	line := func(what, out, want string) {
		t.Helper()
		if out != want+"\n" {
			t.Errorf("%s printed\n%q\nwant\n%q", what, out, want+"\n")
		}
	}

	gen++
	line("resize", ok("space", "resize", "amis", "--storage", "80GB"),
		"space amis resized (generation 2): storage 40 GB → 80 GB; the reconciler applies it to Nextcloud's user limit and quotas.")
	gen++
	line("resize, forced", ok("space", "resize", "amis", "--storage", "10 GB", "--accounts", "5", "--force"),
		"space amis resized (generation 3): storage 80 GB → 10 GB, accounts 50 → 5, below what it uses (forced); the reconciler applies it to Nextcloud's user limit and quotas.")
	var v spaceView
	gen++
	if err := json.Unmarshal([]byte(ok("space", "resize", "amis", "--accounts", "60", "--storage", "60GB", "--output", "json")), &v); err != nil ||
		v.Space.Limits != (quota.Limits{StorageBytes: 60 * quota.GB, Accounts: 60}) || v.Space.Generation != gen {
		t.Errorf("resize --output json: %v %+v", err, v.Space)
	}
	line("resize of a queued space", ok("space", "resize", "attente", "--accounts", "20"),
		"space attente resized (generation 2): accounts 50 → 20; the space is provisioned with these limits.")

	gen++
	line("suspend", ok("space", "suspend", "amis", "--reason", "Unpaid hosting since March"),
		"space amis suspended (generation 5); its people see Nextcloud's maintenance page once the reconciler applies it (their files stay); the contact was mailed the reason.")
	out := ok("space", "show", "amis")
	for _, want := range []string{"State:              suspended since ", "Suspended because:  Unpaid hosting since March\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("show of a suspended space lacks %q:\n%s", want, out)
		}
	}
	// Its decisions, newest first, under the token's name, with their details as text.
	if !regexp.MustCompile(`(?m)^Decisions \(the last \d+, newest first; all of them: spaces audit list --space amis\):\n  \d{4}-\d\d-\d\d \d\d:\d\d +\S+ \(token:\d+\) +space\.suspend +active→suspended +.*Unpaid hosting since March`).MatchString(out) ||
		!strings.Contains(out, "Nomad job:          space-amis (allocation 4f2a at 10.0.0.3:2300)\n") {
		t.Errorf("show of a suspended space lacks its job or its last decision:\n%s", out)
	}
	out = ok("space", "list", "--state", "suspended")
	if !regexp.MustCompile(`(?m)^amis +suspended +1/5 .* Unpaid hosting since March$`).MatchString(out) {
		t.Errorf("list of a suspended space:\n%s", out)
	}
	gen++
	line("resume", ok("space", "resume", "amis"),
		"space amis resumed (generation 6); its people can use Nextcloud again once the reconciler applies it; the contact was mailed.")

	gen++
	out = ok("space", "delete", "amis", "--reason", "The association dissolved")
	s, err := tenants.GetSpaceBySlug(ctx, pool, "amis")
	if err != nil || s.DeleteAfter == nil {
		t.Fatalf("after delete: %v %+v", err, s)
	}
	purge := s.DeleteAfter.UTC().Format("2006-01-02 15:04 UTC")
	line("delete", out, "space amis deleted (generation 7); its job is being stopped and its data kept until "+purge+
		", then purged: until then spaces space restore amis brings it back as active. The contact was mailed.")
	out = ok("space", "show", "amis")
	for _, want := range []string{
		"State:            deleting since ",
		"Deleted because:  The association dissolved\n",
		"Purge:            after " + purge + " (in 30 days)\n",
		"Restore:          back to active with: spaces space restore amis (until the purge)\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("show of a deleting space lacks %q:\n%s", want, out)
		}
	}
	if out = ok("space", "list", "--state", "deleting"); !strings.Contains(out, "The association dissolved (purge "+s.DeleteAfter.UTC().Format("2006-01-02")+")") {
		t.Errorf("list of a deleting space:\n%s", out)
	}
	gen++
	line("restore", ok("space", "restore", "amis"),
		"space amis restored as active (generation 8); its people can use Nextcloud again once the reconciler starts its job; the contact was mailed.")
	out = ok("space", "delete", "attente", "--reason", "Duplicate of amis")
	line("delete of a queued space", out, "space attente deleted (generation 3) before it was provisioned; it can be restored to the queue until "+
		mustPurgeTime(t, pool, "attente")+" (spaces space restore attente), then it is purged. Nothing was mailed: the space had not started.")
	line("restore to the queue", ok("space", "restore", "attente"),
		"space attente restored (generation 4): queued again, it is provisioned when its turn comes.")
	if err := json.Unmarshal([]byte(ok("space", "suspend", "amis", "--reason", "Spam", "-o", "json")), &v); err != nil ||
		v.Space.State != tenants.SpaceSuspended || v.Space.SuspendReason != "Spam" {
		t.Errorf("suspend --output json: %v %+v", err, v.Space)
	}
	if gen != 8 {
		t.Errorf("generation %d", gen)
	}

	// The decisions are in the audit log under the token, as `spaces audit` would show them.
	trail, err := tenants.AuditTrail(ctx, pool, "space", amis.ID)
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, a := range trail {
		if strings.HasPrefix(string(a.Actor), "token:") {
			actions = append(actions, a.Action)
		}
	}
	if strings.Join(actions, " ") != "space.resize space.resize space.resize space.suspend space.resume space.delete space.restore space.suspend" {
		t.Errorf("audit: %v", actions)
	}
}

// mustPurgeTime is when space slug is purged, as the commands print it (TZ=UTC).
func mustPurgeTime(t *testing.T, pool *pgxpool.Pool, slug string) string {
	t.Helper()
	s, err := tenants.GetSpaceBySlug(context.Background(), pool, slug)
	if err != nil || s.DeleteAfter == nil {
		t.Fatalf("%s: %v %+v", slug, err, s)
	}
	return s.DeleteAfter.UTC().Format("2006-01-02 15:04 UTC")
}

func TestSpaceLifecycleQuotaFilters(t *testing.T) {
	pool, env := lifecycleServer(t)
	ctx := context.Background()
	now := time.Now()
	for slug, u := range map[string]tenants.Usage{
		"calme":   {UsedBytes: 4 * quota.GB, AccountsEnabled: 10},
		"presque": {UsedBytes: 33 * quota.GB, AccountsEnabled: 10, Level: quota.LevelWarn80},
		"plein":   {UsedBytes: 40 * quota.GB, AccountsEnabled: 10, Level: quota.LevelFull},
		"foule":   {UsedBytes: quota.GB, AccountsEnabled: 52},
	} {
		s := lifecycleSpace(t, pool, slug, tenants.SpaceActive)
		u.SpaceID = s.ID
		if err := tenants.RecordUsage(ctx, pool, u, now, now.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	slugs := func(args ...string) string {
		t.Helper()
		out, errOut, code := runSpaces(t, env, args...)
		if code != 0 {
			t.Fatalf("spaces %v: exit %d %s", args, code, errOut)
		}
		var got []string
		for _, l := range strings.Split(strings.TrimSpace(out), "\n")[1:] {
			got = append(got, strings.Fields(l)[0])
		}
		slices.Sort(got)
		return strings.Join(got, " ")
	}
	if got := slugs("space", "list", "--over-quota"); got != "foule plein" {
		t.Errorf("--over-quota: %s", got)
	}
	if got := slugs("space", "list", "--near-quota"); got != "foule plein presque" {
		t.Errorf("--near-quota: %s", got)
	}
	if got := slugs("space", "list", "--near-quota", "--state", "active"); got != "foule plein presque" {
		t.Errorf("--near-quota --state active: %s", got)
	}
	if out, _, code := runSpaces(t, env, "space", "list", "--over-quota", "--state", "suspended"); code != 0 || out != "no spaces\n" {
		t.Errorf("--over-quota --state suspended: %d %q", code, out)
	}
	out, _, _ := runSpaces(t, env, "space", "list", "--over-quota", "--output", "json")
	var list struct{ Spaces []tenants.Space }
	if err := json.Unmarshal([]byte(out), &list); err != nil || len(list.Spaces) != 2 {
		t.Errorf("--over-quota --output json: %v\n%s", err, out)
	}
}

// TestSpaceLifecycleErrors: usage errors exit 2 before anything is asked, refusals exit 1 with
// the server's message; each is one line.
func TestSpaceLifecycleErrors(t *testing.T) {
	pool, env := lifecycleServer(t)
	ctx := context.Background()
	amis := lifecycleSpace(t, pool, "amis", tenants.SpaceActive)
	lifecycleSpace(t, pool, "calme", tenants.SpaceSuspended)
	now := time.Now()
	if err := tenants.RecordUsage(ctx, pool, tenants.Usage{SpaceID: amis.ID, UsedBytes: 20 * quota.GB, AccountsEnabled: 10}, now, now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"resize without a limit", []string{"space", "resize", "amis"}, 2, "nothing to change: give --storage, --accounts or both"},
		{"resize with force only", []string{"space", "resize", "amis", "--force"}, 2, "nothing to change"},
		{"bad size", []string{"space", "resize", "amis", "--storage", "lots"}, 2,
			`--storage "lots" is not a size; write a number of bytes (1073741824) or a number with a unit KB, MB, GB or TB (80GB, "80 GB", 1.5TB, 512mb)`},
		{"bad unit", []string{"space", "resize", "amis", "--storage", "80 PB"}, 2, "KB, MB, GB or TB"},
		{"zero size", []string{"space", "resize", "amis", "--storage", "0"}, 2, `--storage "0": storage limit must be positive`},
		{"size too large", []string{"space", "resize", "amis", "--storage", "101TB"}, 2, "storage limit must be at most 100 TB"},
		{"zero accounts", []string{"space", "resize", "amis", "--accounts", "0"}, 2, "--accounts 0: accounts limit must be positive"},
		{"accounts not a number", []string{"space", "resize", "amis", "--accounts", "many"}, 2, `invalid argument "many" for "--accounts"`},
		{"resize without a slug", []string{"space", "resize", "--storage", "1GB"}, 2, "want SLUG"},
		{"suspend without a reason", []string{"space", "suspend", "amis"}, 2, "--reason is required: the association's contact is mailed it"},
		{"suspend with a blank reason", []string{"space", "suspend", "amis", "--reason", "  "}, 2, "--reason is required"},
		{"delete without a reason", []string{"space", "delete", "amis"}, 2, "--reason is required"},
		{"resume two spaces", []string{"space", "resume", "amis", "calme"}, 2, "want SLUG, got 2 argument(s)"},
		{"restore without a slug", []string{"space", "restore"}, 2, "want SLUG"},
		{"timeout without wait", []string{"space", "resume", "calme", "--timeout", "1m"}, 2, "--timeout is for --wait"},
		{"zero timeout", []string{"space", "resume", "calme", "--wait", "--timeout", "0s"}, 2, "--timeout 0s is not a positive duration"},
		{"bad timeout", []string{"space", "resume", "calme", "--wait", "--timeout", "soon"}, 2, `invalid argument "soon" for "--timeout"`},
		{"bad output", []string{"space", "restore", "amis", "--output", "yaml"}, 2, `--output "yaml" is not a format; use table or json`},
		{"both quota filters", []string{"space", "list", "--over-quota", "--near-quota"}, 2, "--over-quota and --near-quota cannot be combined"},
		{"list with an argument", []string{"space", "list", "amis"}, 2, "want no arguments"},
		{"unknown slug", []string{"space", "suspend", "nope", "--reason", "x"}, 1, "no space named nope (slug) [not_found, HTTP 404]"},
		{"unknown slug to resize", []string{"space", "resize", "nope", "--storage", "1GB"}, 1, "no space named nope"},
		{"suspend a suspended space", []string{"space", "suspend", "calme", "--reason", "x"}, 1,
			"space calme is suspended; only active spaces can be suspended [invalid_state, HTTP 409]"},
		{"resume an active space", []string{"space", "resume", "amis"}, 1, "only suspended spaces can be resumed"},
		{"restore an active space", []string{"space", "restore", "amis"}, 1, "only deleting spaces can be restored"},
		{"below usage", []string{"space", "resize", "amis", "--storage", "15GB"}, 1,
			"space amis uses 20 GB; a limit of 15 GB is 5 GB below that (--force resizes anyway: nobody can add files until they delete some) (storage) [below_usage, HTTP 422]"},
		{"the limits it has", []string{"space", "resize", "amis", "--storage", "40GB"}, 1, "nothing to change: space amis already has 40 GB and 50 accounts"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, errOut, code := runSpaces(t, env, tc.args...)
			lines := strings.Split(strings.TrimSpace(errOut), "\n")
			if code != tc.code || out != "" || len(lines) != 1 || !strings.HasPrefix(lines[0], "spaces: ") || !strings.Contains(lines[0], tc.want) {
				t.Errorf("exit %d, stdout %q, stderr %q\nwant exit %d and one line with %q", code, out, errOut, tc.code, tc.want)
			}
		})
	}
	if s, _ := tenants.GetSpaceBySlug(ctx, pool, "amis"); s.State != tenants.SpaceActive || s.Generation != amis.Generation {
		t.Errorf("a refused command changed amis: %+v", s)
	}
}

// runWaiting runs the binary and calls step with each line it writes on standard error while it
// runs, so that a test can play the reconciler in answer to what the command shows.
func runWaiting(t *testing.T, env []string, step func(n int, line string), args ...string) (stdout string, stderr []string, code int) {
	t.Helper()
	cmd := spacesCommand(t, env, args...)
	var out bytes.Buffer
	cmd.Stdout = &out
	pipe, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(pipe)
	for sc.Scan() {
		stderr = append(stderr, sc.Text())
		step(len(stderr), sc.Text())
	}
	err = cmd.Wait()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		code = exit.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), stderr, code
}

func TestSpaceLifecycleWait(t *testing.T) {
	pool, env := lifecycleServer(t)
	ctx := context.Background()
	amis := lifecycleSpace(t, pool, "amis", tenants.SpaceActive)
	lifecycleSpace(t, pool, "calme", tenants.SpaceSuspended)
	lifecycleSpace(t, pool, "casse", tenants.SpaceFailed)
	observe := func(slug string, gen int64, conds ...tenants.Condition) {
		t.Helper()
		s, err := tenants.GetSpaceBySlug(ctx, pool, slug)
		if err != nil {
			t.Fatal(err)
		}
		if err := tenants.RecordObservation(ctx, pool, s.ID, gen, conds, time.Now()); err != nil {
			t.Fatal(err)
		}
	}

	// suspend --wait: a line for what it sees first, one more when the reconciler reports the new
	// jobspec being registered, then done when the generation is observed.
	stdout, stderr, code := runWaiting(t, env, func(n int, line string) {
		switch n {
		case 1:
			observe("amis", amis.Generation, tenants.Condition{Type: "Drifted", Status: "True", Reason: "NewGeneration",
				Message: "registering job space-amis for generation 2"})
		case 2:
			observe("amis", amis.Generation+1, tenants.Condition{Type: "Drifted", Status: "False", Reason: "InSync", Message: "job space-amis runs generation 2"})
		}
	}, "space", "suspend", "amis", "--reason", "Unpaid hosting since March", "--wait")
	if code != 0 || stdout != "space amis suspended (generation 2); its people now see Nextcloud's maintenance page (their files stay); the contact was mailed the reason.\n" {
		t.Errorf("suspend --wait: exit %d\n%s%s", code, stdout, strings.Join(stderr, "\n"))
	}
	wantLines := []*regexp.Regexp{
		regexp.MustCompile(`^0:0\d  suspended, generation 1 observed of 2; Healthy=True \(AllocationHealthy\): allocation 4f2a at 10\.0\.0\.3:2300; Drifted=False \(InSync\): job space-amis runs generation as decided$`),
		regexp.MustCompile(`^0:0\d  suspended, generation 1 observed of 2; Healthy=True \(AllocationHealthy\): allocation 4f2a at 10\.0\.0\.3:2300; Drifted=True \(NewGeneration\): registering job space-amis for generation 2$`),
	}
	if len(stderr) != len(wantLines) {
		t.Errorf("suspend --wait showed %d lines, want one per change (%d):\n%s", len(stderr), len(wantLines), strings.Join(stderr, "\n"))
	} else {
		for i, re := range wantLines {
			if !re.MatchString(stderr[i]) {
				t.Errorf("suspend --wait line %d: %q, want %s", i+1, stderr[i], re)
			}
		}
	}

	// delete --wait --output json: the space as last seen, its job stopped.
	stdout, stderr, code = runWaiting(t, env, func(n int, line string) {
		if n == 1 {
			observe("amis", amis.Generation+2, tenants.Condition{Type: "Healthy", Status: "False", Reason: "Stopped",
				Message: "the space is deleting: its job is stopped, its data kept until the purge"})
		}
	}, "space", "delete", "amis", "--reason", "Dissolved", "--wait", "--output", "json")
	var v spaceView
	if err := json.Unmarshal([]byte(stdout), &v); code != 0 || err != nil || v.Space.State != tenants.SpaceDeleting || v.Space.ObservedGeneration != 3 ||
		v.Space.Conditions[0].Reason != "Stopped" {
		t.Errorf("delete --wait --output json: exit %d %v\n%s%s", code, err, stdout, strings.Join(stderr, "\n"))
	}
	// The same without --output: the sentence says the job is stopped.
	stdout, _, code = runWaiting(t, env, func(n int, line string) {
		if n == 1 {
			observe("amis", amis.Generation+3)
		}
	}, "space", "restore", "amis", "--wait")
	if code != 0 || stdout != "space amis restored as suspended, as it was before its deletion (generation 4); its people see Nextcloud's "+
		"maintenance page until spaces space resume amis; the contact was mailed.\n" {
		t.Errorf("restore --wait: exit %d %q", code, stdout)
	}

	// Nothing observes calme: --wait gives up at --timeout, saying what it saw last; the decision stands.
	start := time.Now()
	stdout, stderr, code = runWaiting(t, env, func(int, string) {}, "space", "resume", "calme", "--wait", "--timeout", "2s")
	last := stderr[len(stderr)-1]
	if code != 1 || stdout != "" || time.Since(start) < 2*time.Second ||
		!strings.HasPrefix(last, "spaces: space calme resumed (generation 3), but it is not applied after 2s: last seen active, generation 2 observed of 3; "+
			"Healthy=True (AllocationHealthy): allocation 4f2a at 10.0.0.3:2300; Drifted=False (InSync): job space-calme runs generation as decided; "+
			"the decision stands and the reconciler goes on: spaces space show calme") {
		t.Errorf("resume --wait --timeout 2s: exit %d %q\n%s", code, stdout, strings.Join(stderr, "\n"))
	}
	if s, _ := tenants.GetSpaceBySlug(ctx, pool, "calme"); s.State != tenants.SpaceActive {
		t.Errorf("after the timeout calme is %s", s.State)
	}

	// A failed space applies nothing until it is retried: --wait says so at once.
	_, stderr, code = runWaiting(t, env, func(int, string) {}, "space", "resize", "casse", "--storage", "50GB", "--wait")
	if code != 1 || len(stderr) != 1 || stderr[0] != "spaces: space casse resized (generation 2), but it is not applied: space casse is failed "+
		"(bootstrap: Nextcloud answered 503); nothing applies generation 2 until it is retried (spaces space retry casse)" {
		t.Errorf("resize --wait of a failed space: exit %d\n%s", code, strings.Join(stderr, "\n"))
	}
}

// TestSpaceWaitDisplay: on a terminal the progress is one line rewritten in place, cut to the
// terminal's width; elsewhere a line per change.
func TestSpaceWaitDisplay(t *testing.T) {
	var b bytes.Buffer
	d := &waitDisplay{w: &b, terminal: true, width: 50}
	d.update(3*time.Second, "active, generation 4 observed of 5")
	d.update(4*time.Second, "active, generation 4 observed of 5; Drifted=True (NewGeneration): registering job space-amis")
	d.end()
	want := "\r\033[K0:03  active, generation 4 observed of 5" + "\r\033[K0:04  active, generation 4 observed of 5; Drifte…" + "\r\033[K"
	if b.String() != want {
		t.Errorf("terminal display\n%q\nwant\n%q", b.String(), want)
	}
	b.Reset()
	d = &waitDisplay{w: &b}
	for i, seen := range []string{"queued, generation 0 observed of 2", "queued, generation 0 observed of 2", "active, generation 2 observed of 2"} {
		d.update(time.Duration(i)*time.Minute+5*time.Second, seen)
	}
	d.end()
	if want := "0:05  queued, generation 0 observed of 2\n2:05  active, generation 2 observed of 2\n"; b.String() != want {
		t.Errorf("plain display\n%q\nwant\n%q", b.String(), want)
	}
	if got := waitClock(3*time.Hour + 2*time.Minute + 5*time.Second); got != "3:02:05" {
		t.Errorf("waitClock: %s", got)
	}
}

// TestSpaceLifecycleCompletion: each command completes the slugs of the spaces it can act on.
func TestSpaceLifecycleCompletion(t *testing.T) {
	pool, env := lifecycleServer(t)
	lifecycleSpace(t, pool, "amis", tenants.SpaceActive)
	lifecycleSpace(t, pool, "ami2", tenants.SpaceActive)
	lifecycleSpace(t, pool, "calme", tenants.SpaceSuspended)
	lifecycleSpace(t, pool, "parti", tenants.SpaceDeleting)
	lifecycleSpace(t, pool, "casse", tenants.SpaceFailed)
	lifecycleSpace(t, pool, "attente", tenants.SpaceQueued)
	complete := func(env []string, args ...string) string {
		t.Helper()
		out, errOut, code := runSpaces(t, env, append([]string{"__complete"}, args...)...)
		if code != 0 {
			t.Fatalf("__complete %v: exit %d %s", args, code, errOut)
		}
		var slugs []string
		for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
			if strings.HasPrefix(l, ":") {
				if l != ":4" { // ShellCompDirectiveNoFileComp
					t.Errorf("__complete %v: directive %s", args, l)
				}
				continue
			}
			slug, desc, _ := strings.Cut(l, "\t")
			if !strings.HasPrefix(desc, "Asso "+slug+" (") {
				t.Errorf("__complete %v: %q has no description", args, l)
			}
			slugs = append(slugs, slug)
		}
		return strings.Join(slugs, " ")
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"space", "resume", ""}, "calme"},
		{[]string{"space", "suspend", ""}, "amis ami2"},
		{[]string{"space", "suspend", "amis"}, "amis"},
		{[]string{"space", "restore", ""}, "parti"},
		{[]string{"space", "retry", ""}, "casse"},
		{[]string{"space", "delete", "a"}, "amis ami2 attente"},
		{[]string{"space", "resize", ""}, "amis ami2 calme casse attente"},
		{[]string{"space", "show", ""}, "amis ami2 calme parti casse attente"},
		{[]string{"space", "resume", "calme", ""}, ""},
	} {
		if got := complete(env, tc.args...); got != tc.want {
			t.Errorf("__complete %v: %q, want %q", tc.args, got, tc.want)
		}
	}
	// Without a server or a token, completion offers nothing and says nothing.
	for _, bad := range [][]string{{"SPACES_TOKEN=spt_wrong"}, {"SPACES_TOKEN="}, {"SPACES_ADDR=http://127.0.0.1:1"}} {
		out, errOut, code := runSpaces(t, append(append([]string{}, env...), bad...), "__complete", "space", "resume", "")
		if code != 0 || strings.TrimSpace(out) != ":4" || strings.Contains(errOut, "spaces:") {
			t.Errorf("completion with %v: exit %d %q %q", bad, code, out, errOut)
		}
	}
	// The shells' scripts are cobra's.
	for _, shell := range []string{"bash", "zsh", "fish"} {
		out, _, code := runSpaces(t, nil, "completion", shell)
		if code != 0 || !strings.Contains(out, "spaces") || !strings.Contains(out, "__complete") {
			t.Errorf("completion %s: exit %d, %d bytes", shell, code, len(out))
		}
	}
}
