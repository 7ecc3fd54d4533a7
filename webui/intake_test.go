package webui

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/assospaces/spaces/quota"
	"github.com/assospaces/spaces/tenants"
)

// addPartners records an open and a full partner host.
func (e *testEnv) addPartners() (open, full tenants.Partner) {
	e.t.Helper()
	ctx := context.Background()
	open, err := tenants.AddPartner(ctx, e.pool, tenants.Partner{Name: "Chatons du Sud", URL: "https://chatons-sud.example/asso",
		OfferFR: "Nextcloud gratuit, 10 Go par association.", OfferEN: "Free Nextcloud, 10 GB per association.", Open: true}, tenants.ActorSystem)
	if err != nil {
		e.t.Fatal(err)
	}
	full, err = tenants.AddPartner(ctx, e.pool, tenants.Partner{Name: "Plein Nuage", URL: "https://plein.example",
		OfferFR: "Complet pour l'instant.", Open: false}, tenants.ActorSystem)
	if err != nil {
		e.t.Fatal(err)
	}
	return open, full
}

func TestIntakePausedFormShowsTheMessageAndPartners(t *testing.T) {
	e := newTestEnv(t, envOptions{})
	ctx := context.Background()
	e.addPartners()
	// Open: the form, and no partner offered.
	_, body := e.get(e.newClient(), "/")
	if !strings.Contains(body, `action="/apply"`) || strings.Contains(body, "Chatons du Sud") {
		t.Fatalf("open intake: no form, or partners offered")
	}

	// One message, in French: both pages show it, instead of the form, with the open partners only.
	if _, err := tenants.PauseIntake(ctx, e.pool, "Nous rouvrons le 5 janvier <b>promis</b>.", "", tenants.ActorSystem); err != nil {
		t.Fatal(err)
	}
	for _, lang := range []string{"fr", "en"} {
		resp, body := e.get(e.newClient(), "/?lang="+lang)
		mustStatus(t, resp, body, http.StatusOK)
		noUntranslated(t, "closed form "+lang, body)
		for _, want := range []string{"Nous rouvrons le 5 janvier &lt;b&gt;promis&lt;/b&gt;.", `<a href="https://chatons-sud.example/asso" rel="noopener noreferrer"><strong>Chatons du Sud</strong></a>`,
			translate(lang, "intake.closed.title"), translate(lang, "partners.title")} {
			if !strings.Contains(strings.ReplaceAll(body, "&#39;", "'"), want) {
				t.Errorf("%s: closed page lacks %q", lang, want)
			}
		}
		if strings.Contains(body, `action="/apply"`) || strings.Contains(body, "Plein Nuage") {
			t.Errorf("%s: closed page shows the form or a full partner", lang)
		}
	}
	_, body = e.get(e.newClient(), "/?lang=en")
	if !strings.Contains(body, "Free Nextcloud, 10 GB per association.") {
		t.Errorf("English page: the partner's offer is not in English")
	}
	// A message in each language: each page its own.
	if _, err := tenants.PauseIntake(ctx, e.pool, "Fermé pour les fêtes.", "Closed for the holidays.", tenants.ActorSystem); err != nil {
		t.Fatal(err)
	}
	if _, body := e.get(e.newClient(), "/?lang=en"); !strings.Contains(body, "Closed for the holidays.") || strings.Contains(body, "Fermé pour les fêtes.") {
		t.Errorf("English page does not show the English message")
	}

	// A form sent while closed: 503, nothing recorded, and what was typed given back.
	form := validForm(7)
	form.Set("purpose", "Jardiner <ensemble>.")
	resp, body := e.post(e.newClient(), "/apply", form)
	mustStatus(t, resp, body, http.StatusServiceUnavailable)
	for _, want := range []string{translate("fr", "intake.notrecorded"), "Les Amis du Jardin 7", "Jardiner &lt;ensemble&gt;.",
		"camille7@jardin.example", "Fermé pour les fêtes.", "Chatons du Sud"} {
		if !strings.Contains(strings.ReplaceAll(body, "&#39;", "'"), want) {
			t.Errorf("form sent while closed: page lacks %q", want)
		}
	}
	if n := countApplications(t, e); n != 0 {
		t.Errorf("%d applications recorded while closed", n)
	}

	// Reopened: the form again, and a form is recorded.
	if _, err := tenants.ResumeIntake(ctx, e.pool, tenants.ActorSystem); err != nil {
		t.Fatal(err)
	}
	if _, body := e.get(e.newClient(), "/"); !strings.Contains(body, `action="/apply"`) {
		t.Errorf("reopened: no form")
	}
	resp, body = e.post(e.newClient(), "/apply", validForm(8))
	mustStatus(t, resp, body, http.StatusSeeOther)
	if n := countApplications(t, e); n != 1 {
		t.Errorf("reopened: %d applications recorded, want 1", n)
	}
}

// TestIntakeClosedByTheWaitingList: past the threshold the form closes by itself, in the page's
// words when operators left no message, and the applicant waiting for room is offered the
// partners; under it, everything is as before.
func TestIntakeClosedByTheWaitingList(t *testing.T) {
	e := newTestEnv(t, envOptions{capacity: 1})
	ctx := context.Background()
	e.addPartners()
	occupant, err := tenants.CreateSpace(ctx, e.pool, tenants.NewSpace{Slug: "occupant", AssociationName: "Occupant",
		ContactEmail: "o@occupant.example", Limits: quota.DefaultLimits}, tenants.ActorSystem)
	if err != nil {
		t.Fatal(err)
	}
	e.moveSpace(occupant.ID, "", tenants.SpaceProvisioning, tenants.SpaceActive)
	mc, _ := e.addModerator("alex@example.org", "Alex")
	_, status, _ := e.approveSpace(mc, 92)
	applicant := e.newClient()

	// Waiting for room, the intake open: no partner offered.
	if _, body := e.get(applicant, status); strings.Contains(body, "Chatons du Sud") {
		t.Errorf("partners offered while the intake is open")
	}
	if _, err := tenants.SetWaitingListThreshold(ctx, e.pool, 1, tenants.ActorSystem); err != nil {
		t.Fatal(err)
	}
	for _, lang := range []string{"fr", "en"} {
		resp, body := e.get(e.newClient(), "/?lang="+lang)
		mustStatus(t, resp, body, http.StatusOK)
		if !strings.Contains(strings.ReplaceAll(body, "&#39;", "'"), translate(lang, "intake.closed.waiting_list")) || strings.Contains(body, `action="/apply"`) {
			t.Errorf("%s: the form is not closed by the waiting list", lang)
		}
		_, body = e.get(applicant, status+"?lang="+lang)
		noUntranslated(t, "status "+lang, body)
		if !strings.Contains(strings.ReplaceAll(body, "&#39;", "'"), translate(lang, "status.partners.intro")) || !strings.Contains(body, "https://chatons-sud.example/asso") ||
			strings.Contains(body, "Plein Nuage") {
			t.Errorf("%s: the waiting applicant is not offered the open partners", lang)
		}
	}
	// The place frees: the space is no longer waiting for room, nor is the list long.
	e.moveSpace(occupant.ID, "x", tenants.SpaceFailed)
	if _, body := e.get(applicant, status); strings.Contains(body, "Chatons du Sud") {
		t.Errorf("partners offered to a space that no longer waits for room")
	}
	// Still queued until a worker admits it: the list holds one space, the threshold is 1.
	if _, body := e.get(e.newClient(), "/"); strings.Contains(body, `action="/apply"`) {
		t.Errorf("one space on the waiting list, threshold 1: the form is open")
	}
	if _, err := tenants.SetWaitingListThreshold(ctx, e.pool, 2, tenants.ActorSystem); err != nil {
		t.Fatal(err)
	}
	if _, body := e.get(e.newClient(), "/"); !strings.Contains(body, `action="/apply"`) {
		t.Errorf("under the threshold: the form is not back")
	}
}

func TestIntakeOperatorPage(t *testing.T) {
	e := newTestEnv(t, envOptions{})
	ctx := context.Background()
	op, opM := e.addOperator("ops@example.org", "Dominique")
	mod, _ := e.addModerator("alex@example.org", "Alex")

	// Everyone in the team sees it; a plain moderator sees no form and cannot post.
	resp, body := e.get(mod, "/moderation/intake")
	mustStatus(t, resp, body, http.StatusOK)
	if !strings.Contains(body, `id="intake-readonly"`) || strings.Contains(body, `action="/moderation/intake"`) {
		t.Errorf("plain moderator: forms shown, or no read-only sentence")
	}
	resp, body = e.post(mod, "/moderation/intake", url.Values{"action": {"pause"}, "message_fr": {"x"}})
	mustStatus(t, resp, body, http.StatusForbidden)
	if !strings.Contains(strings.ReplaceAll(body, "&#39;", "'"), translate("fr", "intake.err.operators_only")) {
		t.Errorf("plain moderator refused without saying that operators do this")
	}
	if st, _ := tenants.GetIntake(ctx, e.pool); st.Closed {
		t.Fatal("a plain moderator closed the form")
	}
	// Without a CSRF token nothing changes.
	resp, body = e.post(op, "/moderation/intake", url.Values{"action": {"pause"}, "csrf_token": {"forged"}})
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("forged CSRF: %d %s", resp.StatusCode, body)
	}

	for _, lang := range []string{"fr", "en"} {
		_, body = e.get(op, "/moderation/intake?lang="+lang)
		noUntranslated(t, "intake page "+lang, body)
		if !strings.Contains(body, `href="/moderation/intake" aria-current="page"`) {
			t.Errorf("%s: the nav does not lead here", lang)
		}
	}

	// Pause with a message: said on the page, under the operator's name, audited.
	resp, body = e.post(op, "/moderation/intake", url.Values{"action": {"pause"}, "message_fr": {"Fermé jusqu'à lundi."}, "message_en": {""}})
	mustStatus(t, resp, body, http.StatusSeeOther)
	_, body = e.get(op, "/moderation/intake?done=pause&lang=fr")
	for _, want := range []string{"Fermé par Dominique le ", translate("fr", "intake.done.pause"), "Fermé jusqu&#39;à lundi."} {
		if !strings.Contains(body, want) {
			t.Errorf("after a pause: page lacks %q", want)
		}
	}
	trail, _ := tenants.AuditTrail(ctx, e.pool, "intake", 1)
	if len(trail) != 1 || trail[0].Action != "intake.pause" || trail[0].Actor != tenants.ModeratorActor(opM.ID) {
		t.Errorf("audit after a pause: %+v", trail)
	}

	// A bad threshold: refused at its field, typed value kept, nothing changed.
	resp, body = e.post(op, "/moderation/intake", url.Values{"action": {"threshold"}, "waiting_list_threshold": {"beaucoup"}})
	mustStatus(t, resp, body, http.StatusUnprocessableEntity)
	if !strings.Contains(body, `value="beaucoup"`) || !strings.Contains(body, `role="alert"`) || !strings.Contains(body, "Un nombre entier de 0 à 1") {
		t.Errorf("bad threshold: typed value or message missing")
	}
	resp, body = e.post(op, "/moderation/intake", url.Values{"action": {"threshold"}, "waiting_list_threshold": {"25"}})
	mustStatus(t, resp, body, http.StatusSeeOther)
	_, body = e.get(op, "/moderation/intake?lang=en")
	if !strings.Contains(body, "The form closes by itself when 25 or more spaces wait on the waiting list (now: 0)") {
		t.Errorf("threshold not said on the page")
	}
	// A message with an invisible character: refused at its field, typed text kept.
	resp, body = e.post(op, "/moderation/intake", url.Values{"action": {"message"}, "message_fr": {"ok"}, "message_en": {"a\u202eb"}})
	mustStatus(t, resp, body, http.StatusUnprocessableEntity)
	if !strings.Contains(body, `id="f-message_en-error"`) || !strings.Contains(body, "U&#43;202E") {
		t.Errorf("invisible character: not refused at message_en: %s", body[strings.Index(body, "<main"):])
	}
	resp, body = e.post(op, "/moderation/intake", url.Values{"action": {"resume"}})
	mustStatus(t, resp, body, http.StatusSeeOther)
	if st, _ := tenants.GetIntake(ctx, e.pool); st.Closed || st.WaitingListThreshold != 25 {
		t.Errorf("after resume: %+v", st)
	}

	// Partners: add, refuse a bad address with what was typed, edit, remove; all audited.
	resp, body = e.post(op, "/moderation/intake/partners", url.Values{"name": {"Chatons"}, "url": {"chatons.example"},
		"offer_fr": {"Des espaces"}, "open": {"on"}})
	mustStatus(t, resp, body, http.StatusUnprocessableEntity)
	if !strings.Contains(body, `id="f-url-error"`) || !strings.Contains(body, `value="chatons.example"`) || !strings.Contains(body, "Des espaces") {
		t.Errorf("bad partner address: not refused at its field with what was typed")
	}
	resp, body = e.post(op, "/moderation/intake/partners", url.Values{"name": {"Chatons"}, "url": {"https://chatons.example"},
		"offer_fr": {"Des espaces"}, "open": {"on"}})
	mustStatus(t, resp, body, http.StatusSeeOther)
	ps, _ := tenants.ListPartners(ctx, e.pool, false)
	if len(ps) != 1 || !ps[0].Open {
		t.Fatalf("partners after add: %+v", ps)
	}
	id := itoa(int(ps[0].ID))
	_, body = e.get(op, "/moderation/intake?edit="+id)
	if !strings.Contains(body, `name="id" value="`+id+`"`) || !strings.Contains(body, `value="https://chatons.example"`) {
		t.Errorf("edit form not filled")
	}
	resp, body = e.post(op, "/moderation/intake/partners", url.Values{"id": {id}, "name": {"Chatons"}, "url": {"https://chatons.example"},
		"offer_fr": {"Des espaces"}, "offer_en": {"Spaces"}})
	mustStatus(t, resp, body, http.StatusSeeOther)
	if p, _ := tenants.GetPartner(ctx, e.pool, ps[0].ID); p.Open || p.OfferEN != "Spaces" {
		t.Errorf("after edit (box unticked): %+v", p)
	}
	resp, body = e.post(mod, "/moderation/intake/partners/"+id+"/remove", url.Values{})
	mustStatus(t, resp, body, http.StatusForbidden)
	resp, body = e.post(op, "/moderation/intake/partners/"+id+"/remove", url.Values{})
	mustStatus(t, resp, body, http.StatusSeeOther)
	if ps, _ := tenants.ListPartners(ctx, e.pool, false); len(ps) != 0 {
		t.Errorf("partner not removed")
	}
	trail, _ = tenants.AuditTrail(ctx, e.pool, "partner", ps[0].ID)
	var actions []string
	for _, a := range trail {
		actions = append(actions, a.Action)
	}
	if strings.Join(actions, " ") != "partner.create partner.update partner.remove" {
		t.Errorf("partner audit: %v", actions)
	}
}

func TestAPIIntakeAndPartners(t *testing.T) {
	e := newTestEnv(t, envOptions{})
	ctx := context.Background()
	_, op, err := tenants.CreateAPIToken(ctx, e.pool, tenants.NewAPIToken{Name: "ops", Scope: tenants.ScopeOperator}, tenants.ActorSystem)
	if err != nil {
		t.Fatal(err)
	}
	_, ro, err := tenants.CreateAPIToken(ctx, e.pool, tenants.NewAPIToken{Name: "monitor", Scope: tenants.ScopeRead}, tenants.ActorSystem)
	if err != nil {
		t.Fatal(err)
	}
	send := func(method, path, token, body string) (int, map[string]any) {
		t.Helper()
		req, _ := http.NewRequest(method, e.srv.URL+path, bytes.NewBufferString(body))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		return resp.StatusCode, out
	}
	code, body := e.apiCall(http.MethodGet, "/api/v1/intake", ro)
	if code != http.StatusOK || body["closed"] != false || body["waiting_list"] != 0.0 {
		t.Fatalf("GET intake with a read token: %d %v", code, body)
	}
	if code, body := send(http.MethodPost, "/api/v1/intake", ro, `{"paused":true}`); code != http.StatusForbidden {
		t.Errorf("read token pauses: %d %v", code, body)
	}
	code, body = send(http.MethodPost, "/api/v1/intake", op, `{"paused":true,"message_fr":"Fermé."}`)
	if code != http.StatusOK || body["closed"] != true || body["closed_by"] != "paused" || body["updated_by_name"] != "ops" || body["message_fr"] != "Fermé." {
		t.Errorf("pause: %d %v", code, body)
	}
	for _, tc := range []struct {
		body, code, field string
	}{
		{`{}`, "nothing_to_change", ""},
		{`{"waiting_list_threshold":-1}`, "invalid_value", "waiting_list_threshold"},
		{`{"waiting_list_threshold":"ten"}`, "invalid_body", "waiting_list_threshold"},
		{`{"pause":true}`, "invalid_body", "pause"},
		{`{"message_en":"a\u200bb"}`, "invalid_value", "message_en"},
	} {
		code, body := send(http.MethodPost, "/api/v1/intake", op, tc.body)
		if c, f := apiErrorOf(body); code != http.StatusBadRequest || c != tc.code || f != tc.field {
			t.Errorf("%s: %d %s %s, want 400 %s %s", tc.body, code, c, f, tc.code, tc.field)
		}
	}
	if code, body := send(http.MethodPost, "/api/v1/intake", op, `{"paused":false,"waiting_list_threshold":10}`); code != http.StatusOK ||
		body["closed"] != false || body["waiting_list_threshold"] != 10.0 {
		t.Errorf("resume and threshold: %d %v", code, body)
	}

	code, body = send(http.MethodPost, "/api/v1/partners", op, `{"name":"Chatons","url":"https://chatons.example","offer_fr":"Des espaces"}`)
	if code != http.StatusCreated || body["open"] != true || body["name"] != "Chatons" {
		t.Fatalf("add partner: %d %v", code, body)
	}
	id := itoa(int(body["id"].(float64)))
	for _, tc := range []struct {
		method, path, body string
		status             int
		code, field        string
	}{
		{http.MethodPost, "/api/v1/partners", `{"name":"chatons","url":"https://x.example","offer_fr":"x"}`, http.StatusConflict, "name_taken", "name"},
		{http.MethodPost, "/api/v1/partners", `{"name":"X","url":"ftp://x.example","offer_fr":"x"}`, http.StatusBadRequest, "invalid_value", "url"},
		{http.MethodPost, "/api/v1/partners", `{"name":"X","url":"https://x.example"}`, http.StatusBadRequest, "invalid_value", "offer_fr"},
		{http.MethodPost, "/api/v1/partners/" + id, `{}`, http.StatusBadRequest, "nothing_to_change", ""},
		{http.MethodPost, "/api/v1/partners/9999", `{"open":false}`, http.StatusNotFound, "not_found", "id"},
		{http.MethodPost, "/api/v1/partners/x", `{"open":false}`, http.StatusNotFound, "not_found", "id"},
		{http.MethodDelete, "/api/v1/partners/" + id, ``, http.StatusForbidden, "forbidden_scope", ""},
	} {
		token := op
		if tc.code == "forbidden_scope" {
			token = ro
		}
		code, body := send(tc.method, tc.path, token, tc.body)
		if c, f := apiErrorOf(body); code != tc.status || c != tc.code || f != tc.field {
			t.Errorf("%s %s %s: %d %s %s, want %d %s %s", tc.method, tc.path, tc.body, code, c, f, tc.status, tc.code, tc.field)
		}
	}
	if code, body := send(http.MethodPost, "/api/v1/partners/"+id, op, `{"open":false}`); code != http.StatusOK || body["open"] != false {
		t.Errorf("set full: %d %v", code, body)
	}
	code, body = e.apiCall(http.MethodGet, "/api/v1/partners", ro)
	if list, _ := body["partners"].([]any); code != http.StatusOK || len(list) != 1 {
		t.Errorf("list: %d %v", code, body)
	}
	if code, body := send(http.MethodDelete, "/api/v1/partners/"+id, op, ``); code != http.StatusOK || body["name"] != "Chatons" {
		t.Errorf("remove: %d %v", code, body)
	}
	// Every change reads in the audit log under the token, as a sentence.
	code, body = e.apiCall(http.MethodGet, "/api/v1/audit?actor=ops", ro)
	entries, _ := body["entries"].([]any)
	var actions []string
	for _, x := range entries {
		actions = append(actions, x.(map[string]any)["action"].(string))
	}
	if code != http.StatusOK || strings.Join(actions, " ") != "partner.remove partner.update partner.create intake.threshold intake.resume intake.pause" {
		t.Errorf("audit: %d %v", code, actions)
	}
}
