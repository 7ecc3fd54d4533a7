package webui

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/assospaces/spaces/quota"
	"github.com/assospaces/spaces/tenants"
)

func countApplications(t *testing.T, e *testEnv) int {
	t.Helper()
	var n int
	if err := e.pool.QueryRow(context.Background(), `SELECT count(*) FROM applications`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestApplyFormRendersInBothLanguages(t *testing.T) {
	e := newTestEnv(t, envOptions{})
	for _, lang := range []string{"fr", "en"} {
		resp, body := e.get(e.newClient(), "/?lang="+lang)
		mustStatus(t, resp, body, http.StatusOK)
		if strings.Contains(body, "[[") {
			t.Errorf("%s: untranslated key in page: %s", lang, body[strings.Index(body, "[["):][:60])
		}
		if !strings.Contains(body, `lang="`+lang+`"`) || !csrfRe.MatchString(body) || !submissionRe.MatchString(body) {
			t.Errorf("%s: page lacks lang, CSRF field or submission key", lang)
		}
		csp := resp.Header.Get("Content-Security-Policy")
		if !strings.Contains(csp, "frame-ancestors 'none'") || strings.Contains(csp, "unsafe-inline") {
			t.Errorf("CSP = %q", csp)
		}
	}
	_, body := e.get(e.newClient(), "/")
	if !strings.Contains(body, "Demander un espace") {
		t.Errorf("default language is not French")
	}
	req, _ := http.NewRequest(http.MethodGet, e.srv.URL+"/", nil)
	req.Header.Set("Accept-Language", "en-GB,en;q=0.9")
	resp, body := e.do(e.newClient(), req)
	mustStatus(t, resp, body, http.StatusOK)
	if !strings.Contains(body, "Apply for a space") {
		t.Errorf("Accept-Language en not honoured")
	}
}

func TestApplySubmitThenStatusPage(t *testing.T) {
	e := newTestEnv(t, envOptions{})
	c := e.newClient()
	form := validForm(1)
	resp, body := e.post(c, "/apply", form)
	mustStatus(t, resp, body, http.StatusSeeOther)
	if loc := resp.Header.Get("Location"); loc != "/apply/sent" {
		t.Fatalf("redirect to %q", loc)
	}
	// The status link goes by mail only.
	loc := e.statusPath(form)
	token := strings.TrimPrefix(loc, "/status/")
	if len(token) < 3+26 { // 128 bits in base32 is 26 characters
		t.Fatalf("token too short: %q", token)
	}
	resp, body = e.get(c, loc)
	mustStatus(t, resp, body, http.StatusOK)
	for _, want := range []string{"Les Amis du Jardin 1", "En attente d&#39;examen", "Demande envoyée", "jardin-1"} {
		if !strings.Contains(body, want) {
			t.Errorf("status page lacks %q", want)
		}
	}
	// Only the hash of the token is stored.
	var stored []byte
	if err := e.pool.QueryRow(context.Background(), `SELECT status_token_hash FROM applications`).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(stored), token) || string(stored) != string(tenants.HashSecret(token)) {
		t.Errorf("stored token is not its SHA-256")
	}
	// The received mail is queued with the link sealed, not in clear.
	var args string
	if err := e.pool.QueryRow(context.Background(), `SELECT args::text FROM river_job WHERE kind = 'send_mail'`).Scan(&args); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(args, token) || !strings.Contains(args, "application_received") {
		t.Errorf("mail job args: %s", args)
	}
	// A wrong token is a friendly 404.
	resp, body = e.get(c, "/status/st_doesnotexist")
	mustStatus(t, resp, body, http.StatusNotFound)
}

func TestApplyBadInput(t *testing.T) {
	e := newTestEnv(t, envOptions{})
	ctx := context.Background()
	if _, err := tenants.CreateSpace(ctx, e.pool, tenants.NewSpace{Slug: "pris", AssociationName: "X", ContactEmail: "x@x.example",
		Limits: e.mustLimits()}, tenants.ActorSystem); err != nil {
		t.Fatal(err)
	}
	// An open application holds its slug too.
	resp, body := e.post(e.newClient(), "/apply", func() url.Values { f := validForm(900); f.Set("slug", "en-cours"); return f }())
	mustStatus(t, resp, body, http.StatusSeeOther)

	long := strings.Repeat("a", 2001)
	script := `<script>alert("x")</script>`
	cases := []struct {
		name    string
		change  func(url.Values)
		status  int
		field   string // the field whose error must show
		message string // part of the message
	}{
		{"empty form", func(f url.Values) {
			for k := range f {
				if k != "submission_key" {
					f.Del(k)
				}
			}
		}, 422, "association_name", "Ce champ est obligatoire"},
		{"empty name", func(f url.Values) { f.Set("association_name", "  ") }, 422, "association_name", "obligatoire"},
		{"overlong name", func(f url.Values) { f.Set("association_name", strings.Repeat("n", 201)) }, 422, "association_name", "200 caractères au plus"},
		{"overlong purpose", func(f url.Values) { f.Set("purpose", long) }, 422, "purpose", "2000 caractères au plus"},
		{"identifier letters", func(f url.Values) { f.Set("legal_id", "ABC123") }, 422, "legal_id", "ni un numéro RNA"},
		{"RNA too short", func(f url.Values) { f.Set("legal_id", "W12345678") }, 422, "legal_id", "ni un numéro RNA"},
		{"SIREN bad check digit", func(f url.Values) { f.Set("legal_id", "123456788") }, 422, "legal_id", "clé de contrôle"},
		{"SIRET instead of SIREN", func(f url.Values) { f.Set("legal_id", "73282932000074") }, 422, "legal_id", "732829320"},
		{"reserved slug", func(f url.Values) { f.Set("slug", "admin") }, 422, "slug", "réservée"},
		{"reserved www", func(f url.Values) { f.Set("slug", "www") }, 422, "slug", "réservée"},
		{"slug taken by a space", func(f url.Values) { f.Set("slug", "pris") }, 422, "slug", "déjà prise"},
		{"slug taken by an open application", func(f url.Values) { f.Set("slug", "en-cours") }, 422, "slug", "déjà prise"},
		{"slug too short", func(f url.Values) { f.Set("slug", "ab") }, 422, "slug", "Entre 3 et 40"},
		{"slug too long", func(f url.Values) { f.Set("slug", strings.Repeat("a", 41)) }, 422, "slug", "Entre 3 et 40"},
		{"slug double hyphen", func(f url.Values) { f.Set("slug", "xn--abc") }, 422, "slug", "doublé"},
		{"uppercase slug normalised", func(f url.Values) { f.Set("slug", "Jardin-Partage") }, 422, "slug", "« jardin-partage »"},
		{"accented slug normalised", func(f url.Values) { f.Set("slug", "café des Ami·es") }, 422, "slug", "ne l&#39;est pas"},
		{"accents dropped", func(f url.Values) { f.Set("slug", "écolo") }, 422, "slug", "« ecolo »"},
		{"cyrillic look-alike", func(f url.Values) { f.Set("slug", "jаrdin") }, 422, "slug", "ressemble à une lettre latine"},
		{"emoji slug", func(f url.Values) { f.Set("slug", "jardin🌱") }, 422, "slug", "ne l&#39;est pas"},
		{"bad email", func(f url.Values) { f.Set("contact_email", "camille@") }, 422, "contact_email", "ne semble pas valide"},
		{"email with header injection", func(f url.Values) { f.Set("contact_email", "a@b.example\r\nBcc: x@y.example") }, 422, "contact_email", "ne semble pas valide"},
		{"accounts not a number", func(f url.Values) { f.Set("expected_accounts", "douze") }, 422, "expected_accounts", "nombre entier"},
		{"accounts out of range", func(f url.Values) { f.Set("expected_accounts", "51") }, 422, "expected_accounts", "entre 1 et 50"},
		{"terms not accepted", func(f url.Values) { f.Del("terms") }, 422, "terms", "Cochez cette case"},
		{"NUL byte", func(f url.Values) { f.Set("contact_name", "Ca\x00mille") }, 422, "contact_name", "caractères"},
		{"script in name", func(f url.Values) { f.Set("association_name", script); f.Set("slug", "ab") }, 422, "slug", "Entre 3"},
		// Letters whose lowercase is longer in UTF-8 once made the cut of a typed domain panic.
		{"slug of Ⱥ with the domain", func(f url.Values) { f.Set("slug", strings.Repeat("Ⱥ", 20)+".spaces.test") }, 422, "slug", "ne l&#39;est pas"},
		{"right-to-left override in name", func(f url.Values) { f.Set("association_name", "Jardin \u202eelbaT") }, 422, "association_name", "caractère invisible (U&#43;202E)"},
		{"isolate in contact name", func(f url.Values) { f.Set("contact_name", "Camille \u2067x\u2069") }, 422, "contact_name", "caractère invisible (U&#43;2067)"},
		{"zero-width space in name", func(f url.Values) { f.Set("association_name", "Les Amis\u200b du Jardin") }, 422, "association_name", "caractère invisible (U&#43;200B)"},
		{"zero-width joiner in purpose", func(f url.Values) { f.Set("purpose", "Jardiner\u200d ensemble") }, 422, "purpose", "caractère invisible (U&#43;200D)"},
		{"byte order mark in activities", func(f url.Values) { f.Set("activities", "\ufeffPotager") }, 422, "activities", "caractère invisible (U&#43;FEFF)"},
		{"word joiner in email", func(f url.Values) { f.Set("contact_email", "camille\u2060@jardin.example") }, 422, "contact_email", "caractère invisible (U&#43;2060)"},
		// Composing (NFC) can lengthen a text; the length is checked on what is stored.
		{"name longer once composed", func(f url.Values) { f.Set("association_name", strings.Repeat("\ufb2c", 100)) }, 422, "association_name", "200 caractères au plus"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := countApplications(t, e)
			f := validForm(100 + len(tc.name))
			tc.change(f)
			resp, body := e.post(e.newClient(), "/apply", f)
			mustStatus(t, resp, body, tc.status)
			if !strings.Contains(body, `id="f-`+tc.field+`-error"`) {
				t.Errorf("no error shown at field %s", tc.field)
			}
			if !strings.Contains(body, tc.message) {
				t.Errorf("page lacks %q", tc.message)
			}
			if !strings.Contains(body, `role="alert"`) {
				t.Errorf("no role=alert summary")
			}
			// Everything typed is kept (escaped).
			for _, k := range []string{"association_name", "contact_name"} {
				if v := f.Get(k); v != "" && !strings.ContainsRune(v, 0) && !strings.Contains(body, htmlEscape(v)) {
					t.Errorf("typed %s %q not kept", k, v)
				}
			}
			if strings.Contains(body, script) {
				t.Errorf("script tag shown unescaped")
			}
			if after := countApplications(t, e); after != before {
				t.Errorf("an application was recorded from bad input")
			}
		})
	}
}

func htmlEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&#34;", "'", "&#39;").Replace(s)
}

func (e *testEnv) mustLimits() quota.Limits { return quota.DefaultLimits }

func TestScriptTagsShownEscapedEverywhere(t *testing.T) {
	e := newTestEnv(t, envOptions{})
	script := `<script>alert(1)</script>`
	f := validForm(7)
	for _, k := range []string{"association_name", "contact_name", "purpose", "activities"} {
		f.Set(k, script+" "+k)
	}
	c := e.newClient()
	resp, body := e.post(c, "/apply", f)
	mustStatus(t, resp, body, http.StatusSeeOther)
	_, body = e.get(c, e.statusPath(f)) // the link the applicant gets by mail
	if strings.Contains(body, "<script>") || !strings.Contains(body, "&lt;script&gt;alert(1)&lt;/script&gt; purpose") {
		t.Errorf("status page does not escape free text")
	}
	mc, _ := e.addModerator("mod@example.org", "Mod")
	_, body = e.get(mc, "/moderation")
	if strings.Contains(body, "<script>") || !strings.Contains(body, "&lt;script&gt;") {
		t.Errorf("queue does not escape free text")
	}
	var id int64
	e.pool.QueryRow(context.Background(), `SELECT id FROM applications`).Scan(&id) //nolint:errcheck
	_, body = e.get(mc, "/moderation/applications/"+itoa(int(id)))
	if strings.Contains(body, "<script>") || !strings.Contains(body, "&lt;script&gt;alert(1)&lt;/script&gt; activities") {
		t.Errorf("detail page does not escape free text")
	}
}

func TestMissingOrWrongCSRFIsRefused(t *testing.T) {
	e := newTestEnv(t, envOptions{})
	for name, token := range map[string]string{"missing": "", "wrong": "AAAA"} {
		t.Run(name, func(t *testing.T) {
			f := validForm(3)
			f.Set("csrf_token", token)
			c := e.newClient()
			e.get(c, "/") // the browser has its cookie
			resp, body := e.post(c, "/apply", f)
			mustStatus(t, resp, body, http.StatusForbidden)
			if !strings.Contains(body, "Le formulaire a expiré") {
				t.Errorf("no friendly CSRF page")
			}
			if countApplications(t, e) != 0 {
				t.Errorf("recorded without CSRF")
			}
		})
	}
	// Another browser's token does not work with this browser's cookie.
	other := e.csrf(e.newClient())
	f := validForm(4)
	f.Set("csrf_token", other)
	resp, body := e.post(e.newClient(), "/apply", f)
	mustStatus(t, resp, body, http.StatusForbidden)
	// A cross-site browser request is refused even with a token.
	c := e.newClient()
	f = validForm(5)
	f.Set("csrf_token", e.csrf(c))
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/apply", strings.NewReader(f.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	resp, body = e.do(c, req)
	mustStatus(t, resp, body, http.StatusForbidden)
}

func TestDoubleSubmissionLandsOnOneApplication(t *testing.T) {
	e := newTestEnv(t, envOptions{})
	c := e.newClient()
	f := validForm(8)
	f.Set("csrf_token", e.csrf(c))
	type result struct {
		status int
		loc    string
	}
	results := make(chan result, 4)
	for range 4 {
		go func() {
			req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/apply", strings.NewReader(f.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			resp, err := c.Do(req)
			if err != nil {
				results <- result{}
				return
			}
			resp.Body.Close()
			results <- result{resp.StatusCode, strings.SplitN(resp.Header.Get("Location"), "?", 2)[0]}
		}()
	}
	var first string
	for range 4 {
		r := <-results
		if r.status != http.StatusSeeOther || r.loc != "/apply/sent" {
			t.Fatalf("double submission answered %d %q", r.status, r.loc)
		}
		if first == "" {
			first = r.loc
		} else if r.loc != first {
			t.Errorf("double submission went to two status pages: %s and %s", first, r.loc)
		}
	}
	if n := countApplications(t, e); n != 1 {
		t.Errorf("%d applications recorded, want 1", n)
	}
}

func TestHoneypotRecordsNothing(t *testing.T) {
	e := newTestEnv(t, envOptions{})
	f := validForm(13)
	f.Set("website", "http://spam.example")
	resp, body := e.post(e.newClient(), "/apply", f)
	mustStatus(t, resp, body, http.StatusSeeOther)
	if countApplications(t, e) != 0 {
		t.Errorf("honeypot submission recorded")
	}
}

func TestRateLimitPerAddress(t *testing.T) {
	e := newTestEnv(t, envOptions{applyPerHour: 2})
	for i := range 2 {
		resp, body := e.post(e.newClient(), "/apply", validForm(20+i))
		mustStatus(t, resp, body, http.StatusSeeOther)
	}
	resp, body := e.post(e.newClient(), "/apply", validForm(30))
	mustStatus(t, resp, body, http.StatusTooManyRequests)
	if !strings.Contains(body, "Trop de demandes") || !strings.Contains(body, "Les Amis du Jardin 30") {
		t.Errorf("rate-limited page should explain and keep the values")
	}
}

func TestBodyLimit(t *testing.T) {
	e := newTestEnv(t, envOptions{})
	f := validForm(40)
	f.Set("purpose", strings.Repeat("x", maxFormBytes))
	resp, body := e.post(e.newClient(), "/apply", f)
	mustStatus(t, resp, body, http.StatusRequestEntityTooLarge)
}

func TestWithdrawAndLostLink(t *testing.T) {
	e := newTestEnv(t, envOptions{})
	c := e.newClient()
	validForm50 := validForm(50)
	resp, body := e.post(c, "/apply", validForm50)
	mustStatus(t, resp, body, http.StatusSeeOther)
	status := e.statusPath(validForm50)
	resp, body = e.post(c, status+"/withdraw", url.Values{})
	mustStatus(t, resp, body, http.StatusSeeOther)
	_, body = e.get(c, status)
	if !strings.Contains(body, "Retirée") || !strings.Contains(body, "seront effacées le") {
		t.Errorf("withdrawn page wrong")
	}
	// Withdrawing twice says what happened instead of failing.
	resp, _ = e.post(c, status+"/withdraw", url.Values{})
	if !strings.Contains(resp.Header.Get("Location"), "done=moved") {
		t.Errorf("second withdraw: %s", resp.Header.Get("Location"))
	}
	// A lost-link request enqueues one job, known address or not; the old link keeps working.
	resp, body = e.post(e.newClient(), "/status/lost", url.Values{"email": {"camille50@jardin.example"}})
	mustStatus(t, resp, body, http.StatusSeeOther)
	resp, body = e.get(c, status)
	mustStatus(t, resp, body, http.StatusOK)
	resp, _ = e.post(e.newClient(), "/status/lost", url.Values{"email": {"nobody@example.org"}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Errorf("unknown email answered %d", resp.StatusCode)
	}
	var n int
	e.pool.QueryRow(context.Background(), `SELECT count(*) FROM river_job WHERE kind = 'status_link_request'`).Scan(&n) //nolint:errcheck
	if n != 2 {
		t.Errorf("lost-link requests queued: %d, want 2", n)
	}
}

func TestApplyTextIsStoredComposed(t *testing.T) {
	e := newTestEnv(t, envOptions{})
	f := validForm(60)
	f.Set("association_name", "Cafe\u0301 des Amis 60")
	f.Set("purpose", "Re\u0301colter\r\nensemble")
	resp, body := e.post(e.newClient(), "/apply", f)
	mustStatus(t, resp, body, http.StatusSeeOther)
	var name, purpose string
	if err := e.pool.QueryRow(context.Background(), `SELECT association_name, purpose FROM applications`).Scan(&name, &purpose); err != nil {
		t.Fatal(err)
	}
	if name != "Café des Amis 60" || purpose != "Récolter\nensemble" {
		t.Errorf("stored %q, %q; want them composed (NFC)", name, purpose)
	}
}

func TestApplyInvisibleCharacterMessageInEnglish(t *testing.T) {
	e := newTestEnv(t, envOptions{})
	c := e.newClient()
	e.get(c, "/?lang=en")
	f := validForm(61)
	f.Set("association_name", "Garden \u202enedraG")
	resp, body := e.post(c, "/apply", f)
	mustStatus(t, resp, body, http.StatusUnprocessableEntity)
	if !strings.Contains(body, `id="f-association_name-error"`) || !strings.Contains(body, "invisible character (U&#43;202E)") {
		t.Errorf("no English message at the field")
	}
	if strings.Contains(body, "[[") {
		t.Errorf("untranslated key in page")
	}
	if countApplications(t, e) != 0 {
		t.Errorf("recorded with an override character")
	}
}
