package webui

import (
	"context"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
)

// submit sends a valid application n and returns its status page path.
func (e *testEnv) submit(n int) string {
	e.t.Helper()
	form := validForm(n)
	resp, body := e.post(e.newClient(), "/apply", form)
	mustStatus(e.t, resp, body, http.StatusSeeOther)
	return e.statusPath(form)
}

func (e *testEnv) appID(slug string) string {
	var id int64
	if err := e.pool.QueryRow(context.Background(), `SELECT id FROM applications WHERE slug = $1`, slug).Scan(&id); err != nil {
		e.t.Fatal(err)
	}
	return itoa(int(id))
}

// timeline is the text of a page's history, one entry a line, without markup.
func timeline(body string) string {
	ol := regexp.MustCompile(`(?s)<ol class="timeline">(.*?)</ol>`).FindStringSubmatch(body)
	if ol == nil {
		return ""
	}
	lines := regexp.MustCompile(`(?s)<li[^>]*>(.*?)</li>`).FindAllStringSubmatch(ol[1], -1)
	out := make([]string, len(lines))
	for i, l := range lines {
		out[i] = html.UnescapeString(regexp.MustCompile(`<[^>]*>`).ReplaceAllString(l[1], ""))
	}
	return strings.Join(out, "\n")
}

func TestModeratorLoginAndLogout(t *testing.T) {
	e := newTestEnv(t, envOptions{})
	c := e.newClient()
	resp, _ := e.get(c, "/moderation")
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/moderation/login") {
		t.Fatalf("queue without session: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	mc, _ := e.addModerator("mod@example.org", "Dominique")
	resp, body := e.post(e.newClient(), "/moderation/login", url.Values{"email": {"mod@example.org"}, "password": {"wrong password!"}})
	mustStatus(t, resp, body, http.StatusUnauthorized)
	if !strings.Contains(body, "incorrect") {
		t.Errorf("no login error")
	}
	var cookie *http.Cookie
	u, _ := url.Parse(e.srv.URL)
	for _, ck := range mc.Jar.Cookies(u) {
		if ck.Name == "session" {
			cookie = ck
		}
	}
	if cookie == nil {
		t.Fatal("no session cookie")
	}
	resp, body = e.get(mc, "/moderation")
	mustStatus(t, resp, body, http.StatusOK)
	if !strings.Contains(body, "Dominique") {
		t.Errorf("queue does not show who is logged in")
	}
	var stored int
	e.pool.QueryRow(context.Background(), `SELECT count(*) FROM moderator_sessions WHERE id_hash = sha256($1::text::bytea)`, cookie.Value).Scan(&stored) //nolint:errcheck
	if stored != 1 {
		t.Errorf("session not stored as its hash")
	}
	resp, body = e.post(mc, "/moderation/logout", url.Values{})
	mustStatus(t, resp, body, http.StatusSeeOther)
	// The old cookie no longer opens anything.
	req, _ := http.NewRequest(http.MethodGet, e.srv.URL+"/moderation", nil)
	req.AddCookie(&http.Cookie{Name: "session", Value: cookie.Value})
	resp, _ = e.do(e.newClient(), req)
	if resp.StatusCode != http.StatusSeeOther {
		t.Errorf("session survived logout: %d", resp.StatusCode)
	}
}

func TestModerationFlow(t *testing.T) {
	e := newTestEnv(t, envOptions{})
	ctx := context.Background()
	status := e.submit(60)
	e.submit(61)
	mc, _ := e.addModerator("alex@example.org", "Alex")
	other, _ := e.addModerator("sam@example.org", "Sam")

	resp, body := e.get(mc, "/moderation")
	mustStatus(t, resp, body, http.StatusOK)
	if strings.Index(body, "jardin-60") > strings.Index(body, "jardin-61") {
		t.Errorf("queue is not oldest first")
	}
	id := e.appID("jardin-60")
	_, body = e.get(mc, "/moderation?q=Jardin+61")
	if strings.Contains(body, "jardin-60") || !strings.Contains(body, "jardin-61") {
		t.Errorf("search by name does not filter")
	}
	_, body = e.get(mc, "/moderation?q="+rna(61))
	if !strings.Contains(body, "jardin-61") || strings.Contains(body, "jardin-60") {
		t.Errorf("search by identifier does not filter")
	}

	// Claim: the other moderator is told, and cannot decide.
	resp, body = e.post(mc, "/moderation/applications/"+id+"/claim", url.Values{})
	mustStatus(t, resp, body, http.StatusSeeOther)
	resp, body = e.post(other, "/moderation/applications/"+id+"/approve", url.Values{})
	mustStatus(t, resp, body, http.StatusConflict)
	if !strings.Contains(body, "Alex s&#39;occupe de cette demande") {
		t.Errorf("claim conflict not explained")
	}

	// Ask for information; the applicant answers from the status page.
	resp, body = e.post(mc, "/moderation/applications/"+id+"/ask", url.Values{"question": {"Pouvez-vous joindre vos statuts ?"}})
	mustStatus(t, resp, body, http.StatusSeeOther)
	applicant := e.newClient()
	_, body = e.get(applicant, status)
	if !strings.Contains(body, "Pouvez-vous joindre vos statuts ?") || !strings.Contains(body, `action="`+status+`/reply"`) {
		t.Fatalf("status page lacks the question or the reply form")
	}
	resp, body = e.post(applicant, status+"/reply", url.Values{"reply": {""}})
	mustStatus(t, resp, body, http.StatusUnprocessableEntity)
	// An invisible character that reverses the reading direction is refused, what was typed kept.
	resp, body = e.post(applicant, status+"/reply", url.Values{"reply": {"Les voici \u202egnp.stuts"}})
	mustStatus(t, resp, body, http.StatusUnprocessableEntity)
	if !strings.Contains(body, "Les voici") {
		t.Errorf("the refused reply was not kept in the form")
	}
	resp, body = e.post(applicant, status+"/reply", url.Values{"reply": {"Les voici : https://jardin.example/statuts.pdf"}})
	mustStatus(t, resp, body, http.StatusSeeOther)

	// Approve: one queued space with the default limits, and its provisioning job.
	resp, body = e.post(mc, "/moderation/applications/"+id+"/approve", url.Values{})
	mustStatus(t, resp, body, http.StatusSeeOther)
	var state string
	var storage int64
	var accounts int
	if err := e.pool.QueryRow(ctx, `SELECT state, storage_limit_bytes, account_limit FROM spaces WHERE slug = 'jardin-60'`).Scan(&state, &storage, &accounts); err != nil {
		t.Fatal(err)
	}
	if state != "queued" || storage != 40<<30 || accounts != 50 {
		t.Errorf("space %s %d %d", state, storage, accounts)
	}
	var jobsN int
	e.pool.QueryRow(ctx, `SELECT count(*) FROM river_job WHERE kind = 'provision_space'`).Scan(&jobsN) //nolint:errcheck
	if jobsN != 1 {
		t.Errorf("%d provisioning jobs", jobsN)
	}
	_, body = e.get(applicant, status)
	if !strings.Contains(body, "Acceptée") || !strings.Contains(body, "https://jardin-60.spaces.test") {
		t.Errorf("status page does not show the approval and the space")
	}
	// The history tells every step in a sentence, who did it in bold, without codes.
	_, body = e.get(mc, "/moderation/applications/"+id)
	history := timeline(body)
	for _, want := range []string{"l'association a envoyé sa demande (adresse : jardin-60)", "Alex a pris la demande en charge jusqu",
		"Alex a demandé des précisions à l'association", "l'association a répondu à la question", "Alex a accepté la demande",
		"Alex a créé l'espace (limites : 40\u00a0GB, 50 comptes, adresse : jardin-60)"} {
		if !strings.Contains(history, want) {
			t.Errorf("history lacks %q:\n%s", want, history)
		}
	}
	for _, code := range []string{"application.", "space.", "pending", "needs_info", "approved", "moderator:", "→"} {
		if strings.Contains(history, code) {
			t.Errorf("history shows %q:\n%s", code, history)
		}
	}
	if !strings.Contains(body, "<strong>Alex</strong> a accepté la demande") || !strings.Contains(body, `<li data-action="application.approve">`) {
		t.Errorf("the actor is not set apart, or the entry lost its code in the markup")
	}
	_, en := e.get(mc, "/moderation/applications/"+id+"?lang=en")
	history = timeline(en)
	for _, want := range []string{"the association sent its application (address: jardin-60)", "Alex claimed the application until ",
		"Alex asked the association for more information", "the association answered the question", "Alex approved the application",
		"Alex created the space (limits: 40\u00a0GB, 50 accounts, address: jardin-60)"} {
		if !strings.Contains(history, want) {
			t.Errorf("English history lacks %q:\n%s", want, history)
		}
	}
	e.get(mc, "/moderation/applications/"+id+"?lang=fr")
	// The applicant reads what happened, not who in the team did it nor the claims.
	_, body = e.get(applicant, status)
	history = timeline(body)
	for _, want := range []string{"Demande envoyée", "L'équipe a posé une question", "Réponse envoyée", "Demande acceptée",
		"Espace créé, en attente de préparation"} {
		if !strings.Contains(history, want) {
			t.Errorf("applicant's history lacks %q:\n%s", want, history)
		}
	}
	if strings.Contains(history, "Alex") || strings.Contains(history, "charge") || strings.Contains(history, "jardin-60") {
		t.Errorf("applicant's history shows the team's bookkeeping:\n%s", history)
	}
	// Approving again says it is decided.
	resp, body = e.post(other, "/moderation/applications/"+id+"/approve", url.Values{})
	mustStatus(t, resp, body, http.StatusConflict)

	// Reject the other with a template reason and a note; the reason is shown and mailed.
	id61 := e.appID("jardin-61")
	var reasonID string
	e.pool.QueryRow(ctx, `SELECT id::text FROM rejection_reasons ORDER BY position LIMIT 1`).Scan(&reasonID) //nolint:errcheck
	resp, body = e.post(other, "/moderation/applications/"+id61+"/reject", url.Values{"reason_id": {""}})
	mustStatus(t, resp, body, http.StatusUnprocessableEntity)
	resp, body = e.post(other, "/moderation/applications/"+id61+"/reject", url.Values{"reason_id": {reasonID}, "note": {"Contactez-nous si besoin."}})
	mustStatus(t, resp, body, http.StatusSeeOther)
	var reason, mailData string
	e.pool.QueryRow(ctx, `SELECT decision_reason FROM applications WHERE id = $1`, id61).Scan(&reason)                         //nolint:errcheck
	e.pool.QueryRow(ctx, `SELECT args->'data'->>'Reason' FROM river_job WHERE args->>'template' = 'rejected'`).Scan(&mailData) //nolint:errcheck
	if !strings.Contains(reason, "réservé aux associations") || !strings.HasSuffix(reason, "Contactez-nous si besoin.") || mailData != reason {
		t.Errorf("reason %q, mailed %q", reason, mailData)
	}
	_, body = e.get(other, "/moderation/applications/"+id61)
	if h := timeline(body); !strings.Contains(h, "Sam a refusé la demande, motif «\u00a0") {
		t.Errorf("rejection not told in the history:\n%s", h)
	}
	_, body = e.get(mc, "/moderation?state=rejected")
	if !strings.Contains(body, "jardin-61") {
		t.Errorf("rejected filter")
	}
}

func TestRejectionReasonsAreEditable(t *testing.T) {
	e := newTestEnv(t, envOptions{})
	mc, _ := e.addModerator("alex@example.org", "Alex")
	resp, body := e.post(mc, "/moderation/reasons", url.Values{"title": {""}, "body_fr": {"x"}, "body_en": {"y"}})
	mustStatus(t, resp, body, http.StatusUnprocessableEntity)
	resp, body = e.post(mc, "/moderation/reasons", url.Values{"title": {"Hors de France"}, "body_fr": {"Le service est réservé aux associations françaises."}, "body_en": {"The service is for French associations."}, "position": {"5"}})
	mustStatus(t, resp, body, http.StatusSeeOther)
	_, body = e.get(mc, "/moderation/reasons")
	if !strings.Contains(body, "Hors de France") {
		t.Fatal("new reason not listed")
	}
	var id string
	e.pool.QueryRow(context.Background(), `SELECT id::text FROM rejection_reasons WHERE title = 'Hors de France'`).Scan(&id) //nolint:errcheck
	resp, body = e.post(mc, "/moderation/reasons", url.Values{"id": {id}, "title": {"Hors de France"}, "body_fr": {"Texte revu."}, "body_en": {"Revised."}, "archived": {"on"}})
	mustStatus(t, resp, body, http.StatusSeeOther)
	e.submit(70)
	_, body = e.get(mc, "/moderation/applications/"+e.appID("jardin-70"))
	if strings.Contains(body, "Hors de France") {
		t.Errorf("archived reason still offered")
	}
	var audits int
	e.pool.QueryRow(context.Background(), `SELECT count(*) FROM audit_log WHERE subject_type = 'rejection_reason'`).Scan(&audits) //nolint:errcheck
	if audits != 2 {
		t.Errorf("reason edits audited %d times, want 2", audits)
	}
}

// Two moderators press approve at the same instant: exactly one space exists afterwards, one
// of them is told the application was decided, and one provisioning job is queued.
func TestConcurrentApprovalMakesOneSpace(t *testing.T) {
	e := newTestEnv(t, envOptions{})
	for round := range 5 {
		e.submit(80 + round)
		id := e.appID("jardin-" + itoa(80+round))
		var clients []*http.Client
		var forms []url.Values
		for i := range 2 {
			c, _ := e.addModerator("m"+itoa(round)+"-"+itoa(i)+"@example.org", "M"+itoa(i))
			clients = append(clients, c)
			forms = append(forms, url.Values{"csrf_token": {e.csrf(c)}})
		}
		var wg sync.WaitGroup
		start := make(chan struct{})
		codes := make([]int, 2)
		for i := range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/moderation/applications/"+id+"/approve", strings.NewReader(forms[i].Encode()))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				<-start
				resp, err := clients[i].Do(req)
				if err != nil {
					t.Error(err)
					return
				}
				resp.Body.Close()
				codes[i] = resp.StatusCode
			}()
		}
		close(start)
		wg.Wait()
		var spaces, provisions int
		e.pool.QueryRow(context.Background(), `SELECT count(*) FROM spaces WHERE slug = $1`, "jardin-"+itoa(80+round)).Scan(&spaces) //nolint:errcheck
		e.pool.QueryRow(context.Background(), `SELECT count(*) FROM river_job WHERE kind = 'provision_space'`).Scan(&provisions)     //nolint:errcheck
		ok := (codes[0] == 303 && codes[1] == 409) || (codes[0] == 409 && codes[1] == 303)
		if spaces != 1 || provisions != round+1 || !ok {
			t.Fatalf("round %d: %d spaces, %d provisioning jobs, answers %v", round, spaces, provisions, codes)
		}
	}
}
