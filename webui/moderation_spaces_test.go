package webui

import (
	"context"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/assospaces/spaces/jobs"
	"github.com/assospaces/spaces/quota"
	"github.com/assospaces/spaces/tenants"
)

// addOperator creates a moderator whose role is operator and returns a client logged in as them.
func (e *testEnv) addOperator(email, name string) (*http.Client, tenants.Moderator) {
	e.t.Helper()
	c, _ := e.addModerator(email, name)
	m, _, err := tenants.SetModeratorRole(context.Background(), e.pool, email, tenants.RoleOperator, tenants.ActorSystem)
	if err != nil {
		e.t.Fatal(err)
	}
	return c, m
}

// decisions are the operators' decisions as the server makes them, for a test to record some.
func (e *testEnv) decisions() *jobs.Decisions {
	return &jobs.Decisions{Pool: e.pool, Client: e.jobs, BaseDomain: "spaces.test", PublicURL: e.srv.URL}
}

// spaceFixture is a space as a test wants it: its state and, if measured, its usage.
type spaceFixture struct {
	slug, name string
	state      tenants.SpaceState
	used       int64 // bytes; with accounts 0 and used 0 the space is never measured
	accounts   int
}

// addSpace creates a space in f.state as approval and the reconciler would, with its usage.
func (e *testEnv) addSpace(f spaceFixture) tenants.Space {
	e.t.Helper()
	ctx := context.Background()
	s, err := tenants.CreateSpace(ctx, e.pool, tenants.NewSpace{Slug: f.slug, AssociationName: f.name,
		ContactEmail: "contact@" + f.slug + ".example", Limits: quota.DefaultLimits}, tenants.ActorSystem)
	if err != nil {
		e.t.Fatal(err)
	}
	switch f.state {
	case tenants.SpaceProvisioning:
		e.moveSpace(s.ID, "", tenants.SpaceProvisioning)
	case tenants.SpaceActive:
		e.moveSpace(s.ID, "", tenants.SpaceProvisioning, tenants.SpaceActive)
	case tenants.SpaceSuspended:
		e.moveSpace(s.ID, "", tenants.SpaceProvisioning, tenants.SpaceActive)
		if _, err := tenants.SuspendSpace(ctx, e.pool, s.ID, "unpaid hosting", tenants.ActorSystem); err != nil {
			e.t.Fatal(err)
		}
	case tenants.SpaceFailed:
		e.moveSpace(s.ID, "health: not healthy after 5m0s", tenants.SpaceProvisioning, tenants.SpaceFailed)
	case tenants.SpaceDeleting, tenants.SpaceDeleted:
		e.moveSpace(s.ID, "", tenants.SpaceProvisioning, tenants.SpaceActive)
		if _, _, err := tenants.DeleteSpace(ctx, e.pool, s.ID, "asked by the association", 30*24*time.Hour, time.Now(), tenants.ActorSystem); err != nil {
			e.t.Fatal(err)
		}
		if f.state == tenants.SpaceDeleted {
			if _, err := tenants.MarkSpacePurged(ctx, e.pool, s.ID); err != nil {
				e.t.Fatal(err)
			}
		}
	}
	if f.used > 0 || f.accounts > 0 {
		now := time.Now()
		level := quota.StorageLevel(quota.LevelOK, f.used, quota.DefaultLimits.StorageBytes)
		if err := tenants.RecordUsage(ctx, e.pool, tenants.Usage{SpaceID: s.ID, UsedBytes: f.used, AccountsEnabled: f.accounts,
			ActiveUsersDay: 2, ActiveUsersMonth: 5, Level: level}, now, now.Add(time.Hour)); err != nil {
			e.t.Fatal(err)
		}
	}
	s, err = tenants.GetSpace(ctx, e.pool, s.ID)
	if err != nil {
		e.t.Fatal(err)
	}
	return s
}

// listedSlugs are the spaces of a spaces page, in order.
func listedSlugs(body string) []string {
	var out []string
	for _, m := range regexp.MustCompile(`<th scope="row"><a href="/moderation/spaces/([a-z0-9-]+)">`).FindAllStringSubmatch(body, -1) {
		out = append(out, m[1])
	}
	return out
}

// noRawData fails when a page shows what people should never read: a Go map, a float in
// exponent form, an untranslated key.
func noRawData(t *testing.T, what, body string) {
	t.Helper()
	if m := rawData.FindString(body); m != "" {
		t.Errorf("%s: raw data on the page: %q", what, m)
	}
	if strings.Contains(body, "map[") || regexp.MustCompile(`\de\+\d`).MatchString(body) {
		t.Errorf("%s: a Go map or a float in exponent form on the page", what)
	}
}

func TestModeratorSpacesList(t *testing.T) {
	e := newTestEnv(t, envOptions{})
	anon := e.newClient()
	if resp, _ := e.get(anon, "/moderation/spaces"); resp.StatusCode != http.StatusSeeOther ||
		!strings.HasPrefix(resp.Header.Get("Location"), "/moderation/login") {
		t.Fatalf("spaces page without a session: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	mc, _ := e.addModerator("alex@example.org", "Alex")
	for _, f := range []spaceFixture{
		{"chorale-du-marais", "Chorale du Marais", tenants.SpaceActive, 41 * quota.GB, 23},
		{"repair-cafe", "Repair Café de Nantes", tenants.SpaceActive, 34 * quota.GB, 12},
		{"amap-coteaux", "AMAP des Coteaux", tenants.SpaceActive, 9 * quota.GB, 50},
		{"theatre-en-herbe", "Théâtre en herbe", tenants.SpaceSuspended, 2 * quota.GB, 4},
		{"club-echecs", "Club d'échecs", tenants.SpaceActive, 0, 0},
		{"velo-solidaire", "Vélo solidaire", tenants.SpaceQueued, 0, 0},
		{"ancien-jardin", "Ancien jardin", tenants.SpaceDeleted, 0, 0},
		{"fanfare", "La Fanfare", tenants.SpaceDeleting, 0, 0},
	} {
		e.addSpace(f)
	}
	// Over the accounts limit, under the storage one.
	crowded := e.addSpace(spaceFixture{"ludotheque", "Ludothèque d'Arras", tenants.SpaceActive, quota.GB, 52})

	resp, body := e.get(mc, "/moderation/spaces")
	mustStatus(t, resp, body, http.StatusOK)
	noUntranslated(t, "spaces (fr)", body)
	noRawData(t, "spaces (fr)", body)
	if got := strings.Join(listedSlugs(body), " "); got != "chorale-du-marais repair-cafe amap-coteaux theatre-en-herbe club-echecs velo-solidaire fanfare ludotheque" {
		t.Errorf("every space but the deleted one, oldest first: %s", got)
	}
	for _, want := range []string{
		`<a href="/moderation/spaces" aria-current="page">Espaces</a>`,
		`Tous sauf supprimés <span class="count">8</span>`, `Supprimé <span class="count">1</span>`, `Actif <span class="count">5</span>`,
		`<span class="badge space-suspended">Suspendu</span>`, `<span class="badge space-queued">En file d&#39;attente</span>`,
		"41\u00a0GB sur 40\u00a0GB (102\u00a0%)", `<svg class="bar level-full"`, "plein : les envois de fichiers sont refusés",
		"34\u00a0GB sur 40\u00a0GB (85\u00a0%)", `<svg class="bar level-80"`, "50 comptes sur 50", "limite atteinte : aucun compte de plus",
		"pas encore mesuré", // the active space never measured
		"Vous pouvez tout consulter ; seuls les opérateurs peuvent changer les limites d&#39;un espace",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("spaces (fr): page lacks %q", want)
		}
	}

	for name, c := range map[string]struct {
		query string
		want  string
	}{
		"suspended":               {"state=suspended", "theatre-en-herbe"},
		"deleted":                 {"state=deleted", "ancien-jardin"},
		"deleting":                {"state=deleting", "fanfare"},
		"near":                    {"usage=near", "chorale-du-marais repair-cafe amap-coteaux ludotheque"},
		"over":                    {"usage=over", "chorale-du-marais ludotheque"},
		"near and suspended":      {"usage=near&state=suspended", ""},
		"search a name":           {"q=chorale", "chorale-du-marais"},
		"search without accents":  {"q=theatre", "theatre-en-herbe"},
		"search with accents":     {"q=V%C3%A9lo", "velo-solidaire"},
		"search an address":       {"q=echecs", "club-echecs"},
		"search and filter":       {"q=a&usage=over", "chorale-du-marais ludotheque"},
		"unknown filters ignored": {"state=lost&usage=much", "chorale-du-marais repair-cafe amap-coteaux theatre-en-herbe club-echecs velo-solidaire fanfare ludotheque"},
	} {
		resp, body := e.get(mc, "/moderation/spaces?"+c.query)
		mustStatus(t, resp, body, http.StatusOK)
		if got := strings.Join(listedSlugs(body), " "); got != c.want {
			t.Errorf("%s (%s): %q, want %q", name, c.query, got, c.want)
		}
		if c.want == "" && !strings.Contains(body, "Aucun espace ne correspond.") {
			t.Errorf("%s: no sentence for an empty list", name)
		}
	}
	// The filters are kept by the state tabs and the form, and the page says what they keep.
	_, body = e.get(mc, "/moderation/spaces?usage=over&q=lud")
	if !strings.Contains(body, "Au-delà de leurs limites : stockage plein, ou plus de comptes actifs que permis.") {
		t.Errorf("the usage filter is not explained")
	}
	if !strings.Contains(body, `href="/moderation/spaces?q=lud&amp;state=suspended&amp;usage=over"`) ||
		!strings.Contains(body, `<option value="over" selected>`) || !strings.Contains(body, `value="lud"`) {
		t.Errorf("filters not kept in the tabs and the form")
	}
	if crowded.Limits.Accounts != 50 {
		t.Fatalf("fixture: %+v", crowded.Limits)
	}

	// In English.
	_, en := e.get(mc, "/moderation/spaces?lang=en")
	noUntranslated(t, "spaces (en)", en)
	for _, want := range []string{"All but deleted", "41\u00a0GB of 40\u00a0GB (102%)", "not measured yet", "In this state since",
		"Near their limits"} {
		if !strings.Contains(en, want) {
			t.Errorf("spaces (en): page lacks %q", want)
		}
	}
	e.get(mc, "/moderation/spaces?lang=fr")

	// Keyset pagination: 50 a page, the next page after the last one shown.
	for i := range 50 {
		e.addSpace(spaceFixture{slug: "asso-" + itoa(i), name: "Association " + itoa(i), state: tenants.SpaceActive})
	}
	_, body = e.get(mc, "/moderation/spaces")
	first := listedSlugs(body)
	next := regexp.MustCompile(`<a href="([^"]+)" rel="next">`).FindStringSubmatch(body)
	if len(first) != 50 || next == nil {
		t.Fatalf("first page: %d spaces, next %v", len(first), next)
	}
	_, body = e.get(mc, strings.ReplaceAll(next[1], "&amp;", "&"))
	second := listedSlugs(body)
	if len(second) != 8 || second[0] != "asso-42" || strings.Contains(body, `rel="next"`) || !strings.Contains(body, "Première page") {
		t.Errorf("second page: %v", second)
	}
	// A search finds the last space too.
	_, body = e.get(mc, "/moderation/spaces?q=association+49")
	if got := listedSlugs(body); len(got) != 1 || got[0] != "asso-49" {
		t.Errorf("search of the last space: %v", got)
	}

	// The queue's header leads here; an operator does not get the read-only sentence.
	_, body = e.get(mc, "/moderation")
	if !strings.Contains(body, `<a href="/moderation/spaces">Espaces</a>`) {
		t.Errorf("no link to the spaces page in the moderators' navigation")
	}
	oc, _ := e.addOperator("sam@example.org", "Sam")
	_, body = e.get(oc, "/moderation/spaces")
	if strings.Contains(body, "Vous pouvez tout consulter") {
		t.Errorf("an operator is told they can only look")
	}
}

func TestModeratorSpacesDetail(t *testing.T) {
	e := newTestEnv(t, envOptions{})
	ctx := context.Background()
	oc, op := e.addOperator("sam@example.org", "Sam")
	appID, _, spaceID := e.approveSpace(oc, 80)
	e.moveSpace(spaceID, "", tenants.SpaceProvisioning, tenants.SpaceActive)
	limit := quota.DefaultLimits.StorageBytes
	now := time.Now()
	e.measureHistory(spaceID, limit, 30, 34*quota.GB, 12, now)
	e.observeUsage(spaceID, now,
		tenants.Condition{Type: "Healthy", Status: "True", Reason: "AllocationHealthy", Message: "allocation 4f2a1b at 127.0.0.1:23456"},
		tenants.Condition{Type: "StorageWithinLimit", Status: "True", Reason: "Above80Percent", Message: "34 GB of 40 GB used (85 %)"})
	// A history with every new decision, as the operators' API or these pages record them.
	d := e.decisions()
	if _, err := d.Resize(ctx, spaceID, tenants.Resize{StorageBytes: 4294967296 * 10, Accounts: 60}, tenants.TokenActor(7)); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Resize(ctx, spaceID, tenants.Resize{StorageBytes: 30 * quota.GB, Force: true}, tenants.ModeratorActor(op.ID)); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Suspend(ctx, spaceID, "Contenus signalés", tenants.ModeratorActor(op.ID)); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Resume(ctx, spaceID, tenants.ModeratorActor(op.ID)); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Delete(ctx, spaceID, "L'association est dissoute", tenants.ModeratorActor(op.ID)); err != nil {
		t.Fatal(err)
	}
	s, err := tenants.GetSpace(ctx, e.pool, spaceID)
	if err != nil {
		t.Fatal(err)
	}
	page := "/moderation/spaces/" + s.Slug

	resp, body := e.get(oc, page)
	mustStatus(t, resp, body, http.StatusOK)
	noUntranslated(t, "space (fr)", body)
	noRawData(t, "space (fr)", body)
	for _, want := range []string{
		"Les Amis du Jardin 80", `<span class="badge space-deleting" id="space-badge">En suppression</span>`,
		// The state with its reason, when it will be purged and what a restore brings back.
		`<dd class="text" id="space-delete-reason">L&#39;association est dissoute</dd>`,
		"le " + (tenantsDate(s.DeleteAfter)) + ", sauf restauration d&#39;ici là",
		"remet l&#39;espace «\u00a0Actif\u00a0», comme avant sa suppression, avec ses fichiers, ses comptes, ses limites et son adresse",
		"<dd id=\"space-limits\">30\u00a0GB, 60 comptes</dd>", "camille80@jardin.example",
		`<a href="/moderation/applications/` + appID + `" id="space-application">Demande n° ` + appID + `</a>`,
		// Usage with its chart, conditions as sentences.
		"34\u00a0GB sur 30\u00a0GB", `<svg viewBox="0 0 600 246" role="img"`, "Nextcloud répond", "<p class=\"cond-detail\" lang=\"en\">allocation 4f2a1b at 127.0.0.1:23456</p>",
		// The history as sentences, newest first.
		"Sam</strong> a supprimé l&#39;espace (restaurable jusqu&#39;à son effacement), motif «\u00a0L&#39;association est dissoute\u00a0»",
		"Sam</strong> a réactivé l&#39;espace",
		"Sam</strong> a suspendu l&#39;espace, motif «\u00a0Contenus signalés\u00a0»",
		"Sam</strong> a changé les limites de l&#39;espace sous son utilisation (forcé) : 40\u00a0GB, 60 comptes → 30\u00a0GB, 60 comptes",
		"a changé les limites de l&#39;espace : 40\u00a0GB, 50 comptes → 40\u00a0GB, 60 comptes",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("space (fr): page lacks %q", want)
		}
	}
	if strings.Contains(body, "a accepté la demande") {
		t.Errorf("the application's own history is on the space's page")
	}
	if i, j := strings.Index(body, "a supprimé l&#39;espace"), strings.Index(body, "a suspendu l&#39;espace"); i < 0 || j < 0 || i > j {
		t.Errorf("history not newest first")
	}
	// A deleting space offers only its restore.
	for _, form := range []string{`id="restore"`} {
		if !strings.Contains(body, form) {
			t.Errorf("deleting: no %s form", form)
		}
	}
	for _, form := range []string{`id="resize"`, `id="suspend"`, `id="resume"`, `action="/moderation/spaces/` + s.Slug + `/delete"`} {
		if strings.Contains(body, form) {
			t.Errorf("deleting: a %s form", form)
		}
	}

	_, en := e.get(oc, page+"?lang=en")
	noUntranslated(t, "space (en)", en)
	noRawData(t, "space (en)", en)
	en = html.UnescapeString(en)
	for _, want := range []string{"Why it is being deleted", "unless restored before", `puts the space back to "Active"`,
		`deleted the space (restorable until it is erased), reason "L'association est dissoute"`,
		"changed the space's limits below its usage (forced): 40\u00a0GB, 60 accounts → 30\u00a0GB, 60 accounts",
		"changed the space's limits: 40\u00a0GB, 50 accounts → 40\u00a0GB, 60 accounts",
		`suspended the space, reason "Contenus signalés"`, "Restore the space"} {
		if !strings.Contains(en, want) {
			t.Errorf("space (en): page lacks %q", want)
		}
	}
	e.get(oc, page+"?lang=fr")

	// The application's page leads to the space's.
	_, body = e.get(oc, "/moderation/applications/"+appID)
	if !strings.Contains(body, `<a href="/moderation/spaces/jardin-80" id="space-page">`) {
		t.Errorf("no link from the application to its space's page")
	}

	// A plain moderator sees the page without a form, and why.
	mc, _ := e.addModerator("alex@example.org", "Alex")
	_, body = e.get(mc, page)
	if !strings.Contains(body, `<p id="readonly">Seuls les opérateurs peuvent changer les limites d&#39;un espace`) ||
		strings.Contains(body, `method="post" action="/moderation/spaces/`) {
		t.Errorf("read-only moderator: forms shown, or no sentence saying operators act")
	}
	if resp, _ := e.get(mc, "/moderation/spaces/nope"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("unknown space: %d", resp.StatusCode)
	}

	// A purged space says so and offers nothing.
	gone := e.addSpace(spaceFixture{slug: "ancien-jardin", name: "Ancien jardin", state: tenants.SpaceDeleted})
	_, body = e.get(oc, "/moderation/spaces/"+gone.Slug)
	noRawData(t, "deleted", body)

	if !strings.Contains(body, "ses fichiers, ses comptes et les données personnelles de sa demande ont été supprimés") ||
		!strings.Contains(body, "plus rien ne peut y être changé") || !strings.Contains(body, "aucune demande liée") ||
		!strings.Contains(body, "le service</strong> a effacé l&#39;espace et ses données à la fin du délai de restauration") {
		t.Errorf("a purged space's page")
	}
}

// tenantsDate writes t as the pages do in French, in Paris time.
func tenantsDate(t *time.Time) string {
	loc, _ := time.LoadLocation("Europe/Paris")
	return formatDateTime("fr", t.In(loc))
}

func TestModeratorSpacesActions(t *testing.T) {
	e := newTestEnv(t, envOptions{})
	ctx := context.Background()
	oc, op := e.addOperator("sam@example.org", "Sam")
	s := e.addSpace(spaceFixture{"chorale", "Chorale du Marais", tenants.SpaceActive, 34 * quota.GB, 12})
	page := "/moderation/spaces/" + s.Slug
	actor := string(tenants.ModeratorActor(op.ID))
	current := func() tenants.Space {
		t.Helper()
		s, err := tenants.GetSpace(ctx, e.pool, s.ID)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	lastEntry := func() tenants.AuditEntry {
		t.Helper()
		trail, err := tenants.AuditTrail(ctx, e.pool, "space", s.ID)
		if err != nil {
			t.Fatal(err)
		}
		return trail[len(trail)-1]
	}
	mails := func(template string) int {
		t.Helper()
		var n int
		if err := e.pool.QueryRow(ctx, `SELECT count(*) FROM river_job WHERE kind = 'send_mail' AND args->>'template' = $1
			AND args->>'to' = $2`, template, s.ContactEmail).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	// refused posts form and checks the page comes back with status, the message in the alert
	// block, and the typed values kept.
	refused := func(what, action string, form url.Values, status int, message string, kept ...string) {
		t.Helper()
		resp, body := e.post(oc, page+"/"+action, form)
		if resp.StatusCode != status {
			t.Errorf("%s: status %d, want %d", what, resp.StatusCode, status)
		}
		alert := regexp.MustCompile(`(?s)<div class="alert" role="alert" id="space-error"><p>(.*?)</p>`).FindStringSubmatch(body)
		if alert == nil || !strings.Contains(alert[1], message) {
			t.Errorf("%s: alert %q, want %q", what, alert, message)
		}
		for _, k := range kept {
			if !strings.Contains(body, k) {
				t.Errorf("%s: typed value lost, page lacks %q", what, k)
			}
		}
		noRawData(t, what, body)
	}
	done := func(what, action string, form url.Values, notice string) {
		t.Helper()
		resp, body := e.post(oc, page+"/"+action, form)
		mustStatus(t, resp, body, http.StatusSeeOther)
		loc := resp.Header.Get("Location")
		if !strings.HasPrefix(loc, page+"?done=") {
			t.Fatalf("%s: redirected to %q", what, loc)
		}
		_, body = e.get(oc, loc)
		if n := regexp.MustCompile(`<p class="notice" role="status">([^<]*)</p>`).FindStringSubmatch(body); n == nil || !strings.Contains(n[1], notice) {
			t.Errorf("%s: notice %q, want %q", what, n, notice)
		}
		noRawData(t, what, body)
	}

	// Resize: bad sizes and counts keep what was typed, with what is accepted.
	refused("bad size", "resize", url.Values{"storage": {"quarante"}, "accounts": {"60"}}, http.StatusUnprocessableEntity,
		"«\u00a0quarante\u00a0» n&#39;est pas une taille. Écrivez un nombre suivi de son unité : 40 GB, 500 MB, 1.5 TB ou 2048 KB.",
		`id="f-storage" name="storage" type="text" value="quarante"`, `value="60"`, `aria-invalid="true"`)
	refused("bare number", "resize", url.Values{"storage": {"50"}, "accounts": {"60"}}, http.StatusUnprocessableEntity,
		"n&#39;est pas une taille", `value="50"`)
	refused("too big", "resize", url.Values{"storage": {"200 TB"}, "accounts": {"60"}}, http.StatusUnprocessableEntity,
		"de 100 TB au plus", `value="200 TB"`)
	refused("bad accounts", "resize", url.Values{"storage": {"50 GB"}, "accounts": {"beaucoup"}, "force": {"1"}}, http.StatusUnprocessableEntity,
		"Un nombre entier de comptes, de 1 à 100\u202f000.", `value="50 GB"`, `value="beaucoup"`, `name="force" type="checkbox" value="1" checked`)
	// Below the usage: the figures, and the way to force it.
	refused("shrink storage", "resize", url.Values{"storage": {"30 GB"}, "accounts": {"50"}}, http.StatusUnprocessableEntity,
		"L&#39;association utilise 34\u00a0GB : une limite de 30\u00a0GB serait 4\u00a0GB en dessous. Pour réduire quand même, cochez",
		`value="30 GB"`)
	refused("shrink accounts", "resize", url.Values{"storage": {"40 GB"}, "accounts": {"10"}}, http.StatusUnprocessableEntity,
		"L&#39;association a 12 comptes actifs : une limite de 10 serait 2 en dessous.", `value="10"`)
	if got := current(); got.Limits != quota.DefaultLimits || got.Generation != s.Generation {
		t.Fatalf("refused resizes changed the space: %+v", got.Limits)
	}
	done("resize", "resize", url.Values{"storage": {"50 GB"}, "accounts": {"1 000"}}, "Limites enregistrées : 50\u00a0GB, 1000 comptes.")
	if got := current(); got.Limits != (quota.Limits{StorageBytes: 50 * quota.GB, Accounts: 1000}) || got.Generation != s.Generation+1 {
		t.Errorf("after resize: %+v generation %d", got.Limits, got.Generation)
	}
	if l := lastEntry(); l.Action != "space.resize" || string(l.Actor) != actor || l.Detail["forced"] != nil {
		t.Errorf("resize audit entry: %+v", l)
	}
	done("resize to the same", "resize", url.Values{"storage": {"50 GB"}, "accounts": {"1000"}}, "rien n&#39;a changé")
	done("forced resize", "resize", url.Values{"storage": {"30 GB"}, "accounts": {"50"}, "force": {"1"}}, "Limites enregistrées : 30\u00a0GB, 50 comptes.")
	if l := lastEntry(); l.Action != "space.resize" || string(l.Actor) != actor || l.Detail["forced"] != true {
		t.Errorf("forced resize audit entry: %+v", l)
	}

	// Suspend: the reason is required, then mailed.
	refused("suspend without a reason", "suspend", url.Values{"reason": {"   "}}, http.StatusUnprocessableEntity,
		"Écrivez le motif : il est envoyé à l&#39;association")
	refused("suspend with an invisible character", "suspend", url.Values{"reason": {"Contenus\u202esignalés"}}, http.StatusUnprocessableEntity,
		"caractère invisible (U&#43;202E)", "Contenus\u202esignalés")
	if current().State != tenants.SpaceActive {
		t.Fatal("suspended without a reason")
	}
	refused("resume an active space", "resume", url.Values{}, http.StatusConflict,
		"Rien n&#39;a été fait : cet espace est «\u00a0Actif\u00a0», et seul un espace «\u00a0Suspendu\u00a0» peut être réactivé.")
	refused("restore an active space", "restore", url.Values{}, http.StatusConflict, "seul un espace «\u00a0En suppression\u00a0» peut être restauré")
	done("suspend", "suspend", url.Values{"reason": {"Contenus signalés\r\nà vérifier"}}, "Espace suspendu. L&#39;association est prévenue par e-mail")
	if got := current(); got.State != tenants.SpaceSuspended || got.SuspendReason != "Contenus signalés\nà vérifier" {
		t.Errorf("after suspend: %s %q", got.State, got.SuspendReason)
	}
	if l := lastEntry(); l.Action != "space.suspend" || string(l.Actor) != actor || l.Detail["reason"] != "Contenus signalés\nà vérifier" {
		t.Errorf("suspend audit entry: %+v", l)
	}
	if mails("space_suspended") != 1 {
		t.Errorf("no suspension mail to the association")
	}
	refused("suspend a suspended space", "suspend", url.Values{"reason": {"encore"}}, http.StatusConflict,
		"cet espace est «\u00a0Suspendu\u00a0», et seul un espace «\u00a0Actif\u00a0» peut être suspendu.")

	done("resume", "resume", url.Values{}, "Espace réactivé.")
	if got := current(); got.State != tenants.SpaceActive {
		t.Errorf("after resume: %s", got.State)
	}
	if l := lastEntry(); l.Action != "space.resume" || string(l.Actor) != actor {
		t.Errorf("resume audit entry: %+v", l)
	}
	if mails("space_resumed") != 1 {
		t.Errorf("no resumption mail")
	}

	// Delete: the reason is required; the page says the grace period and the mail.
	_, body := e.get(oc, page)
	if !strings.Contains(body, "gardés 30 jours, jusqu&#39;au ") || !strings.Contains(body, "Le contact de l&#39;association, contact@chorale.example, reçoit un e-mail avec le motif et cette date.") {
		t.Errorf("the deletion form does not say the grace period and the mail")
	}
	refused("delete without a reason", "delete", url.Values{"reason": {""}}, http.StatusUnprocessableEntity, "Écrivez le motif", `<details class="danger" id="delete" open>`)
	done("delete", "delete", url.Values{"reason": {"Association dissoute"}}, "Suppression enregistrée : l&#39;espace est arrêté et sera effacé le ")
	got := current()
	if got.State != tenants.SpaceDeleting || got.DeleteReason != "Association dissoute" || got.DeleteAfter == nil ||
		time.Until(*got.DeleteAfter) < 29*24*time.Hour || got.RestoreState != tenants.SpaceActive {
		t.Errorf("after delete: %+v", got)
	}
	if l := lastEntry(); l.Action != "space.delete" || string(l.Actor) != actor || l.Detail["reason"] != "Association dissoute" {
		t.Errorf("delete audit entry: %+v", l)
	}
	if mails("space_deleted") != 1 {
		t.Errorf("no deletion mail")
	}
	refused("resize a deleting space", "resize", url.Values{"storage": {"40 GB"}, "accounts": {"50"}}, http.StatusConflict,
		"cet espace est «\u00a0En suppression\u00a0», et seul un espace «\u00a0En file d&#39;attente\u00a0», «\u00a0En préparation\u00a0», «\u00a0Actif\u00a0», «\u00a0Suspendu\u00a0» ou «\u00a0En échec\u00a0» peut être redimensionné.")

	done("restore", "restore", url.Values{}, "Espace restauré : il est de nouveau «\u00a0Actif\u00a0».")
	if got := current(); got.State != tenants.SpaceActive || got.DeleteAfter != nil {
		t.Errorf("after restore: %+v", got)
	}
	if l := lastEntry(); l.Action != "space.restore" || string(l.Actor) != actor || l.ToState != "active" {
		t.Errorf("restore audit entry: %+v", l)
	}
	if mails("space_restored") != 1 {
		t.Errorf("no restoration mail")
	}

	// After the grace period a restore is refused with the date.
	if _, err := e.decisions().Delete(ctx, s.ID, "encore", tenants.ActorSystem); err != nil {
		t.Fatal(err)
	}
	if _, err := e.pool.Exec(ctx, `UPDATE spaces SET delete_after = now() - interval '1 hour' WHERE id = $1`, s.ID); err != nil {
		t.Fatal(err)
	}
	refused("restore too late", "restore", url.Values{}, http.StatusConflict, "Rien n&#39;a été fait : le délai de restauration a pris fin le ")
	if current().State != tenants.SpaceDeleting {
		t.Errorf("restored after its grace period")
	}
	if _, err := e.pool.Exec(ctx, `UPDATE spaces SET delete_after = now() + interval '1 day' WHERE id = $1`, s.ID); err != nil {
		t.Fatal(err)
	}
	done("restore again", "restore", url.Values{}, "Espace restauré")

	// A queued space deleted: the association, never told of a space, is not mailed.
	q := e.addSpace(spaceFixture{slug: "velo", name: "Vélo solidaire", state: tenants.SpaceQueued})
	resp, body := e.post(oc, "/moderation/spaces/velo/delete", url.Values{"reason": {"doublon"}})
	mustStatus(t, resp, body, http.StatusSeeOther)
	_, body = e.get(oc, resp.Header.Get("Location"))
	if !strings.Contains(body, "Il n&#39;avait jamais été préparé : l&#39;association n&#39;est pas prévenue.") ||
		!strings.Contains(body, "remet l&#39;espace en file d&#39;attente") {
		t.Errorf("deleting a queued space: %s", regexp.MustCompile(`<p class="notice"[^>]*>[^<]*`).FindString(body))
	}
	resp, _ = e.post(oc, "/moderation/spaces/velo/restore", url.Values{})
	_, body = e.get(oc, resp.Header.Get("Location"))
	if !strings.Contains(body, "Espace restauré : il reprend sa place dans la file d&#39;attente.") {
		t.Errorf("restoring a queued space")
	}
	if got, _ := tenants.GetSpace(ctx, e.pool, q.ID); got.State != tenants.SpaceQueued {
		t.Errorf("restored queued space is %s", got.State)
	}

	// Without the CSRF token nothing happens.
	before := current()
	for _, action := range []string{"resize", "suspend", "resume", "delete", "restore"} {
		resp, body := e.post(oc, page+"/"+action, url.Values{"csrf_token": {"forged"}, "reason": {"x"}, "storage": {"1 GB"}, "accounts": {"1"}})
		if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "Le formulaire a expiré") {
			t.Errorf("%s without CSRF: %d", action, resp.StatusCode)
		}
	}
	if got := current(); got.State != before.State || got.Limits != before.Limits || got.Generation != before.Generation {
		t.Errorf("a form without CSRF changed the space")
	}

	// A plain moderator is refused, with the page saying operators do this, and nothing changes.
	mc, alex := e.addModerator("alex@example.org", "Alex")
	for _, action := range []string{"resize", "suspend", "resume", "delete", "restore"} {
		resp, body := e.post(mc, page+"/"+action, url.Values{"reason": {"x"}, "storage": {"1 GB"}, "accounts": {"1"}, "force": {"1"}})
		if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "seuls les opérateurs peuvent changer les limites d&#39;un espace, le suspendre") {
			t.Errorf("%s by a plain moderator: %d", action, resp.StatusCode)
		}
		if strings.Contains(body, `method="post" action="/moderation/spaces/`) {
			t.Errorf("%s by a plain moderator: the refusal shows the forms", action)
		}
	}
	if got := current(); got.State != before.State || got.Limits != before.Limits || got.Generation != before.Generation {
		t.Errorf("a plain moderator changed the space")
	}
	var byAlex int
	if err := e.pool.QueryRow(ctx, `SELECT count(*) FROM audit_log WHERE subject_type = 'space' AND actor = $1`,
		string(tenants.ModeratorActor(alex.ID))).Scan(&byAlex); err != nil || byAlex != 0 {
		t.Errorf("audit entries by a plain moderator: %d %v", byAlex, err)
	}
	// Made an operator, the same moderator may act at their next request.
	if _, _, err := tenants.SetModeratorRole(ctx, e.pool, "alex@example.org", tenants.RoleOperator, tenants.ActorSystem); err != nil {
		t.Fatal(err)
	}
	resp, body = e.post(mc, page+"/suspend", url.Values{"reason": {"vérification"}})
	mustStatus(t, resp, body, http.StatusSeeOther)
	// An unknown space.
	if resp, _ := e.post(oc, "/moderation/spaces/nope/suspend", url.Values{"reason": {"x"}}); resp.StatusCode != http.StatusNotFound {
		t.Errorf("unknown space: %d", resp.StatusCode)
	}
}
