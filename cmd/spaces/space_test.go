package main

import (
	"context"
	"encoding/json"
	"errors"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/assospaces/spaces/quota"
	"github.com/assospaces/spaces/tenants"
	"github.com/assospaces/spaces/tenants/pgtest"
)

func TestSpaceCommandsUsageErrors(t *testing.T) {
	for name, tc := range map[string]struct {
		env  []string
		args []string
		want string
	}{
		"missing token": {[]string{"SPACES_TOKEN="}, []string{"space", "list"}, "SPACES_TOKEN (--token): is required"},
		"bad address":   {[]string{"SPACES_TOKEN=spt_x", "SPACES_ADDR=ftp://x"}, []string{"space", "show", "a"}, "SPACES_ADDR (--addr): not an http(s) URL"},
		"bad flag":      {[]string{"SPACES_TOKEN=spt_x"}, []string{"space", "list", "--sate", "failed"}, "unknown flag: --sate"},
		"bad state":     {[]string{"SPACES_TOKEN=spt_x"}, []string{"space", "list", "--state", "broken"}, `--state "broken" is not a state`},
		"no slug":       {[]string{"SPACES_TOKEN=spt_x"}, []string{"space", "retry"}, "want SLUG"},
	} {
		t.Run(name, func(t *testing.T) {
			out, err := spacesCommand(t, tc.env, tc.args...).CombinedOutput()
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.ExitCode() != 2 {
				t.Fatalf("exit: %v\n%s", err, out)
			}
			if lines := strings.Split(strings.TrimSpace(string(out)), "\n"); len(lines) != 1 || !strings.Contains(lines[0], tc.want) {
				t.Errorf("output %q, want one line with %q", out, tc.want)
			}
		})
	}
}

// TestSpaceCommandsThroughTheAPI runs list, show and retry against the real HTTP handler.
func TestSpaceCommandsThroughTheAPI(t *testing.T) {
	pool, _ := pgtest.New(t)
	ctx := context.Background()
	srv := apiServer(t, pool)
	_, token, err := tenants.CreateAPIToken(ctx, pool, tenants.NewAPIToken{Name: "ops", Scope: tenants.ScopeOperator}, tenants.ActorSystem)
	if err != nil {
		t.Fatal(err)
	}
	for _, slug := range []string{"alpha", "beta"} {
		if _, err := tenants.CreateSpace(ctx, pool, tenants.NewSpace{Slug: slug, AssociationName: "Asso " + slug,
			ContactEmail: slug + "@example.org", Limits: quota.Limits{StorageBytes: 40 * quota.GB, Accounts: 50}}, tenants.ActorSystem); err != nil {
			t.Fatal(err)
		}
	}
	beta, _ := tenants.GetSpaceBySlug(ctx, pool, "beta")
	for _, to := range []tenants.SpaceState{tenants.SpaceProvisioning, tenants.SpaceFailed} {
		if _, err := tenants.TransitionSpace(ctx, pool, beta.ID, tenants.Transition{To: to, Actor: tenants.ActorReconciler,
			Reason: "nomad job: the jobspec template does not render"}); err != nil {
			t.Fatal(err)
		}
	}
	// gamma runs at 85 % of its storage with a history; delta stopped answering.
	now := time.Now()
	var gamma, delta tenants.Space
	for _, s := range []*tenants.Space{&gamma, &delta} {
		slug := map[*tenants.Space]string{&gamma: "gamma", &delta: "delta"}[s]
		sp, err := tenants.CreateSpace(ctx, pool, tenants.NewSpace{Slug: slug, AssociationName: "Asso " + slug,
			ContactEmail: slug + "@example.org", Limits: quota.Limits{StorageBytes: 40 * quota.GB, Accounts: 50}}, tenants.ActorSystem)
		if err != nil {
			t.Fatal(err)
		}
		for _, to := range []tenants.SpaceState{tenants.SpaceProvisioning, tenants.SpaceActive} {
			if sp, err = tenants.TransitionSpace(ctx, pool, sp.ID, tenants.Transition{To: to, Actor: tenants.ActorReconciler}); err != nil {
				t.Fatal(err)
			}
		}
		*s = sp
	}
	for d := 29; d >= 0; d-- {
		at := now.Add(-time.Duration(d) * 24 * time.Hour)
		if err := tenants.RecordUsage(ctx, pool, tenants.Usage{SpaceID: gamma.ID, UsedBytes: 34*quota.GB - int64(d)*quota.GB/2,
			AccountsEnabled: 12, AccountsDisabled: 1, ActiveUsersDay: 4, ActiveUsersMonth: 11, Level: quota.LevelWarn80}, at, at.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tenants.RecordObservation(ctx, pool, gamma.ID, 0, []tenants.Condition{
		{Type: "Healthy", Status: "True", Reason: "AllocationHealthy", Message: "allocation 4f2a at 10.0.0.3:2300"},
		{Type: "Drifted", Status: "True", Reason: "JobStopped", Message: "job space-gamma was stopped outside the service;\nstarting it again"},
		{Type: "StorageWithinLimit", Status: "True", Reason: "Above80Percent", Message: "34 GB of 40 GB used (85 %)"},
	}, now); err != nil {
		t.Fatal(err)
	}
	if err := tenants.RecordUsage(ctx, pool, tenants.Usage{SpaceID: delta.ID, UsedBytes: 5 * quota.GB, AccountsEnabled: 50}, now.Add(-time.Hour), now); err != nil {
		t.Fatal(err)
	}
	if err := tenants.RecordUsageFailure(ctx, pool, delta.ID, "no healthy allocation to ask", now, now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	env := []string{"SPACES_ADDR=" + srv.URL, "SPACES_TOKEN=" + token}
	run := func(args ...string) string {
		t.Helper()
		out, err := spacesCommand(t, env, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("spaces %v: %v\n%s", args, err, out)
		}
		return string(out)
	}

	out := run("space", "list")
	for _, want := range []string{"SLUG", "alpha", "queued", "beta", "failed", "40 GB", "the jobspec template does not render"} {
		if !strings.Contains(out, want) {
			t.Errorf("list lacks %q:\n%s", want, out)
		}
	}
	// USED: the share of the storage limit, "—" never measured, stale marked; accounts enabled.
	rows := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n")[1:] {
		f := regexp.MustCompile(`\s{2,}`).Split(line, -1)
		rows[f[0]] = f
	}
	for slug, want := range map[string][2]string{"alpha": {"—/50", "—"}, "gamma": {"12/50", "85 %"}, "delta": {"50/50", "12 % stale"}} {
		if r := rows[slug]; len(r) < 6 || r[3] != want[0] || r[5] != want[1] {
			t.Errorf("list: %s row %q, want ACCOUNTS %q and USED %q\n%s", slug, r, want[0], want[1], out)
		}
	}
	if !strings.Contains(out, "USED") {
		t.Errorf("list: no USED column:\n%s", out)
	}
	out = run("space", "list", "--state", "failed", "--output", "json")
	var list struct{ Spaces []tenants.Space }
	if err := json.Unmarshal([]byte(out), &list); err != nil || len(list.Spaces) != 1 || list.Spaces[0].Slug != "beta" {
		t.Errorf("list --json --state failed: %v\n%s", err, out)
	}
	out = run("space", "show", "beta")
	for _, want := range []string{"State:", "failed", "Failure reason:", "the jobspec template does not render", "Generation:"} {
		if !strings.Contains(out, want) {
			t.Errorf("show lacks %q:\n%s", want, out)
		}
	}
	out = run("space", "show", "gamma")
	for _, want := range []string{
		"Usage (measured " + now.Local().Format("2006-01-02"),
		"storage       [#################...]  34 GB of 40 GB (85 %), past 80 % (the association was warned)",
		"accounts      12 of 50 accounts enabled, 1 disabled\n",
		"active users  4 in the last 24 hours, 11 in the last month",
		"history       30 days: from 19.5 GB on ", " to 34 GB on " + now.UTC().Format("2006-01-02") + ", highest 34 GB on ",
		"  ok  Healthy=True             AllocationHealthy  since ",
		"  !!  Drifted=True             JobStopped         since ",
		"job space-gamma was stopped outside the service; starting it again\n",
		"  ~   StorageWithinLimit=True  Above80Percent     since ",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("show gamma lacks %q:\n%s", want, out)
		}
	}
	out = run("space", "show", "delta")
	if !strings.Contains(out, "Usage: STALE, figures from ") || !strings.Contains(out, "not reachable since ") ||
		!strings.Contains(out, ": no healthy allocation to ask\n") || !strings.Contains(out, "50 of 50 accounts enabled (limit reached)") {
		t.Errorf("show of a stale space:\n%s", out)
	}
	out = run("space", "show", "gamma", "--output", "json")
	var shown struct {
		Usage   map[string]any   `json:"usage"`
		History []map[string]any `json:"history"`
	}
	if err := json.Unmarshal([]byte(out), &shown); err != nil || shown.Usage["storage_level"] != "80%" ||
		shown.Usage["used_bytes"] != float64(34*quota.GB) || len(shown.History) != 30 {
		t.Errorf("show --json: %v\n%s", err, out)
	}
	out = run("space", "list", "--output", "json")
	var listed struct {
		Spaces []map[string]any `json:"spaces"`
	}
	if err := json.Unmarshal([]byte(out), &listed); err != nil || len(listed.Spaces) != 4 || listed.Spaces[0]["usage"] != nil ||
		listed.Spaces[2]["usage"].(map[string]any)["accounts_enabled"] != float64(12) {
		t.Errorf("list --json: %v\n%s", err, out)
	}
	out = run("space", "show", "alpha")
	if !strings.Contains(out, "Usage: never measured") {
		t.Errorf("show of a space never measured:\n%s", out)
	}
	if !strings.Contains(out, "Waiting list:") || !strings.Contains(out, "position 1") {
		t.Errorf("show of a queued space lacks its queue position:\n%s", out)
	}
	out = run("space", "retry", "beta")
	if !strings.Contains(out, "space beta is queued again") {
		t.Errorf("retry: %s", out)
	}
	// Retrying a space that is not failed is refused with the API's reason, exit code 1.
	cmd := spacesCommand(t, env, "space", "retry", "beta")
	b, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 || !strings.Contains(string(b), "only a failed space can be retried") {
		t.Errorf("second retry: %v %s", err, b)
	}
	b, _ = spacesCommand(t, []string{"SPACES_ADDR=" + srv.URL, "SPACES_TOKEN=spt_wrong"}, "space", "list").CombinedOutput()
	if !strings.Contains(string(b), "check SPACES_TOKEN") {
		t.Errorf("bad token: %s", b)
	}
}
