package webui

import (
	"context"
	"encoding/json"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/assospaces/spaces/quota"
	"github.com/assospaces/spaces/tenants"
)

// lifecyclePost posts body (none when empty) to path with token and decodes the JSON answer.
func (e *testEnv) lifecyclePost(path, token, body string) (int, map[string]any) {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+path, strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		e.t.Errorf("POST %s: Content-Type %q", path, ct)
	}
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		e.t.Fatalf("POST %s: decode: %v", path, err)
	}
	return resp.StatusCode, out
}

// lifecycleSpace makes a space named slug in state, with 40 GB for 50 accounts; a deleting space
// came from active and is purged in a month.
func (e *testEnv) lifecycleSpace(slug string, state tenants.SpaceState) tenants.Space {
	e.t.Helper()
	ctx := context.Background()
	s, err := tenants.CreateSpace(ctx, e.pool, tenants.NewSpace{Slug: slug, AssociationName: "Asso " + slug, ContactEmail: slug + "@example.org",
		Locale: "en", Limits: quota.Limits{StorageBytes: 40 * quota.GB, Accounts: 50}}, tenants.ActorSystem)
	if err != nil {
		e.t.Fatal(err)
	}
	path := map[tenants.SpaceState][]tenants.SpaceState{
		tenants.SpaceQueued:    nil,
		tenants.SpaceActive:    {tenants.SpaceProvisioning, tenants.SpaceActive},
		tenants.SpaceSuspended: {tenants.SpaceProvisioning, tenants.SpaceActive, tenants.SpaceSuspended},
		tenants.SpaceDeleting:  {tenants.SpaceProvisioning, tenants.SpaceActive, tenants.SpaceDeleting},
		tenants.SpaceFailed:    {tenants.SpaceProvisioning, tenants.SpaceFailed},
	}[state]
	for _, to := range path {
		s, err = tenants.TransitionSpace(ctx, e.pool, s.ID, tenants.Transition{To: to, Actor: tenants.ActorReconciler,
			Reason: "set up by the test", DeleteAfter: time.Now().Add(30 * 24 * time.Hour)})
		if err != nil {
			e.t.Fatal(err)
		}
	}
	return s
}

// lifecycleToken makes a token with scope and returns its id and secret.
func (e *testEnv) lifecycleToken(name string, scope tenants.TokenScope) (int64, string) {
	e.t.Helper()
	tok, secret, err := tenants.CreateAPIToken(context.Background(), e.pool, tenants.NewAPIToken{Name: name, Scope: scope}, tenants.ActorSystem)
	if err != nil {
		e.t.Fatal(err)
	}
	return tok.ID, secret
}

// spaceOf is the space of an answer as a map.
func spaceOf(body map[string]any) map[string]any {
	s, _ := body["space"].(map[string]any)
	return s
}

func TestAPISpaceLifecycleDecisions(t *testing.T) {
	e := newTestEnv(t, envOptions{})
	ctx := context.Background()
	tokID, token := e.lifecycleToken("ops", tenants.ScopeOperator)
	amis := e.lifecycleSpace("amis", tenants.SpaceActive)
	now := time.Now()
	if err := tenants.RecordUsage(ctx, e.pool, tenants.Usage{SpaceID: amis.ID, UsedBytes: 20 * quota.GB, AccountsEnabled: 10}, now, now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	// The answer of each decision is what GET /api/v1/spaces/{slug} answers right after it.
	sameAsShow := func(what string, body map[string]any) {
		t.Helper()
		_, shown := e.apiCall("GET", "/api/v1/spaces/amis", token)
		if !reflect.DeepEqual(body, shown) {
			t.Errorf("%s answered\n%v\nGET answers\n%v", what, body, shown)
		}
	}
	gen := amis.Generation
	step := func(what, path, body string, check func(s map[string]any)) {
		t.Helper()
		status, got := e.lifecyclePost(path, token, body)
		if status != http.StatusOK {
			t.Fatalf("%s: %d %v", what, status, got)
		}
		s := spaceOf(got)
		gen++
		if s["generation"] != float64(gen) {
			t.Errorf("%s: generation %v, want %d", what, s["generation"], gen)
		}
		check(s)
		sameAsShow(what, got)
	}
	limits := func(s map[string]any) (float64, float64) {
		l := s["limits"].(map[string]any)
		return l["storage_bytes"].(float64), l["accounts"].(float64)
	}
	step("resize storage", "/api/v1/spaces/amis/resize", `{"storage": "80GB"}`, func(s map[string]any) {
		if st, acc := limits(s); st != float64(80*quota.GB) || acc != 50 {
			t.Errorf("resize storage: limits %v %v", st, acc)
		}
	})
	step("resize accounts", "/api/v1/spaces/amis/resize", `{"accounts": 100}`, func(s map[string]any) {
		if st, acc := limits(s); st != float64(80*quota.GB) || acc != 100 {
			t.Errorf("resize accounts: limits %v %v", st, acc)
		}
	})
	step("resize both, forced below usage", "/api/v1/spaces/amis/resize", `{"storage": "10 GB", "accounts": 5, "force": true}`, func(s map[string]any) {
		if st, acc := limits(s); st != float64(10*quota.GB) || acc != 5 {
			t.Errorf("forced resize: limits %v %v", st, acc)
		}
	})
	step("suspend", "/api/v1/spaces/amis/suspend", `{"reason": "  Unpaid hosting since March "}`, func(s map[string]any) {
		if s["state"] != "suspended" || s["suspend_reason"] != "Unpaid hosting since March" {
			t.Errorf("suspend: %v", s)
		}
	})
	step("resume", "/api/v1/spaces/amis/resume", "", func(s map[string]any) {
		if s["state"] != "active" || s["suspend_reason"] != nil {
			t.Errorf("resume: %v", s)
		}
	})
	step("delete", "/api/v1/spaces/amis/delete", `{"reason": "The association dissolved"}`, func(s map[string]any) {
		after, _ := time.Parse(time.RFC3339, s["delete_after"].(string))
		if s["state"] != "deleting" || s["delete_reason"] != "The association dissolved" || s["restore_state"] != "active" ||
			after.Sub(now) < 29*24*time.Hour || after.Sub(now) > 31*24*time.Hour {
			t.Errorf("delete: %v", s)
		}
	})
	step("restore", "/api/v1/spaces/amis/restore", "{}", func(s map[string]any) {
		if s["state"] != "active" || s["delete_after"] != nil || s["restore_state"] != nil {
			t.Errorf("restore: %v", s)
		}
	})

	// Each decision is audited under the token, and wakes the reconciler.
	trail, err := tenants.AuditTrail(ctx, e.pool, "space", amis.ID)
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, a := range trail {
		if a.Actor == tenants.TokenActor(tokID) {
			actions = append(actions, a.Action)
		}
	}
	want := []string{"space.resize", "space.resize", "space.resize", "space.suspend", "space.resume", "space.delete", "space.restore"}
	if !reflect.DeepEqual(actions, want) {
		t.Errorf("audit under the token: %v, want %v", actions, want)
	}
	forced := 0
	for _, a := range trail {
		if a.Action == "space.suspend" && a.Detail["reason"] != "Unpaid hosting since March" {
			t.Errorf("suspension audited without its reason: %v", a.Detail)
		}
		if a.Action == "space.resize" && a.Detail["forced"] == true {
			forced++
		}
	}
	if forced != 1 {
		t.Errorf("%d resizes audited as forced, want 1", forced)
	}
	var kicks int
	if err := e.pool.QueryRow(ctx, `SELECT count(*) FROM river_job WHERE kind = 'reconcile_spaces'`).Scan(&kicks); err != nil || kicks == 0 {
		t.Errorf("the reconciler was not woken: %d %v", kicks, err)
	}
	// The association is mailed every decision but the resizes.
	rows, err := e.pool.Query(ctx, `SELECT args->>'template' FROM river_job WHERE kind = 'send_mail' AND args->>'to' = 'amis@example.org' ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	var mails []string
	for rows.Next() {
		var m string
		if err := rows.Scan(&m); err != nil {
			t.Fatal(err)
		}
		mails = append(mails, m)
	}
	if want := []string{"space_suspended", "space_resumed", "space_deleted", "space_restored"}; !reflect.DeepEqual(mails, want) {
		t.Errorf("mails %v, want %v", mails, want)
	}
}

func TestAPISpaceLifecycleErrors(t *testing.T) {
	e := newTestEnv(t, envOptions{})
	ctx := context.Background()
	_, token := e.lifecycleToken("ops", tenants.ScopeOperator)
	_, readOnly := e.lifecycleToken("grafana", tenants.ScopeRead)
	amis := e.lifecycleSpace("amis", tenants.SpaceActive)
	e.lifecycleSpace("calme", tenants.SpaceSuspended)
	e.lifecycleSpace("parti", tenants.SpaceDeleting)
	tard := e.lifecycleSpace("tard", tenants.SpaceDeleting)
	if _, err := e.pool.Exec(ctx, `UPDATE spaces SET delete_after = now() - interval '1 hour' WHERE id = $1`, tard.ID); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	if err := tenants.RecordUsage(ctx, e.pool, tenants.Usage{SpaceID: amis.ID, UsedBytes: 20 * quota.GB, AccountsEnabled: 10}, now, now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name, path, token, body string
		status                  int
		code, field, message    string
	}{
		{"unknown slug", "/api/v1/spaces/nope/suspend", token, `{"reason": "x"}`, 404, "not_found", "slug", "no space named nope"},
		{"unknown slug to resize", "/api/v1/spaces/nope/resize", token, `{"storage": "1GB"}`, 404, "not_found", "slug", "no space named nope"},
		{"unknown slug to restore", "/api/v1/spaces/nope/restore", token, "", 404, "not_found", "slug", "no space named nope"},
		{"no token", "/api/v1/spaces/amis/suspend", "", `{"reason": "x"}`, 401, "unauthorized", "", "operator token"},
		{"bad JSON", "/api/v1/spaces/amis/resize", token, `{"storage": `, 400, "invalid_body", "", "not a JSON object"},
		{"not an object", "/api/v1/spaces/amis/suspend", token, `["x"]`, 400, "invalid_body", "", "not a JSON object"},
		{"unknown field", "/api/v1/spaces/amis/resize", token, `{"size": "80GB"}`, 400, "invalid_body", "size", `unknown field "size"`},
		{"unknown field to resume", "/api/v1/spaces/calme/resume", token, `{"reason": "x"}`, 400, "invalid_body", "reason", `unknown field "reason"`},
		{"accounts as text", "/api/v1/spaces/amis/resize", token, `{"accounts": "100"}`, 400, "invalid_body", "accounts", "accounts must be a JSON number"},
		{"storage as a number", "/api/v1/spaces/amis/resize", token, `{"storage": 80}`, 400, "invalid_body", "storage", "storage must be a JSON string"},
		{"bad size", "/api/v1/spaces/amis/resize", token, `{"storage": "lots"}`, 400, "invalid_size", "storage", `storage "lots" is not a size; write a number of bytes ("1073741824") or a number with a unit KB, MB, GB or TB`},
		{"unknown unit", "/api/v1/spaces/amis/resize", token, `{"storage": "80 PB"}`, 400, "invalid_size", "storage", "KB, MB, GB or TB"},
		{"zero size", "/api/v1/spaces/amis/resize", token, `{"storage": "0"}`, 400, "invalid_size", "storage", "storage limit must be positive"},
		{"size too large", "/api/v1/spaces/amis/resize", token, `{"storage": "200TB"}`, 400, "invalid_size", "storage", "at most 100 TB"},
		{"zero accounts", "/api/v1/spaces/amis/resize", token, `{"accounts": 0}`, 400, "invalid_accounts", "accounts", "accounts limit must be positive"},
		{"nothing to change", "/api/v1/spaces/amis/resize", token, `{"force": true}`, 400, "nothing_to_change", "", "give storage, accounts or both"},
		{"no body to resize", "/api/v1/spaces/amis/resize", token, "", 400, "nothing_to_change", "", "give storage, accounts or both"},
		{"the limits it has", "/api/v1/spaces/amis/resize", token, `{"storage": "40 GB", "accounts": 50}`, 400, "nothing_to_change", "", "space amis already has 40 GB and 50 accounts"},
		{"storage below usage", "/api/v1/spaces/amis/resize", token, `{"storage": "15GB"}`, 422, "below_usage", "storage", "space amis uses 20 GB; a limit of 15 GB is 5 GB below that"},
		{"accounts below usage", "/api/v1/spaces/amis/resize", token, `{"accounts": 8}`, 422, "below_usage", "accounts", "space amis has 10 accounts enabled; a limit of 8 is 2 below that"},
		{"resize a deleting space", "/api/v1/spaces/parti/resize", token, `{"accounts": 8}`, 409, "invalid_state", "", "space parti is deleting (purged after "},
		{"suspend without a reason", "/api/v1/spaces/amis/suspend", token, "{}", 400, "reason_required", "reason", "a reason is required to suspend a space"},
		{"suspend with a blank reason", "/api/v1/spaces/amis/suspend", token, `{"reason": " \n "}`, 400, "reason_required", "reason", "the association is mailed it"},
		{"suspend with a control character", "/api/v1/spaces/amis/suspend", token, `{"reason": "a\u0007b"}`, 400, "invalid_reason", "reason", "cannot be mailed"},
		{"suspend with a long reason", "/api/v1/spaces/amis/suspend", token, `{"reason": "` + strings.Repeat("x", 2001) + `"}`, 400, "invalid_reason", "reason", "2001 characters long; at most 2000"},
		{"suspend a suspended space", "/api/v1/spaces/calme/suspend", token, `{"reason": "x"}`, 409, "invalid_state", "", "space calme is suspended; only active spaces can be suspended"},
		{"resume an active space", "/api/v1/spaces/amis/resume", token, "", 409, "invalid_state", "", "space amis is active; only suspended spaces can be resumed"},
		{"delete without a reason", "/api/v1/spaces/amis/delete", token, `{"reason": ""}`, 400, "reason_required", "reason", "a reason is required to delete a space"},
		{"delete a deleting space", "/api/v1/spaces/parti/delete", token, `{"reason": "x"}`, 409, "invalid_state", "", "only queued or provisioning or active or suspended or failed spaces can be deleted"},
		{"restore an active space", "/api/v1/spaces/amis/restore", token, "", 409, "invalid_state", "", "space amis is active; only deleting spaces can be restored"},
		{"restore after the grace period", "/api/v1/spaces/tard/restore", token, "", 409, "invalid_state", "", "space tard cannot be restored: its grace period ended on "},
		{"read-only token resizes", "/api/v1/spaces/amis/resize", readOnly, `{"storage": "80GB"}`, 403, "forbidden_scope", "", "this token is read-only"},
		{"read-only token suspends", "/api/v1/spaces/amis/suspend", readOnly, `{"reason": "x"}`, 403, "forbidden_scope", "", "scope operator"},
		{"read-only token resumes", "/api/v1/spaces/calme/resume", readOnly, "", 403, "forbidden_scope", "", "scope operator"},
		{"read-only token deletes", "/api/v1/spaces/amis/delete", readOnly, `{"reason": "x"}`, 403, "forbidden_scope", "", "scope operator"},
		{"read-only token restores", "/api/v1/spaces/parti/restore", readOnly, "", 403, "forbidden_scope", "", "scope operator"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := e.lifecyclePost(tc.path, tc.token, tc.body)
			code, field := apiErrorOf(body)
			msg, _ := body["error"].(map[string]any)["message"].(string)
			if status != tc.status || code != tc.code || field != tc.field || !strings.Contains(msg, tc.message) {
				t.Errorf("got %d %s field %q: %q\nwant %d %s field %q: %q", status, code, field, msg, tc.status, tc.code, tc.field, tc.message)
			}
		})
	}
	// Nothing refused changed anything: no generation moved, no entry under a token.
	for _, slug := range []string{"amis", "calme", "parti", "tard"} {
		s, err := tenants.GetSpaceBySlug(ctx, e.pool, slug)
		if err != nil {
			t.Fatal(err)
		}
		trail, _ := tenants.AuditTrail(ctx, e.pool, "space", s.ID)
		for _, a := range trail {
			if strings.HasPrefix(string(a.Actor), "token:") {
				t.Errorf("%s: refused decision audited: %+v", slug, a)
			}
		}
	}
	if s, _ := tenants.GetSpaceBySlug(ctx, e.pool, "amis"); s.State != tenants.SpaceActive || s.Limits != (quota.Limits{StorageBytes: 40 * quota.GB, Accounts: 50}) {
		t.Errorf("amis changed: %+v", s)
	}
	// A token whose scope was lowered after it was made is refused too.
	id, lowered := e.lifecycleToken("lowered", tenants.ScopeOperator)
	if _, err := e.pool.Exec(ctx, `UPDATE api_tokens SET scope = 'read' WHERE id = $1`, id); err != nil {
		t.Fatal(err)
	}
	if status, body := e.lifecyclePost("/api/v1/spaces/amis/suspend", lowered, `{"reason": "x"}`); status != 403 {
		t.Errorf("lowered token: %d %v", status, body)
	}
	// Reading stays open to read-only tokens.
	if status, _ := e.apiCall("GET", "/api/v1/spaces/amis", readOnly); status != 200 {
		t.Errorf("read-only GET: %d", status)
	}
	if status, body := e.apiCall("GET", "/api/v1/spaces/nope", readOnly); status != 404 || lifecycleMessage(body) != "no space named nope" {
		t.Errorf("GET unknown slug: %d %v", status, body)
	}
}

func lifecycleMessage(body map[string]any) string {
	e, _ := body["error"].(map[string]any)
	m, _ := e["message"].(string)
	return m
}

// TestAPISpaceListQuotaLevels filters the list by how close spaces are to their limits.
func TestAPISpaceListQuotaLevels(t *testing.T) {
	e := newTestEnv(t, envOptions{})
	ctx := context.Background()
	_, token := e.lifecycleToken("grafana", tenants.ScopeRead)
	now := time.Now()
	usage := map[string]tenants.Usage{
		"calm":      {UsedBytes: 4 * quota.GB, AccountsEnabled: 10},
		"warned":    {UsedBytes: 33 * quota.GB, AccountsEnabled: 10, Level: quota.LevelWarn80},
		"warned90":  {UsedBytes: 37 * quota.GB, AccountsEnabled: 10, Level: quota.LevelWarn90},
		"full":      {UsedBytes: 40 * quota.GB, AccountsEnabled: 10, Level: quota.LevelFull},
		"crowded":   {UsedBytes: quota.GB, AccountsEnabled: 40},
		"overcrowd": {UsedBytes: quota.GB, AccountsEnabled: 51},
		"limit":     {UsedBytes: quota.GB, AccountsEnabled: 50},
	}
	ids := map[string]int64{}
	for _, slug := range []string{"calm", "warned", "warned90", "full", "crowded", "overcrowd", "limit", "unmeasured"} {
		s := e.lifecycleSpace(slug, tenants.SpaceActive)
		ids[slug] = s.ID
		if u, ok := usage[slug]; ok {
			u.SpaceID = s.ID
			if err := tenants.RecordUsage(ctx, e.pool, u, now, now.Add(time.Hour)); err != nil {
				t.Fatal(err)
			}
		}
	}
	calmSuspended := e.lifecycleSpace("fullsuspended", tenants.SpaceSuspended)
	if err := tenants.RecordUsage(ctx, e.pool, tenants.Usage{SpaceID: calmSuspended.ID, UsedBytes: 40 * quota.GB, Level: quota.LevelFull}, now, now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	for query, want := range map[string]string{
		"":                            "calm warned warned90 full crowded overcrowd limit unmeasured fullsuspended",
		"?level=near":                 "warned warned90 full crowded overcrowd limit fullsuspended",
		"?level=over":                 "full overcrowd fullsuspended",
		"?level=over&level=near":      "warned warned90 full crowded overcrowd limit fullsuspended",
		"?level=over&state=active":    "full overcrowd",
		"?level=near&state=suspended": "fullsuspended",
		"?level=over&limit=1":         "full",
		"?level=near&state=active&after=" + strconv.FormatInt(ids["warned90"], 10): "full crowded overcrowd limit",
	} {
		status, body := e.apiCall("GET", "/api/v1/spaces"+query, token)
		var slugs []string
		items, _ := body["spaces"].([]any)
		for _, it := range items {
			slugs = append(slugs, it.(map[string]any)["slug"].(string))
		}
		if status != 200 || strings.Join(slugs, " ") != want {
			t.Errorf("GET /api/v1/spaces%s: %d %v, want %s", query, status, slugs, want)
		}
	}
	status, body := e.apiCall("GET", "/api/v1/spaces?level=high", token)
	if code, field := apiErrorOf(body); status != 400 || code != "invalid_parameter" || field != "level" ||
		!strings.Contains(lifecycleMessage(body), `unknown level "high"; levels are near`) {
		t.Errorf("bad level: %d %v", status, body)
	}
}
