package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http/httptest"
	"net/url"
	"os/exec"
	"strings"
	"testing"

	"github.com/assospaces/spaces/jobs"
	"github.com/assospaces/spaces/quota"
	"github.com/assospaces/spaces/tenants"
	"github.com/assospaces/spaces/tenants/pgtest"
	"github.com/assospaces/spaces/webui"
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
	jc, err := jobs.NewClient(pool, jobs.Deps{}, false)
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := url.Parse("http://spaces.test")
	h, err := webui.New(webui.Options{Pool: pool, Jobs: jc, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		PublicURL: pub, BaseDomain: "spaces.test", SecretKey: []byte(strings.Repeat("k", 32))})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	_, token, err := tenants.CreateAPIToken(ctx, pool, "ops", tenants.ActorSystem)
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
	out = run("space", "list", "--state", "failed", "--json")
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
	out = run("space", "show", "alpha")
	if !strings.Contains(out, "Queue:") || !strings.Contains(out, "position 1") {
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
