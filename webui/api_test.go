package webui

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/assospaces/spaces/quota"
	"github.com/assospaces/spaces/tenants"
)

// apiCall sends an API request with token (none when empty) and decodes the JSON answer.
func (e *testEnv) apiCall(method, path, token string) (int, map[string]any) {
	e.t.Helper()
	req, _ := http.NewRequest(method, e.srv.URL+path, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		e.t.Errorf("%s %s: Content-Type %q", method, path, ct)
	}
	var body map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		e.t.Fatalf("%s %s: decode: %v", method, path, err)
	}
	return resp.StatusCode, body
}

func apiErrorOf(body map[string]any) (code, field string) {
	e, _ := body["error"].(map[string]any)
	code, _ = e["code"].(string)
	field, _ = e["field"].(string)
	return code, field
}

func TestAPISpaces(t *testing.T) {
	e := newTestEnv(t, envOptions{})
	ctx := context.Background()
	tok, secret, err := tenants.CreateAPIToken(ctx, e.pool, tenants.NewAPIToken{Name: "ops", Scope: tenants.ScopeOperator}, tenants.ActorSystem)
	if err != nil {
		t.Fatal(err)
	}
	limits := quota.Limits{StorageBytes: quota.GB, Accounts: 5}
	a, err := tenants.CreateSpace(ctx, e.pool, tenants.NewSpace{Slug: "alpha", AssociationName: "Alpha", ContactEmail: "a@alpha.example", Limits: limits}, tenants.ModeratorActor(1))
	if err != nil {
		t.Fatal(err)
	}
	b, err := tenants.CreateSpace(ctx, e.pool, tenants.NewSpace{Slug: "beta", AssociationName: "Beta", ContactEmail: "b@beta.example", Limits: limits}, tenants.ModeratorActor(1))
	if err != nil {
		t.Fatal(err)
	}
	for _, to := range []tenants.SpaceState{tenants.SpaceProvisioning, tenants.SpaceFailed} {
		if _, err := tenants.TransitionSpace(ctx, e.pool, b.ID, tenants.Transition{To: to, Actor: tenants.ActorReconciler, Reason: "health: not healthy after 5m0s"}); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("auth", func(t *testing.T) {
		for _, tc := range []struct{ token, code string }{{"", "unauthorized"}, {"spt_nope", "invalid_token"}, {"garbage", "invalid_token"}} {
			status, body := e.apiCall("GET", "/api/v1/spaces", tc.token)
			if code, _ := apiErrorOf(body); status != http.StatusUnauthorized || code != tc.code {
				t.Errorf("token %q: %d %v", tc.token, status, body)
			}
		}
	})
	t.Run("list", func(t *testing.T) {
		status, body := e.apiCall("GET", "/api/v1/spaces", secret)
		if status != 200 || len(body["spaces"].([]any)) != 2 || body["next_after"].(float64) != 0 {
			t.Fatalf("list: %d %v", status, body)
		}
		status, body = e.apiCall("GET", "/api/v1/spaces?state=failed", secret)
		spaces := body["spaces"].([]any)
		if status != 200 || len(spaces) != 1 || spaces[0].(map[string]any)["failure_reason"] != "health: not healthy after 5m0s" {
			t.Fatalf("failed spaces: %d %v", status, body)
		}
		status, body = e.apiCall("GET", "/api/v1/spaces?limit=1", secret)
		if status != 200 || body["next_after"].(float64) != float64(a.ID) {
			t.Fatalf("paged: %d %v", status, body)
		}
		for q, field := range map[string]string{"state=bogus": "state", "limit=0": "limit", "after=x": "after"} {
			status, body = e.apiCall("GET", "/api/v1/spaces?"+q, secret)
			if code, f := apiErrorOf(body); status != 400 || code != "invalid_parameter" || f != field {
				t.Errorf("%s: %d %v", q, status, body)
			}
		}
	})
	t.Run("show", func(t *testing.T) {
		status, body := e.apiCall("GET", "/api/v1/spaces/alpha", secret)
		if status != 200 {
			t.Fatalf("show: %d %v", status, body)
		}
		sp := body["space"].(map[string]any)
		q, _ := body["waiting_list"].(map[string]any)
		if sp["state"] != "queued" || sp["generation"].(float64) != 1 || sp["limits"].(map[string]any)["accounts"].(float64) != 5 || q["position"].(float64) != 1 {
			t.Errorf("show alpha: %v", body)
		}
		status, body = e.apiCall("GET", "/api/v1/spaces/nope", secret)
		if code, field := apiErrorOf(body); status != 404 || code != "not_found" || field != "slug" {
			t.Errorf("show unknown: %d %v", status, body)
		}
		status, body = e.apiCall("GET", "/api/v1/nothing", secret)
		if code, _ := apiErrorOf(body); status != 404 || code != "not_found" {
			t.Errorf("unknown endpoint: %d %v", status, body)
		}
	})
	t.Run("retry", func(t *testing.T) {
		status, body := e.apiCall("POST", "/api/v1/spaces/alpha/retry", secret)
		if code, _ := apiErrorOf(body); status != http.StatusConflict || code != "invalid_state" {
			t.Errorf("retry a queued space: %d %v", status, body)
		}
		status, body = e.apiCall("POST", "/api/v1/spaces/beta/retry", secret)
		if status != http.StatusAccepted || body["space"].(map[string]any)["state"] != "queued" {
			t.Fatalf("retry: %d %v", status, body)
		}
		trail, err := tenants.AuditTrail(ctx, e.pool, "space", b.ID)
		if err != nil {
			t.Fatal(err)
		}
		last := trail[len(trail)-1]
		if last.Action != "space.retry" || last.Actor != tenants.TokenActor(tok.ID) || last.FromState != "failed" || last.ToState != "queued" {
			t.Errorf("audit entry = %+v", last)
		}
		var jobs int
		e.pool.QueryRow(ctx, `SELECT count(*) FROM river_job WHERE kind = 'provision_space' AND (args->>'space_id')::bigint = $1`, b.ID).Scan(&jobs) //nolint:errcheck
		if jobs != 1 {
			t.Errorf("%d provisioning jobs enqueued, want 1", jobs)
		}
		status, _ = e.apiCall("POST", "/api/v1/spaces/beta/retry", secret)
		if status != http.StatusConflict {
			t.Errorf("second retry: %d", status)
		}
	})
}
