package webui

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"testing"

	"github.com/assospaces/spaces/quota"
	"github.com/assospaces/spaces/tenants"
)

func TestAPIAudit(t *testing.T) {
	e := newTestEnv(t, envOptions{})
	ctx := context.Background()
	m, err := tenants.CreateModerator(ctx, e.pool, "alex@example.org", "Alex Martin", "a long enough password", tenants.ActorSystem)
	if err != nil {
		t.Fatal(err)
	}
	tok, secret, err := tenants.CreateAPIToken(ctx, e.pool, tenants.NewAPIToken{Name: "ops", Scope: tenants.ScopeOperator}, tenants.ActorSystem)
	if err != nil {
		t.Fatal(err)
	}
	beta, err := tenants.CreateSpace(ctx, e.pool, tenants.NewSpace{Slug: "beta", AssociationName: "Beta", ContactEmail: "b@beta.example",
		Limits: quota.DefaultLimits}, tenants.ModeratorActor(m.ID))
	if err != nil {
		t.Fatal(err)
	}
	gamma, err := tenants.CreateSpace(ctx, e.pool, tenants.NewSpace{Slug: "gamma", AssociationName: "Gamma", ContactEmail: "g@gamma.example",
		Limits: quota.DefaultLimits}, tenants.ActorSystem)
	if err != nil {
		t.Fatal(err)
	}
	for _, to := range []tenants.SpaceState{tenants.SpaceProvisioning, tenants.SpaceFailed} {
		if _, err := tenants.TransitionSpace(ctx, e.pool, beta.ID, tenants.Transition{To: to, Actor: tenants.ActorReconciler, Reason: "health"}); err != nil {
			t.Fatal(err)
		}
	}
	// The retry goes through the API, so its entry is the token's.
	if status, body := e.apiCall("POST", "/api/v1/spaces/beta/retry", secret); status != http.StatusAccepted {
		t.Fatalf("retry: %d %v", status, body)
	}
	if err := tenants.RecordAudit(ctx, e.pool, tenants.AuditEntry{Actor: tenants.ActorReconciler, Action: "space.storage_level",
		SubjectType: "space", SubjectID: gamma.ID, Detail: map[string]any{"from": "ok", "to": "80%", "used_bytes": 40 * quota.GB, "limit_bytes": 40 * quota.GB}}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.pool.Exec(ctx, `UPDATE audit_log SET at = now() - interval '10 days' WHERE action = 'moderator.create'`); err != nil {
		t.Fatal(err)
	}

	list := func(query string) []map[string]any {
		t.Helper()
		status, body := e.apiCall("GET", "/api/v1/audit?"+query, secret)
		if status != http.StatusOK {
			t.Fatalf("audit?%s: %d %v", query, status, body)
		}
		var out []map[string]any
		for _, x := range body["entries"].([]any) {
			out = append(out, x.(map[string]any))
		}
		return out
	}
	actions := func(entries []map[string]any) []string {
		out := []string{}
		for _, x := range entries {
			out = append(out, x["action"].(string))
		}
		return out
	}

	all := list("")
	retry := all[1]
	if all[0]["action"] != "space.storage_level" || retry["action"] != "space.retry" {
		t.Fatalf("newest first: %v", actions(all))
	}
	// Under the token's name, with the actor as recorded.
	if retry["actor"] != "token:"+strconv.FormatInt(tok.ID, 10) || retry["actor_name"] != "ops" || retry["subject_name"] != "beta" ||
		retry["from_state"] != "failed" || retry["to_state"] != "queued" {
		t.Errorf("retry entry: %v", retry)
	}
	// Sizes as people read them, never as floats.
	if dt := all[0]["detail_text"]; dt != "before: under 80%, after: 80% reached, limit: 40 GB, used: 40 GB" {
		t.Errorf("detail_text = %q", dt)
	}
	for _, x := range all {
		if x["action"] == "space.create" && x["subject_name"] == "beta" && x["actor_name"] != "Alex Martin" {
			t.Errorf("moderator's entry: %v", x)
		}
	}

	for query, want := range map[string][]string{
		"space=beta":               {"space.retry", "space.failed", "space.provisioning", "space.create"},
		"space=gamma":              {"space.storage_level", "space.create"},
		"actor=ops":                {"space.retry"},
		"actor=ALEX%40example.org": {"space.create"},
		"actor=" + url.QueryEscape("token:"+strconv.FormatInt(tok.ID, 10)): {"space.retry"},
		"actor=system%3Areconciler&space=gamma":                            {"space.storage_level"},
		"actor=system&space=beta":                                          {},
		"space=beta&limit=2":                                               {"space.retry", "space.failed"},
		"since=7d&actor=system":                                            {"space.create", "token.create"},
		"since=2000-01-01&actor=system":                                    {"space.create", "token.create", "moderator.create"},
		"since=2999-01-01T00:00:00Z":                                       {},
	} {
		if got := actions(list(query)); !slices.Equal(got, want) {
			t.Errorf("audit?%s: %v, want %v", query, got, want)
		}
	}

	// Pages: next_after continues where the last page ended.
	status, body := e.apiCall("GET", "/api/v1/audit?limit=2", secret)
	next := body["next_after"].(float64)
	if status != 200 || len(body["entries"].([]any)) != 2 || next != all[1]["id"].(float64) {
		t.Fatalf("first page: %d %v", status, body)
	}
	rest := list("after=" + strconv.FormatFloat(next, 'f', 0, 64) + "&limit=1000")
	if len(rest) != len(all)-2 || rest[0]["id"] != all[2]["id"] {
		t.Errorf("after: %v, want %v", actions(rest), actions(all[2:]))
	}
	if _, body := e.apiCall("GET", "/api/v1/audit?limit=1000", secret); body["next_after"].(float64) != 0 {
		t.Errorf("last page: next_after %v", body["next_after"])
	}

	for query, want := range map[string][3]any{
		"since=yesterday": {400, "invalid_parameter", "since"},
		"since=-7d":       {400, "invalid_parameter", "since"},
		"limit=0":         {400, "invalid_parameter", "limit"},
		"limit=1001":      {400, "invalid_parameter", "limit"},
		"limit=x":         {400, "invalid_parameter", "limit"},
		"after=x":         {400, "invalid_parameter", "after"},
		"slug=beta":       {400, "invalid_parameter", "slug"},
		"space=nope":      {404, "not_found", "space"},
		"actor=nobody":    {404, "not_found", "actor"},
	} {
		status, body := e.apiCall("GET", "/api/v1/audit?"+query, secret)
		code, field := apiErrorOf(body)
		if status != want[0] || code != want[1] || field != want[2] {
			t.Errorf("audit?%s: %d %v, want %v", query, status, body, want)
		}
	}
	if _, body := e.apiCall("GET", "/api/v1/audit?space=nope", secret); body["error"].(map[string]any)["message"] != "no space named nope" {
		t.Errorf("unknown space: %v", body)
	}
	if status, body := e.apiCall("GET", "/api/v1/audit", ""); status != http.StatusUnauthorized {
		t.Errorf("no token: %d %v", status, body)
	}
}
