package webui

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/assospaces/spaces/quota"
	"github.com/assospaces/spaces/tenants"
)

// appAPICall sends an API request with a JSON body (none when empty) and decodes the JSON answer.
func (e *testEnv) appAPICall(method, path, token, body string) (int, map[string]any) {
	e.t.Helper()
	req, _ := http.NewRequest(method, e.srv.URL+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		e.t.Fatalf("%s %s: decode: %v", method, path, err)
	}
	return resp.StatusCode, out
}

// apiTokenFor makes a token with scope and returns it with its secret.
func (e *testEnv) apiTokenFor(name string, scope tenants.TokenScope) (tenants.APIToken, string) {
	e.t.Helper()
	tok, secret, err := tenants.CreateAPIToken(context.Background(), e.pool, tenants.NewAPIToken{Name: name, Scope: scope}, tenants.ActorSystem)
	if err != nil {
		e.t.Fatal(err)
	}
	return tok, secret
}

func apiMessageOf(body map[string]any) string {
	e, _ := body["error"].(map[string]any)
	m, _ := e["message"].(string)
	return m
}

// historyText is the history of an answer of show, one sentence a line.
func historyText(body map[string]any) string {
	var lines []string
	hist, _ := body["history"].([]any)
	for _, l := range hist {
		lines = append(lines, l.(map[string]any)["text"].(string))
	}
	return strings.Join(lines, "\n")
}

func TestAPIApplicationQueue(t *testing.T) {
	e := newTestEnv(t, envOptions{})
	ctx := context.Background()
	for n := 70; n < 74; n++ {
		e.submit(n)
	}
	_, secret := e.apiTokenFor("ops", tenants.ScopeOperator)
	ids := map[int]string{}
	for n := 70; n < 74; n++ {
		ids[n] = e.appID("jardin-" + itoa(n))
	}
	// 73 is decided, 72 waits for an answer, 71 is claimed by a moderator.
	if _, err := tenants.WithdrawApplication(ctx, e.pool, mustInt(t, ids[73]), nil); err != nil {
		t.Fatal(err)
	}
	_, mod := e.addModerator("alex@example.org", "Alex")
	if _, err := tenants.AskForInformation(ctx, e.pool, mustInt(t, ids[72]), tenants.Question{Decider: tenants.Decider{ModeratorID: mod.ID}, Text: "Vos statuts ?"}); err != nil {
		t.Fatal(err)
	}
	if _, err := tenants.ClaimApplication(ctx, e.pool, mustInt(t, ids[71]), mod.ID); err != nil {
		t.Fatal(err)
	}

	slugsOf := func(body map[string]any) []string {
		var out []string
		items, _ := body["applications"].([]any)
		for _, it := range items {
			out = append(out, it.(map[string]any)["slug"].(string))
		}
		return out
	}
	t.Run("list", func(t *testing.T) {
		for _, tc := range []struct {
			query string
			want  string
		}{
			{"", "jardin-70 jardin-71"}, // pending by default, oldest first, as the queue page
			{"?state=pending", "jardin-70 jardin-71"},
			{"?state=needs_info", "jardin-72"},
			{"?state=withdrawn", "jardin-73"},
			{"?state=all", "jardin-73 jardin-72 jardin-71 jardin-70"}, // every state, newest first
			{"?state=all&q=Jardin+71", "jardin-71"},
			{"?state=all&q=" + rna(72), "jardin-72"},
			{"?state=all&q=camille70@jardin.example", "jardin-70"},
			{"?q=nothing-like-it", ""},
		} {
			status, body := e.apiCall("GET", "/api/v1/applications"+tc.query, secret)
			if got := strings.Join(slugsOf(body), " "); status != 200 || got != tc.want {
				t.Errorf("%q: %d %q, want %q", tc.query, status, got, tc.want)
			}
		}
		status, body := e.apiCall("GET", "/api/v1/applications", secret)
		counts := body["counts"].(map[string]any)
		if status != 200 || counts["pending"] != float64(2) || counts["needs_info"] != float64(1) || counts["withdrawn"] != float64(1) ||
			counts["approved"] != float64(0) || body["next_after"] != float64(0) {
			t.Errorf("counts: %v", body)
		}
		items := body["applications"].([]any)
		first, second := items[0].(map[string]any), items[1].(map[string]any)
		claim, _ := second["claim"].(map[string]any)
		if first["claim"] != nil || claim["moderator"] != "Alex" || claim["moderator_id"] != float64(mod.ID) {
			t.Errorf("claims: %v / %v", first["claim"], second["claim"])
		}
		if first["id"] != float64(mustInt(t, ids[70])) || first["association_name"] != "Les Amis du Jardin 70" ||
			first["legal_id"] != rna(70) || first["address"] != "https://jardin-70.spaces.test" || first["expected_accounts"] != float64(12) {
			t.Errorf("item: %v", first)
		}
		// Keyset pages.
		status, body = e.apiCall("GET", "/api/v1/applications?limit=1", secret)
		if status != 200 || strings.Join(slugsOf(body), " ") != "jardin-70" || body["next_after"] != float64(mustInt(t, ids[70])) {
			t.Fatalf("first page: %d %v", status, body)
		}
		status, body = e.apiCall("GET", "/api/v1/applications?limit=1&after="+ids[70], secret)
		if status != 200 || strings.Join(slugsOf(body), " ") != "jardin-71" {
			t.Errorf("second page: %d %v", status, body)
		}
		for q, field := range map[string]string{"state=bogus": "state", "state=claimed": "state", "limit=0": "limit",
			"limit=201": "limit", "after=x": "after", "after=-1": "after", "q=" + strings.Repeat("a", 201): "q"} {
			status, body = e.apiCall("GET", "/api/v1/applications?"+q, secret)
			if code, f := apiErrorOf(body); status != 400 || code != "invalid_parameter" || f != field {
				t.Errorf("%.30s: %d %v", q, status, body)
			}
		}
		_, body = e.apiCall("GET", "/api/v1/applications?state=bogus", secret)
		if msg := apiMessageOf(body); !strings.Contains(msg, "pending, needs_info, approved, rejected, withdrawn, all") {
			t.Errorf("bad state message does not name the states: %q", msg)
		}
		status, _ = e.apiCall("GET", "/api/v1/applications", "")
		if status != http.StatusUnauthorized {
			t.Errorf("without a token: %d", status)
		}
	})
	t.Run("show", func(t *testing.T) {
		status, body := e.apiCall("GET", "/api/v1/applications/"+ids[72]+"?lang=en", secret)
		if status != 200 {
			t.Fatalf("show: %d %v", status, body)
		}
		a := body["application"].(map[string]any)
		if a["state"] != "needs_info" || a["purpose"] != "Entretenir un jardin partagé et transmettre les savoirs." ||
			a["contact_email"] != "camille72@jardin.example" || a["locale"] != "fr" || body["space"] != nil {
			t.Errorf("application: %v", a)
		}
		msgs := body["messages"].([]any)
		if len(msgs) != 1 || msgs[0].(map[string]any)["body"] != "Vos statuts ?" || msgs[0].(map[string]any)["moderator"] != "Alex" ||
			msgs[0].(map[string]any)["author"] != "moderator" {
			t.Errorf("messages: %v", msgs)
		}
		h := historyText(body)
		for _, want := range []string{"the association sent its application (address: jardin-72)", "Alex asked the association for more information"} {
			if !strings.Contains(h, want) {
				t.Errorf("history lacks %q:\n%s", want, h)
			}
		}
		if hist := body["history"].([]any); hist[len(hist)-1].(map[string]any)["actor"] != "moderator:"+strconv.FormatInt(mod.ID, 10) ||
			hist[len(hist)-1].(map[string]any)["action"] != "application.ask_info" {
			t.Errorf("history entry lacks its actor or action: %v", hist[len(hist)-1])
		}
		// Another application with the same email is shown as a possible duplicate.
		if _, err := e.pool.Exec(ctx, `UPDATE applications SET contact_email = 'camille72@jardin.example' WHERE id = $1`, ids[73]); err != nil {
			t.Fatal(err)
		}
		_, body = e.apiCall("GET", "/api/v1/applications/"+ids[72], secret)
		// (All four names are alike: each is a duplicate by name, and 73 by email too.)
		dups := body["duplicates"].([]any)
		var sameEmail []string
		for _, d := range dups {
			if d := d.(map[string]any); d["same_email"] == true {
				sameEmail = append(sameEmail, d["slug"].(string))
			}
		}
		if len(dups) != 3 || strings.Join(sameEmail, " ") != "jardin-73" {
			t.Errorf("duplicates: %v", dups)
		}
		status, body = e.apiCall("GET", "/api/v1/applications/999999", secret)
		if code, field := apiErrorOf(body); status != 404 || code != "not_found" || field != "id" || apiMessageOf(body) != "no application #999999" {
			t.Errorf("unknown: %d %v", status, body)
		}
		status, body = e.apiCall("GET", "/api/v1/applications/twelve", secret)
		if code, field := apiErrorOf(body); status != 400 || code != "invalid_parameter" || field != "id" {
			t.Errorf("not a number: %d %v", status, body)
		}
	})
}

func mustInt(t *testing.T, s string) int64 {
	t.Helper()
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestAPIApplicationDecisions(t *testing.T) {
	e := newTestEnv(t, envOptions{})
	ctx := context.Background()
	for n := 80; n < 86; n++ {
		e.submit(n)
	}
	tok, secret := e.apiTokenFor("ops", tenants.ScopeOperator)
	_, readOnly := e.apiTokenFor("watcher", tenants.ScopeRead)
	id := func(n int) string { return e.appID("jardin-" + itoa(n)) }
	actor := string(tenants.TokenActor(tok.ID))
	var reasonID int64
	var title, bodyFR string
	if err := e.pool.QueryRow(ctx, `SELECT id, title, body_fr FROM rejection_reasons WHERE archived_at IS NULL ORDER BY position LIMIT 1`).
		Scan(&reasonID, &title, &bodyFR); err != nil {
		t.Fatal(err)
	}
	mails := func(template, to string) []map[string]any {
		t.Helper()
		rows, err := e.pool.Query(ctx, `SELECT args->'data' FROM river_job WHERE kind = 'send_mail' AND args->>'template' = $1
			AND args->>'to' = $2 ORDER BY id`, template, to)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var out []map[string]any
		for rows.Next() {
			var d map[string]any
			if err := rows.Scan(&d); err != nil {
				t.Fatal(err)
			}
			out = append(out, d)
		}
		return out
	}
	lastAudit := func(appID string) tenants.AuditEntry {
		t.Helper()
		trail, err := tenants.AuditTrail(ctx, e.pool, "application", mustInt(t, appID))
		if err != nil || len(trail) == 0 {
			t.Fatalf("audit trail: %v %v", trail, err)
		}
		return trail[len(trail)-1]
	}
	stateOf := func(appID string) string {
		var s string
		if err := e.pool.QueryRow(ctx, `SELECT state FROM applications WHERE id = $1`, appID).Scan(&s); err != nil {
			t.Fatal(err)
		}
		return s
	}

	t.Run("approve", func(t *testing.T) {
		status, body := e.appAPICall("POST", "/api/v1/applications/"+id(80)+"/approve?lang=en", secret, "")
		if status != http.StatusAccepted {
			t.Fatalf("approve: %d %v", status, body)
		}
		sp, _ := body["space"].(map[string]any)
		if body["application"].(map[string]any)["state"] != "approved" || sp["state"] != "queued" || sp["slug"] != "jardin-80" ||
			sp["limits"].(map[string]any)["accounts"] != float64(50) || sp["limits"].(map[string]any)["storage_bytes"] != float64(40<<30) {
			t.Errorf("answer: %v", body)
		}
		if h := historyText(body); !strings.Contains(h, "an operator (token ops) approved the application") ||
			!strings.Contains(h, "an operator (token ops) created the space") {
			t.Errorf("history does not name the token:\n%s", h)
		}
		if a := lastAudit(id(80)); a.Action != "application.approve" || string(a.Actor) != actor || a.FromState != "pending" || a.ToState != "approved" {
			t.Errorf("audit: %+v", a)
		}
		var jobs int
		e.pool.QueryRow(ctx, `SELECT count(*) FROM river_job WHERE kind = 'provision_space' AND (args->>'space_id')::bigint = $1`, int64(sp["id"].(float64))).Scan(&jobs) //nolint:errcheck
		if jobs != 1 {
			t.Errorf("%d provisioning jobs, want 1", jobs)
		}
		if m := mails("approved", "camille80@jardin.example"); len(m) != 1 || m[0]["Address"] != "https://jardin-80.spaces.test" {
			t.Errorf("approval mail: %v", m)
		}
		// Approving again, or an application in a closed state, names its state.
		status, body = e.appAPICall("POST", "/api/v1/applications/"+id(80)+"/approve", secret, "{}")
		if code, _ := apiErrorOf(body); status != http.StatusConflict || code != "invalid_state" ||
			apiMessageOf(body) != "application #"+id(80)+" is approved; only pending or needs_info applications can be approved" {
			t.Errorf("approve twice: %d %v", status, body)
		}
		// The page offers no other limits, nor does the API.
		status, body = e.appAPICall("POST", "/api/v1/applications/"+id(81)+"/approve", secret, `{"storage": "80 GB"}`)
		if code, field := apiErrorOf(body); status != 400 || code != "invalid_body" || field != "storage" ||
			!strings.Contains(apiMessageOf(body), "default limits (40 GB, 50 accounts)") {
			t.Errorf("approve with limits: %d %v", status, body)
		}
		status, body = e.appAPICall("POST", "/api/v1/applications/"+id(81)+"/approve", secret, `{"`)
		if code, _ := apiErrorOf(body); status != 400 || code != "invalid_body" {
			t.Errorf("approve with a broken body: %d %v", status, body)
		}
		status, body = e.appAPICall("POST", "/api/v1/applications/999999/approve", secret, "")
		if code, _ := apiErrorOf(body); status != 404 || code != "not_found" || apiMessageOf(body) != "no application #999999" {
			t.Errorf("approve unknown: %d %v", status, body)
		}
		// An address taken by a space meanwhile (made here by hand) cannot be approved.
		if _, err := tenants.CreateSpace(ctx, e.pool, tenants.NewSpace{Slug: "jardin-81", AssociationName: "Autre",
			ContactEmail: "autre@example.org", Limits: quota.DefaultLimits}, tenants.ActorSystem); err != nil {
			t.Fatal(err)
		}
		status, body = e.appAPICall("POST", "/api/v1/applications/"+id(81)+"/approve", secret, "")
		if code, _ := apiErrorOf(body); status != http.StatusConflict || code != "slug_taken" || !strings.Contains(apiMessageOf(body), `"jardin-81"`) {
			t.Errorf("approve with the address taken: %d %v", status, body)
		}
		if s := stateOf(id(81)); s != "pending" {
			t.Errorf("refused approvals changed the application: %s", s)
		}
	})

	t.Run("reject", func(t *testing.T) {
		path := "/api/v1/applications/" + id(81) + "/reject?lang=en"
		for _, tc := range []struct {
			body         string
			status       int
			code, field  string
			messageHolds string
		}{
			{``, 400, "missing_field", "reason", "reason is required"},
			{`{"reason": "  "}`, 400, "missing_field", "reason", "reason is required"},
			{`{"reason": 3}`, 400, "invalid_body", "reason", "reason must be a JSON string"},
			{`["Pas une association"]`, 400, "invalid_body", "", "the body is not a JSON object"},
			{`{"reason": "Pas assez joli"}`, 422, "unknown_reason", "reason", `"` + title + `"`},
			{`{"reason": "` + title + `", "note": "voir \u202e ici"}`, 422, "invalid_field", "note", "U+202E"},
			{`{"reason": "` + title + `", "note": "` + strings.Repeat("x", 4001) + `"}`, 422, "invalid_field", "note", "at most 4000"},
			{`{"reason": "` + title + `", "reasons": "x"}`, 400, "invalid_body", "reasons", "reason"},
		} {
			status, body := e.appAPICall("POST", path, secret, tc.body)
			if code, field := apiErrorOf(body); status != tc.status || code != tc.code || field != tc.field || !strings.Contains(apiMessageOf(body), tc.messageHolds) {
				t.Errorf("%.60s: %d %v", tc.body, status, body)
			}
		}
		if s := stateOf(id(81)); s != "pending" {
			t.Fatalf("refused rejections changed the application: %s", s)
		}
		// By title in any case, with a note: the reason in the applicant's language then the note.
		status, body := e.appAPICall("POST", path, secret, `{"reason": "`+strings.ToUpper(title)+`", "note": "Contactez-nous si besoin."}`)
		if status != 200 {
			t.Fatalf("reject: %d %v", status, body)
		}
		want := bodyFR + "\n\nContactez-nous si besoin."
		if a := body["application"].(map[string]any); a["state"] != "rejected" || a["decision_reason"] != want {
			t.Errorf("rejected: %v", a)
		}
		if m := mails("rejected", "camille81@jardin.example"); len(m) != 1 || m[0]["Reason"] != want {
			t.Errorf("rejection mail: %v", m)
		}
		if a := lastAudit(id(81)); a.Action != "application.reject" || string(a.Actor) != actor || a.Detail["reason"] != title || a.ToState != "rejected" {
			t.Errorf("audit: %+v", a)
		}
		if h := historyText(body); !strings.Contains(h, `an operator (token ops) rejected the application, reason "`+title+`"`) {
			t.Errorf("history:\n%s", h)
		}
		// By id.
		status, body = e.appAPICall("POST", "/api/v1/applications/"+id(82)+"/reject", secret, `{"reason": "`+strconv.FormatInt(reasonID, 10)+`"}`)
		if status != 200 || body["application"].(map[string]any)["decision_reason"] != bodyFR {
			t.Errorf("reject by id: %d %v", status, body)
		}
		// A rejected application cannot be approved, nor rejected again.
		status, body = e.appAPICall("POST", "/api/v1/applications/"+id(81)+"/approve", secret, "")
		if status != http.StatusConflict || apiMessageOf(body) != "application #"+id(81)+" is rejected; only pending or needs_info applications can be approved" {
			t.Errorf("approve a rejected application: %d %v", status, body)
		}
		status, body = e.appAPICall("POST", path, secret, `{"reason": "`+title+`"}`)
		if status != http.StatusConflict || !strings.Contains(apiMessageOf(body), "is rejected; only pending or needs_info applications can be rejected") {
			t.Errorf("reject twice: %d %v", status, body)
		}
		status, body = e.apiCall("GET", "/api/v1/rejection-reasons", secret)
		reasons, _ := body["reasons"].([]any)
		if status != 200 || len(reasons) == 0 || reasons[0].(map[string]any)["title"] != title || reasons[0].(map[string]any)["text_fr"] != bodyFR {
			t.Errorf("reasons: %d %v", status, body)
		}
	})

	t.Run("ask", func(t *testing.T) {
		path := "/api/v1/applications/" + id(83) + "/ask?lang=en"
		for _, tc := range []struct {
			body         string
			status       int
			code, field  string
			messageHolds string
		}{
			{``, 400, "missing_field", "message", "message is required"},
			{`{"message": ""}`, 400, "missing_field", "message", "message is required"},
			{`{"question": "x"}`, 400, "invalid_body", "question", "message"},
			{`{"message": "statuts\u200b ?"}`, 422, "invalid_field", "message", "U+200B"},
			{`{"message": "` + strings.Repeat("é", 4001) + `"}`, 422, "invalid_field", "message", "at most 4000"},
		} {
			status, body := e.appAPICall("POST", path, secret, tc.body)
			if code, field := apiErrorOf(body); status != tc.status || code != tc.code || field != tc.field || !strings.Contains(apiMessageOf(body), tc.messageHolds) {
				t.Errorf("%.60s: %d %v", tc.body, status, body)
			}
		}
		status, body := e.appAPICall("POST", path, secret, `{"message": "  Pouvez-vous joindre vos statuts ?\n"}`)
		if status != 200 || body["application"].(map[string]any)["state"] != "needs_info" {
			t.Fatalf("ask: %d %v", status, body)
		}
		msgs := body["messages"].([]any)
		if len(msgs) != 1 || msgs[0].(map[string]any)["body"] != "Pouvez-vous joindre vos statuts ?" || msgs[0].(map[string]any)["author"] != "moderator" {
			t.Errorf("messages: %v", msgs)
		}
		if m := mails("needs_info", "camille83@jardin.example"); len(m) != 1 || m[0]["Question"] != "Pouvez-vous joindre vos statuts ?" {
			t.Errorf("question mail: %v", m)
		}
		if a := lastAudit(id(83)); a.Action != "application.ask_info" || string(a.Actor) != actor || a.FromState != "pending" || a.ToState != "needs_info" {
			t.Errorf("audit: %+v", a)
		}
		if h := historyText(body); !strings.Contains(h, "an operator (token ops) asked the association for more information") {
			t.Errorf("history:\n%s", h)
		}
		status, body = e.appAPICall("POST", path, secret, `{"message": "Et encore ?"}`)
		if status != http.StatusConflict || apiMessageOf(body) != "application #"+id(83)+" is needs_info; only pending applications can be asked for more information" {
			t.Errorf("ask twice: %d %v", status, body)
		}
		// An application waiting for an answer can still be approved, as on the page.
		status, body = e.appAPICall("POST", "/api/v1/applications/"+id(83)+"/approve", secret, "")
		if status != http.StatusAccepted {
			t.Errorf("approve a needs_info application: %d %v", status, body)
		}
	})

	t.Run("claimed by a moderator", func(t *testing.T) {
		_, mod := e.addModerator("sam@example.org", "Sam")
		if _, err := tenants.ClaimApplication(ctx, e.pool, mustInt(t, id(84)), mod.ID); err != nil {
			t.Fatal(err)
		}
		for action, body := range map[string]string{"approve": ``, "reject": `{"reason": "` + title + `"}`, "ask": `{"message": "Une question"}`} {
			status, answer := e.appAPICall("POST", "/api/v1/applications/"+id(84)+"/"+action, secret, body)
			if code, _ := apiErrorOf(answer); status != http.StatusConflict || code != "claimed" ||
				!strings.Contains(apiMessageOf(answer), "is claimed by moderator Sam until ") {
				t.Errorf("%s: %d %v", action, status, answer)
			}
		}
		if s := stateOf(id(84)); s != "pending" {
			t.Errorf("a claimed application was decided: %s", s)
		}
		// Once the claim has expired, the operator may decide.
		if _, err := e.pool.Exec(ctx, `UPDATE applications SET claim_expires_at = now() - interval '1 second' WHERE id = $1`, id(84)); err != nil {
			t.Fatal(err)
		}
		status, answer := e.appAPICall("POST", "/api/v1/applications/"+id(84)+"/approve", secret, "")
		if status != http.StatusAccepted || answer["application"].(map[string]any)["claim"] != nil {
			t.Errorf("approve after the claim expired: %d %v", status, answer)
		}
	})

	t.Run("read-only token", func(t *testing.T) {
		for action, body := range map[string]string{"approve": ``, "reject": `{"reason": "1"}`, "ask": `{"message": "Une question"}`} {
			status, answer := e.appAPICall("POST", "/api/v1/applications/"+id(85)+"/"+action, readOnly, body)
			if code, _ := apiErrorOf(answer); status != http.StatusForbidden || code != "forbidden_scope" {
				t.Errorf("%s with a read-only token: %d %v", action, status, answer)
			}
		}
		if s := stateOf(id(85)); s != "pending" {
			t.Errorf("a read-only token decided: %s", s)
		}
		for _, path := range []string{"/api/v1/applications", "/api/v1/applications/" + id(85), "/api/v1/rejection-reasons"} {
			if status, answer := e.apiCall("GET", path, readOnly); status != 200 {
				t.Errorf("GET %s with a read-only token: %d %v", path, status, answer)
			}
		}
	})
}
