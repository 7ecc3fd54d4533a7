package webui

import (
	"context"
	"encoding/json"
	"html"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/assospaces/spaces/tenants"
	"github.com/assospaces/spaces/tenants/notify/smtptest"
	"github.com/assospaces/spaces/tenants/secretbox"
)

// forwardPair is two services running this software on two databases, each with its River
// workers and its mail server: the sender, whose intake is paused, forwards to the partner.
type forwardPair struct {
	sender, partner         *testEnv
	senderMail, partnerMail *smtptest.Server
	// partnerHost is the partner as the sender records it, with forwarding to partner's API.
	partnerHost tenants.Partner
	// forwardToken is the token of scope forward the partner gave the sender.
	forwardToken tenants.APIToken
}

func newForwardPair(t *testing.T) forwardPair {
	t.Helper()
	ctx := context.Background()
	var fp forwardPair
	for _, m := range []**smtptest.Server{&fp.senderMail, &fp.partnerMail} {
		s, err := smtptest.Start("127.0.0.1:0", smtptest.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		*m = s
	}
	fp.partner = newTestEnv(t, envOptions{mail: fp.partnerMail, workerPool: true})
	fp.sender = newTestEnv(t, envOptions{mail: fp.senderMail, workerPool: true})
	var secret string
	fp.forwardToken, secret = fp.partner.apiTokenFor("Espaces du Nord", tenants.ScopeForward)
	p, err := tenants.AddPartner(ctx, fp.sender.pool, tenants.Partner{Name: "Chatons du Sud", URL: "https://chatons-sud.example/adherer",
		OfferFR: "Nextcloud gratuit.", OfferEN: "Free Nextcloud.", Open: true}, tenants.ActorSystem)
	if err != nil {
		t.Fatal(err)
	}
	box, err := secretbox.New(fp.sender.key)
	if err != nil {
		t.Fatal(err)
	}
	address := fp.partner.srv.URL
	if fp.partnerHost, err = tenants.SetPartnerForwarding(ctx, fp.sender.pool, box, p.ID,
		tenants.ForwardingChange{URL: &address, Token: &secret}, tenants.ActorSystem); err != nil {
		t.Fatal(err)
	}
	if _, err := tenants.PauseIntake(ctx, fp.sender.pool, "Complet pour l'hiver.", "", tenants.ActorSystem); err != nil {
		t.Fatal(err)
	}
	return fp
}

// waitForward waits until forward id is no longer queued and returns it.
func waitForward(t *testing.T, e *testEnv, id int64) tenants.Forward {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for {
		f, err := tenants.GetForward(ctx, e.pool, id)
		if err != nil {
			t.Fatal(err)
		}
		if f.State != tenants.ForwardQueued {
			return f
		}
		select {
		case <-ctx.Done():
			t.Fatalf("forward %d still queued", id)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// forwardThroughThePages is the applicant's way: the closed form offers the partner, its form
// without the consent comes back as typed, with it the forward is recorded. It returns the forward.
func (fp forwardPair) forwardThroughThePages(t *testing.T, form map[string][]string) tenants.Forward {
	t.Helper()
	e := fp.sender
	c := e.newClient()
	path := "/apply/forward/" + strconv.FormatInt(fp.partnerHost.ID, 10)
	_, closed := e.get(c, "/?lang=en")
	if !strings.Contains(closed, `href="`+path+`"`) || !strings.Contains(closed, "Send my application to Chatons du Sud") {
		t.Fatalf("the closed form does not offer forwarding to the partner:\n%s", closed)
	}
	resp, page := e.get(c, path+"?lang=en")
	if code := resp.StatusCode; code != http.StatusOK || !strings.Contains(page, "I agree that this application, with my contact details, is sent to Chatons du Sud, which will answer me by email.") {
		t.Fatalf("GET %s: %d\n%s", path, resp.StatusCode, page)
	}

	// Without the consent: nothing recorded, the form comes back as typed with the error at the box.
	values := validForm(1)
	for k, v := range form {
		values[k] = v
	}
	resp, page = e.post(c, path+"?lang=en", values)
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(page, `id="f-consent-error"`) ||
		!strings.Contains(page, "Tick this box so that we can send your application to this host.") ||
		!strings.Contains(page, `value="`+values.Get("association_name")+`"`) ||
		!strings.Contains(page, values.Get("purpose")) || !strings.Contains(page, `aria-describedby="f-consent-error"`) {
		t.Fatalf("POST without consent: %d\n%s", resp.StatusCode, page)
	}
	if fs, err := tenants.ListForwards(context.Background(), e.pool, tenants.ForwardFilter{}); err != nil || len(fs) != 0 {
		t.Fatalf("a forward was recorded without consent: %v %v", fs, err)
	}

	values.Set("consent", "on")
	resp, _ = e.post(c, path+"?lang=en", values)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != path+"/sent" {
		t.Fatalf("POST with consent: %d, Location %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	// The same form sent twice (a double click) is one forward.
	resp, _ = e.post(c, path+"?lang=en", values)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("POST again: %d", resp.StatusCode)
	}
	_, sent := e.get(c, path+"/sent?lang=en")
	if !strings.Contains(sent, "Your application is on its way to Chatons du Sud") {
		t.Errorf("sent page:\n%s", sent)
	}
	fs, err := tenants.ListForwards(context.Background(), e.pool, tenants.ForwardFilter{})
	if err != nil || len(fs) != 1 || fs[0].PartnerName != "Chatons du Sud" || fs[0].AssociationName != values.Get("association_name") {
		t.Fatalf("forwards after sending: %+v %v", fs, err)
	}
	return fs[0]
}

// TestForwardDeliveredToAPartner runs the whole way on two services: the applicant forwards
// through the sender's pages, the sender's worker posts to the partner's API, and the partner
// holds the application, mails its contact the usual status link and says in its history that it
// came forwarded, under the token's name; the sender's forward is delivered, its payload cleared.
func TestForwardDeliveredToAPartner(t *testing.T) {
	fp := newForwardPair(t)
	ctx := context.Background()
	fw := fp.forwardThroughThePages(t, map[string][]string{"contact_email": {"camille@jardin.example"}})

	got := waitForward(t, fp.sender, fw.ID)
	if got.State != tenants.ForwardDelivered || got.Payload != nil || got.FinishedAt == nil || got.Answer != "" {
		t.Fatalf("forward after the worker: %+v", got)
	}
	var payloadGone bool
	if err := fp.sender.pool.QueryRow(ctx, `SELECT payload IS NULL FROM forwards WHERE id = $1`, fw.ID).Scan(&payloadGone); err != nil || !payloadGone {
		t.Errorf("the payload is kept after delivery: %v", err)
	}

	// The partner holds the application and mailed its contact its own status link.
	mctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	m, err := fp.partnerMail.Wait(mctx, "camille@jardin.example")
	if err != nil {
		t.Fatal(err)
	}
	link := regexp.MustCompile(regexp.QuoteMeta(fp.partner.srv.URL) + `/status/st_[a-z0-9]+`).FindString(m.Text)
	if !strings.Contains(m.Subject, "Application received") || link == "" {
		t.Fatalf("the partner's mail: %q\n%s", m.Subject, m.Text)
	}
	resp, status := fp.partner.get(fp.partner.newClient(), strings.TrimPrefix(link, fp.partner.srv.URL))
	if resp.StatusCode != http.StatusOK || !strings.Contains(status, "Les Amis du Jardin 1") {
		t.Errorf("the partner's status page: %d\n%s", resp.StatusCode, status)
	}
	var appID int64
	var locale string
	if err := fp.partner.pool.QueryRow(ctx, `SELECT id, locale FROM applications WHERE slug = 'jardin-1'`).Scan(&appID, &locale); err != nil {
		t.Fatalf("the partner holds no application: %v", err)
	}
	if locale != "en" {
		t.Errorf("the application's locale at the partner: %q, want the applicant's en", locale)
	}
	trail, err := tenants.AuditTrail(ctx, fp.partner.pool, "application", appID)
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, e := range trail {
		actions = append(actions, e.Action)
		if e.Action == "forward.received" && (e.Actor != tenants.TokenActor(fp.forwardToken.ID) || e.Detail["token_name"] != "Espaces du Nord") {
			t.Errorf("forward.received entry: %+v", e)
		}
	}
	if strings.Join(actions, " ") != "application.submit forward.received" {
		t.Errorf("the partner's history: %v", actions)
	}
	// Moderators there read it in words, under the token's name.
	mc, _ := fp.partner.addModerator("alex@example.org", "Alex")
	_, detail := fp.partner.get(mc, "/moderation/applications/"+strconv.FormatInt(appID, 10)+"?lang=en")
	if !strings.Contains(detail, "forwarded this application from a partner host") || !strings.Contains(detail, "Espaces du Nord") {
		t.Errorf("the partner's moderators do not read that it came forwarded:\n%s", detail)
	}
	if len(fp.senderMail.Messages()) != 0 {
		t.Errorf("the sender mailed the applicant on a delivery: %v", fp.senderMail.Messages()[0].Subject)
	}

	// The sender's trail: asked by the applicant, delivered by the system.
	strail, err := tenants.AuditTrail(ctx, fp.sender.pool, "forward", fw.ID)
	if err != nil || len(strail) != 2 || strail[0].Action != "forward.create" || strail[0].Actor != tenants.ActorApplicant ||
		strail[1].Action != "forward.delivered" || strail[1].ToState != "delivered" {
		t.Errorf("the sender's trail: %+v %v", strail, err)
	}

	// Tracking: the API (read token) and the operators' page.
	_, ro := fp.sender.apiTokenFor("monitor", tenants.ScopeRead)
	code, body := fp.sender.apiCall(http.MethodGet, "/api/v1/forwards?state=delivered", ro)
	list, _ := body["forwards"].([]any)
	if code != http.StatusOK || len(list) != 1 {
		t.Fatalf("GET /api/v1/forwards: %d %v", code, body)
	}
	raw, _ := json.Marshal(list[0])
	for _, secret := range []string{"camille@jardin.example", "Camille Martin", "payload", "jardin-1"} {
		if strings.Contains(string(raw), secret) {
			t.Errorf("the forwards list shows %q: %s", secret, raw)
		}
	}
	code, body = fp.sender.apiCall(http.MethodGet, "/api/v1/forwards?state=lost", ro)
	if c, f := apiErrorOf(body); code != http.StatusBadRequest || c != "invalid_parameter" || f != "state" {
		t.Errorf("GET /api/v1/forwards?state=lost: %d %v", code, body)
	}
	c, _ := fp.sender.addModerator("alex@example.org", "Alex")
	_, page := fp.sender.get(c, "/moderation/intake?lang=en")
	if !strings.Contains(page, "Les Amis du Jardin 1, to Chatons du Sud, on") || !strings.Contains(page, "received by the partner") ||
		!strings.Contains(page, "takes forwarded applications") {
		t.Errorf("the operators' intake page does not list the forward in words:\n%s", page)
	}
}

// TestForwardRefusedByAClosedPartner: a partner whose intake is closed answers 503
// intake_closed; the forward is refused with its answer, the payload cleared, and the applicant
// mailed where to apply directly.
func TestForwardRefusedByAClosedPartner(t *testing.T) {
	fp := newForwardPair(t)
	ctx := context.Background()
	if _, err := tenants.PauseIntake(ctx, fp.partner.pool, "", "Full until spring.", tenants.ActorSystem); err != nil {
		t.Fatal(err)
	}
	fw := fp.forwardThroughThePages(t, map[string][]string{"contact_email": {"dominique@jardin.example"}})
	got := waitForward(t, fp.sender, fw.ID)
	if got.State != tenants.ForwardRefused || !strings.Contains(got.Answer, "503 intake_closed") ||
		!strings.Contains(got.Answer, "Full until spring.") || got.Payload != nil {
		t.Fatalf("forward to a closed partner: %+v", got)
	}
	mctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	m, err := fp.senderMail.Wait(mctx, "dominique@jardin.example")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(m.Subject, "could not be sent to Chatons du Sud") || !strings.Contains(m.Text, "https://chatons-sud.example/adherer") ||
		strings.Contains(m.Text, "Les Amis du Jardin") {
		t.Errorf("the applicant's mail: %q\n%s", m.Subject, m.Text)
	}
	var n int
	if err := fp.partner.pool.QueryRow(ctx, `SELECT count(*) FROM applications`).Scan(&n); err != nil || n != 0 {
		t.Errorf("the closed partner recorded %d applications (%v)", n, err)
	}
	strail, _ := tenants.AuditTrail(ctx, fp.sender.pool, "forward", fw.ID)
	if len(strail) != 2 || strail[1].Action != "forward.refused" {
		t.Errorf("the sender's trail: %+v", strail)
	}
}

// TestAPIApplicationCreate is the receiving side alone: who may send, what is refused and how,
// and that an application sent twice is one, answered alike.
func TestAPIApplicationCreate(t *testing.T) {
	e := newTestEnv(t, envOptions{})
	ctx := context.Background()
	_, fwd := e.apiTokenFor("Espaces du Nord", tenants.ScopeForward)
	_, ro := e.apiTokenFor("monitor", tenants.ScopeRead)
	_, op := e.apiTokenFor("ops", tenants.ScopeOperator)
	app := func(change map[string]any) string {
		b := map[string]any{"association_name": "Les Amis du Verger", "legal_id": "W751234567", "slug": "verger",
			"contact_name": "Sacha Roux", "contact_email": "sacha@verger.example", "purpose": "Un verger partagé.",
			"activities": "Taille, cueillette.", "expected_accounts": 5, "locale": "fr", "submission_key": "fwd_0123456789abcdefghij"}
		for k, v := range change {
			b[k] = v
		}
		raw, _ := json.Marshal(b)
		return string(raw)
	}

	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/api/v1/applications", strings.NewReader(app(nil)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("no token: %d", resp.StatusCode)
	}
	if code, body := e.appAPICall(http.MethodPost, "/api/v1/applications", ro, app(nil)); code != http.StatusForbidden {
		t.Errorf("read token: %d %v", code, body)
	} else if c, _ := apiErrorOf(body); c != "forbidden_scope" {
		t.Errorf("read token: %v", body)
	}
	// A forward token may do nothing else.
	for _, path := range []string{"/api/v1/spaces", "/api/v1/applications", "/api/v1/forwards", "/api/v1/partners"} {
		if code, body := e.apiCall(http.MethodGet, path, fwd); code != http.StatusForbidden {
			t.Errorf("GET %s with a forward token: %d %v", path, code, body)
		}
	}

	for name, tc := range map[string]struct {
		change map[string]any
		field  string
	}{
		"bad slug":        {map[string]any{"slug": "A B"}, "slug"},
		"bad legal id":    {map[string]any{"legal_id": "123"}, "legal_id"},
		"no email":        {map[string]any{"contact_email": ""}, "contact_email"},
		"too many":        {map[string]any{"expected_accounts": 100000}, "expected_accounts"},
		"bad locale":      {map[string]any{"locale": "de"}, "locale"},
		"no key":          {map[string]any{"submission_key": ""}, "submission_key"},
		"invisible char":  {map[string]any{"association_name": "Les Amis\u202e du Verger"}, "association_name"},
		"several: first":  {map[string]any{"contact_name": "", "purpose": ""}, "contact_name"},
		"missing purpose": {map[string]any{"purpose": "  "}, "purpose"},
	} {
		code, body := e.appAPICall(http.MethodPost, "/api/v1/applications", fwd, app(tc.change))
		c, f := apiErrorOf(body)
		if code != http.StatusUnprocessableEntity || c != "invalid_value" || f != tc.field || !strings.HasPrefix(apiMessageOf(body), tc.field) {
			t.Errorf("%s: %d %v, want 422 invalid_value at %s", name, code, body, tc.field)
		}
	}
	if code, body := e.appAPICall(http.MethodPost, "/api/v1/applications", fwd, `{"association":"x"}`); code != http.StatusBadRequest {
		t.Errorf("unknown field: %d %v", code, body)
	}

	for i := 0; i < 2; i++ {
		code, body := e.appAPICall(http.MethodPost, "/api/v1/applications", fwd, app(nil))
		if code != http.StatusAccepted || body["status"] != "received" {
			t.Fatalf("send %d: %d %v", i+1, code, body)
		}
	}
	// Another address with the same number: answered alike, recorded for moderators to compare.
	if code, body := e.appAPICall(http.MethodPost, "/api/v1/applications", op,
		app(map[string]any{"contact_email": "autre@verger.example", "slug": "verger-bis", "submission_key": "fwd_other0123456789abc"})); code != http.StatusAccepted {
		t.Errorf("an operator token with another address: %d %v", code, body)
	}
	var n int
	var jobs int
	if err := e.pool.QueryRow(ctx, `SELECT count(*) FROM applications WHERE legal_id = 'W751234567'`).Scan(&n); err != nil || n != 2 {
		t.Errorf("applications recorded: %d (%v), want 2 (the same one sent twice is one)", n, err)
	}
	if err := e.pool.QueryRow(ctx, `SELECT count(*) FROM river_job WHERE kind = 'send_mail' AND args->>'template' = 'application_received'
		AND args->>'to' = 'sacha@verger.example' AND args->>'locale' = 'fr'`).Scan(&jobs); err != nil || jobs != 1 {
		t.Errorf("received mails queued for the contact: %d (%v), want 1", jobs, err)
	}

	if _, err := tenants.PauseIntake(ctx, e.pool, "", "", tenants.ActorSystem); err != nil {
		t.Fatal(err)
	}
	code, body := e.appAPICall(http.MethodPost, "/api/v1/applications", fwd, app(map[string]any{"submission_key": "fwd_closed0123456789"}))
	if c, _ := apiErrorOf(body); code != http.StatusServiceUnavailable || c != "intake_closed" {
		t.Errorf("closed intake: %d %v", code, body)
	}
}

// TestAPIPartnerForwardTokenIsWriteOnly: the token given to the partners' API is sealed in the
// table and never answered back.
func TestAPIPartnerForwardTokenIsWriteOnly(t *testing.T) {
	e := newTestEnv(t, envOptions{})
	ctx := context.Background()
	_, op := e.apiTokenFor("ops", tenants.ScopeOperator)
	const secret = "spt_partnersecretvalue0123456789"
	code, body := e.appAPICall(http.MethodPost, "/api/v1/partners", op, `{"name":"Chatons","url":"https://c.example","offer_fr":"x",
		"forward_url":"https://api.c.example","forward_token":"`+secret+`"}`)
	raw, _ := json.Marshal(body)
	if code != http.StatusCreated || body["forwarding"] != true || body["forward_url"] != "https://api.c.example" || strings.Contains(string(raw), secret) {
		t.Fatalf("add with forwarding: %d %s", code, raw)
	}
	id := strconv.FormatInt(int64(body["id"].(float64)), 10)
	_, list := e.apiCall(http.MethodGet, "/api/v1/partners", op)
	if raw, _ := json.Marshal(list); strings.Contains(string(raw), secret) {
		t.Errorf("the list shows the token: %s", raw)
	}
	var sealed string
	if err := e.pool.QueryRow(ctx, `SELECT forward_token_sealed FROM partners WHERE id = $1`, id).Scan(&sealed); err != nil ||
		strings.Contains(sealed, secret) || !strings.HasPrefix(sealed, "v1.") {
		t.Errorf("the stored token is not sealed: %q %v", sealed, err)
	}
	var audit string
	if err := e.pool.QueryRow(ctx, `SELECT string_agg(detail::text, ' ') FROM audit_log`).Scan(&audit); err != nil || strings.Contains(audit, secret) {
		t.Errorf("the audit log holds the token (%v)", err)
	}
	// A URL without a token, a token with spaces: refused, naming the field.
	code, body = e.appAPICall(http.MethodPost, "/api/v1/partners", op, `{"name":"Autre","url":"https://a.example","offer_fr":"x","forward_url":"https://a.example"}`)
	if c, f := apiErrorOf(body); code != http.StatusBadRequest || c != "invalid_value" || f != "forward_token" {
		t.Errorf("forward_url without a token: %d %v", code, body)
	}
	code, body = e.appAPICall(http.MethodPost, "/api/v1/partners/"+id, op, `{"forward_token":"two words"}`)
	if c, f := apiErrorOf(body); code != http.StatusBadRequest || c != "invalid_value" || f != "forward_token" {
		t.Errorf("a token with a space: %d %v", code, body)
	}
	code, body = e.appAPICall(http.MethodPost, "/api/v1/partners/"+id, op, `{"forward_url":""}`)
	if code != http.StatusOK || body["forwarding"] != false {
		t.Errorf("forwarding off: %d %v", code, body)
	}
	if err := e.pool.QueryRow(ctx, `SELECT coalesce(forward_token_sealed, '') FROM partners WHERE id = $1`, id).Scan(&sealed); err != nil || sealed != "" {
		t.Errorf("the token is kept after forwarding is turned off: %q %v", sealed, err)
	}
}

// TestForwardPrefilledFromTheClosedForm: a form sent just after the intake closed comes back on
// the closed page, whose offer to forward carries what was typed into the partner's form, to be
// checked and sent; nothing is recorded until then.
func TestForwardPrefilledFromTheClosedForm(t *testing.T) {
	e := newTestEnv(t, envOptions{})
	ctx := context.Background()
	box, _ := secretbox.New(e.key)
	p, err := tenants.AddPartner(ctx, e.pool, tenants.Partner{Name: "Chatons du Sud", URL: "https://chatons-sud.example",
		OfferFR: "Nextcloud gratuit.", Open: true}, tenants.ActorSystem)
	if err != nil {
		t.Fatal(err)
	}
	addr, token := "https://api.chatons-sud.example", "spt_x"
	if _, err := tenants.SetPartnerForwarding(ctx, e.pool, box, p.ID, tenants.ForwardingChange{URL: &addr, Token: &token}, tenants.ActorSystem); err != nil {
		t.Fatal(err)
	}
	if _, err := tenants.PauseIntake(ctx, e.pool, "", "", tenants.ActorSystem); err != nil {
		t.Fatal(err)
	}
	typed := validForm(7)
	typed.Set("purpose", `Un jardin "partagé" & <ouvert>.`)
	resp, page := e.post(e.client, "/apply?lang=en", typed)
	path := "/apply/forward/" + strconv.FormatInt(p.ID, 10)
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(page, `action="`+path+`"`) ||
		!strings.Contains(page, `name="association_name" value="Les Amis du Jardin 7"`) {
		t.Fatalf("the closed page does not offer to forward what was typed: %d\n%s", resp.StatusCode, page)
	}
	hidden := regexp.MustCompile(`<input type="hidden" name="([a-z_]+)" value="([^"]*)">`)
	form := map[string][]string{}
	start := strings.Index(page, `action="`+path+`"`)
	end := start + strings.Index(page[start:], "</form>")
	for _, m := range hidden.FindAllStringSubmatch(page[start:end], -1) {
		form[m[1]] = []string{html.UnescapeString(m[2])}
	}
	if form["prefill"] == nil || form["csrf_token"] == nil {
		t.Fatalf("the offer's form: %v", form)
	}
	resp, page = e.post(e.client, path+"?lang=en", form)
	if resp.StatusCode != http.StatusOK || strings.Contains(page, `class="error"`) || strings.Contains(page, `role="alert"`) ||
		!strings.Contains(page, `value="Les Amis du Jardin 7"`) || !strings.Contains(page, "Un jardin &#34;partagé&#34; &amp; &lt;ouvert&gt;.") {
		t.Fatalf("the prefilled form: %d\n%s", resp.StatusCode, page)
	}
	if fs, _ := tenants.ListForwards(ctx, e.pool, tenants.ForwardFilter{}); len(fs) != 0 {
		t.Errorf("prefilling recorded a forward: %+v", fs)
	}
}
