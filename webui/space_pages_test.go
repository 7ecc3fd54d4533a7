package webui

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/assospaces/spaces/quota"
	"github.com/assospaces/spaces/tenants"
)

// approveSpace submits application n, approves it as mc and returns its application id, its
// status page path and its space id.
func (e *testEnv) approveSpace(mc *http.Client, n int) (appID, status string, spaceID int64) {
	e.t.Helper()
	status = e.submit(n)
	appID = e.appID("jardin-" + itoa(n))
	resp, body := e.post(mc, "/moderation/applications/"+appID+"/approve", url.Values{})
	mustStatus(e.t, resp, body, http.StatusSeeOther)
	if err := e.pool.QueryRow(context.Background(), `SELECT space_id FROM applications WHERE id = $1`, appID).Scan(&spaceID); err != nil {
		e.t.Fatal(err)
	}
	return appID, status, spaceID
}

// moveSpace walks a space through states as the reconciler would.
func (e *testEnv) moveSpace(id int64, reason string, steps ...tenants.SpaceState) {
	e.t.Helper()
	actions := map[tenants.SpaceState]string{tenants.SpaceProvisioning: "space.provision",
		tenants.SpaceActive: "space.activate", tenants.SpaceFailed: "space.fail"}
	for _, to := range steps {
		if _, err := tenants.TransitionSpace(context.Background(), e.pool, id, tenants.Transition{To: to,
			Actor: tenants.ActorReconciler, Action: actions[to], Reason: reason}); err != nil {
			e.t.Fatal(err)
		}
	}
}

// provisionJobs counts the provisioning jobs of a space waiting to run.
func (e *testEnv) provisionJobs(spaceID int64) int {
	e.t.Helper()
	var n int
	if err := e.pool.QueryRow(context.Background(), `SELECT count(*) FROM river_job WHERE kind = 'provision_space'
		AND state = 'available' AND (args->>'space_id')::bigint = $1`, spaceID).Scan(&n); err != nil {
		e.t.Fatal(err)
	}
	return n
}

func noUntranslated(t *testing.T, what, body string) {
	t.Helper()
	if i := strings.Index(body, "[["); i >= 0 {
		t.Errorf("%s: untranslated key: %s", what, body[i:min(len(body), i+60)])
	}
}

func TestModeratorSeesSpaceAndRetriesIt(t *testing.T) {
	e := newTestEnv(t, envOptions{})
	ctx := context.Background()
	mc, m := e.addModerator("alex@example.org", "Alex")
	id, _, spaceID := e.approveSpace(mc, 90)
	detail := "/moderation/applications/" + id

	// While queued: the address (no link yet), the state and its place in the queue.
	resp, body := e.get(mc, detail)
	mustStatus(t, resp, body, http.StatusOK)
	for _, want := range []string{`id="space-title"`, "https://jardin-90.spaces.test", "En file d&#39;attente", "n° 1 dans la file (pas de plafond)",
		"Aucune condition observée"} {
		if !strings.Contains(body, want) {
			t.Errorf("queued space: page lacks %q", want)
		}
	}
	if strings.Contains(body, `href="https://jardin-90.spaces.test"`) || strings.Contains(body, `id="retry"`) {
		t.Errorf("queued space: linked address or retry button")
	}

	// The approval's job ran and gave up: the space failed, with what the reconciler observed.
	if _, err := e.pool.Exec(ctx, `UPDATE river_job SET state = 'discarded', finalized_at = now() WHERE kind = 'provision_space'`); err != nil {
		t.Fatal(err)
	}
	e.moveSpace(spaceID, "", tenants.SpaceProvisioning)
	now := time.Now()
	if err := tenants.RecordObservation(ctx, e.pool, spaceID, 1, []tenants.Condition{
		{Type: "JobRegistered", Status: "True", Reason: "Registered", Message: "nomad job space-jardin-90"},
		{Type: "Healthy", Status: "False", Reason: "NotHealthy", Message: "nextcloud <b>not</b> answering"},
	}, now); err != nil {
		t.Fatal(err)
	}
	reason := "health: not healthy after 5m0s <script>alert(1)</script>"
	e.moveSpace(spaceID, reason, tenants.SpaceFailed)

	resp, body = e.get(mc, detail)
	mustStatus(t, resp, body, http.StatusOK)
	noUntranslated(t, "failed space (fr)", body)
	alert := regexp.MustCompile(`(?s)<div class="alert" role="alert">.*?</div>`).FindString(body)
	if !strings.Contains(alert, "health: not healthy after 5m0s &lt;script&gt;alert(1)&lt;/script&gt;") {
		t.Errorf("failure reason not shown escaped in the alert block: %q", alert)
	}
	if strings.Contains(body, "<script>alert(1)") || strings.Contains(body, "<b>not</b>") {
		t.Errorf("failure reason or condition message not escaped")
	}
	if !strings.Contains(alert, `action="/moderation/applications/`+id+`/retry"`) || !csrfRe.MatchString(alert) || !strings.Contains(alert, "Relancer la préparation") {
		t.Errorf("no retry form with CSRF in the alert block: %q", alert)
	}
	for _, want := range []string{"En échec", "depuis le", "JobRegistered", "Registered", "nomad job space-jardin-90", "Healthy", "NotHealthy",
		"nextcloud &lt;b&gt;not&lt;/b&gt; answering"} {
		if !strings.Contains(body, want) {
			t.Errorf("failed space: page lacks %q", want)
		}
	}
	for _, want := range []string{"le service a commencé à préparer l'espace", "l'espace a échoué : " + reason} {
		if !strings.Contains(timeline(body), want) {
			t.Errorf("failed space: history lacks %q:\n%s", want, timeline(body))
		}
	}
	if strings.Contains(body, "échoué : health: not healthy after 5m0s <script>") {
		t.Errorf("failure reason not escaped in the history")
	}
	_, en := e.get(mc, detail+"?lang=en")
	noUntranslated(t, "failed space (en)", en)
	if !strings.Contains(en, "Retry provisioning") || !strings.Contains(en, "Observed conditions") || !strings.Contains(en, ">Failed<") {
		t.Errorf("English page lacks the space's words")
	}
	e.get(mc, detail+"?lang=fr")

	// A retry without the CSRF token is refused and changes nothing.
	resp, body = e.post(mc, detail+"/retry", url.Values{"csrf_token": {"forged"}})
	mustStatus(t, resp, body, http.StatusForbidden)
	if s, _ := tenants.GetSpace(ctx, e.pool, spaceID); s.State != tenants.SpaceFailed || e.provisionJobs(spaceID) != 0 {
		t.Fatalf("forged retry: space %s, %d jobs", s.State, e.provisionJobs(spaceID))
	}

	// The retry queues the space again, audited as the moderator's, with its provisioning job.
	resp, body = e.post(mc, detail+"/retry", url.Values{})
	mustStatus(t, resp, body, http.StatusSeeOther)
	if loc := resp.Header.Get("Location"); loc != detail+"?done=retry" {
		t.Errorf("retry redirects to %q", loc)
	}
	s, err := tenants.GetSpace(ctx, e.pool, spaceID)
	if err != nil {
		t.Fatal(err)
	}
	if s.State != tenants.SpaceQueued || s.FailureReason != "" {
		t.Errorf("after retry: %s %q", s.State, s.FailureReason)
	}
	trail, err := tenants.AuditTrail(ctx, e.pool, "space", spaceID)
	if err != nil {
		t.Fatal(err)
	}
	last := trail[len(trail)-1]
	if last.Action != "space.retry" || last.Actor != tenants.ModeratorActor(m.ID) || last.FromState != "failed" || last.ToState != "queued" {
		t.Errorf("audit entry = %+v", last)
	}
	if n := e.provisionJobs(spaceID); n != 1 {
		t.Errorf("%d provisioning jobs after retry, want 1", n)
	}
	_, body = e.get(mc, detail+"?done=retry")
	if !strings.Contains(body, "Préparation relancée") || strings.Contains(body, `id="retry"`) || !strings.Contains(body, "<strong>Alex</strong> a relancé l&#39;espace") {
		t.Errorf("page after retry: no notice, a retry button left, or no history line")
	}

	// A space that is not failed cannot be retried.
	resp, body = e.post(mc, detail+"/retry", url.Values{})
	mustStatus(t, resp, body, http.StatusConflict)
	if !strings.Contains(body, "Seul un espace en échec peut être relancé") || !strings.Contains(body, "En file d&#39;attente") {
		t.Errorf("refused retry not explained")
	}
	if n := e.provisionJobs(spaceID); n != 1 {
		t.Errorf("%d provisioning jobs after a refused retry, want 1", n)
	}
	var retries int
	e.pool.QueryRow(ctx, `SELECT count(*) FROM audit_log WHERE action = 'space.retry'`).Scan(&retries) //nolint:errcheck
	if retries != 1 {
		t.Errorf("%d retries audited, want 1", retries)
	}

	// An operator's retry through the API names the operator by the token's name.
	tok, _, err := tenants.CreateAPIToken(ctx, e.pool, tenants.NewAPIToken{Name: "astreinte", Scope: tenants.ScopeOperator}, tenants.ActorSystem)
	if err != nil {
		t.Fatal(err)
	}
	e.moveSpace(spaceID, "health: still not healthy", tenants.SpaceProvisioning, tenants.SpaceFailed)
	if _, err := tenants.TransitionSpace(ctx, e.pool, spaceID, tenants.Transition{To: tenants.SpaceQueued,
		Actor: tenants.TokenActor(tok.ID), Action: "space.retry"}); err != nil {
		t.Fatal(err)
	}
	_, body = e.get(mc, detail)
	if h := timeline(body); !strings.Contains(h, "un opérateur (jeton astreinte) a relancé l'espace") ||
		!strings.Contains(h, "l'espace a échoué : health: still not healthy") {
		t.Errorf("operator's retry not told in the history:\n%s", h)
	}

	// An application without a space has nothing to retry; applicants cannot reach the form.
	e.submit(91)
	resp, body = e.post(mc, "/moderation/applications/"+e.appID("jardin-91")+"/retry", url.Values{})
	mustStatus(t, resp, body, http.StatusNotFound)
	anon := e.newClient()
	resp, _ = e.post(anon, detail+"/retry", url.Values{})
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/moderation/login") {
		t.Errorf("retry without a session: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
}

func TestStatusPageSaysWhereTheSpaceIs(t *testing.T) {
	e := newTestEnv(t, envOptions{capacity: 1})
	ctx := context.Background()
	// One space already takes the only place.
	occupant, err := tenants.CreateSpace(ctx, e.pool, tenants.NewSpace{Slug: "occupant", AssociationName: "Occupant",
		ContactEmail: "o@occupant.example", Limits: quota.DefaultLimits}, tenants.ActorSystem)
	if err != nil {
		t.Fatal(err)
	}
	e.moveSpace(occupant.ID, "", tenants.SpaceProvisioning, tenants.SpaceActive)
	mc, _ := e.addModerator("alex@example.org", "Alex")
	_, first, firstSpace := e.approveSpace(mc, 92)
	_, second, secondSpace := e.approveSpace(mc, 93)
	applicant := e.newClient()

	// Queued behind the ceiling: how many wait before, and that it will start by itself.
	_, body := e.get(applicant, second)
	noUntranslated(t, "queued (fr)", body)
	if !strings.Contains(body, "Votre espace est en file d&#39;attente : 1 espace(s) avant le vôtre. Il sera préparé automatiquement dès qu&#39;une place se libère.") {
		t.Errorf("second in line: no queue position in %s", body[strings.Index(body, `id="space-title"`):][:800])
	}
	_, body = e.get(applicant, first)
	if !strings.Contains(body, "Votre espace est le prochain dans la file d&#39;attente") {
		t.Errorf("first in line: not told it is next")
	}
	_, body = e.get(applicant, second+"?lang=en")
	noUntranslated(t, "queued (en)", body)
	if !strings.Contains(body, "Your space is in the waiting line: 1 space(s) ahead of yours.") {
		t.Errorf("English queue position missing")
	}
	e.get(applicant, second+"?lang=fr")

	// Being prepared, then ready: the address becomes a link.
	e.moveSpace(firstSpace, "", tenants.SpaceProvisioning)
	_, body = e.get(applicant, first)
	if !strings.Contains(body, "Votre espace est en cours de préparation") || strings.Contains(body, `href="https://jardin-92.spaces.test"`) {
		t.Errorf("provisioning: not said, or the address is already a link")
	}
	e.moveSpace(firstSpace, "", tenants.SpaceActive)
	_, body = e.get(applicant, first)
	for _, want := range []string{`<a href="https://jardin-92.spaces.test">https://jardin-92.spaces.test</a>`, "Votre espace est prêt.",
		"Ouvrir mon espace", "Préparation commencée", "Espace prêt"} {
		if !strings.Contains(body, want) {
			t.Errorf("active: page lacks %q", want)
		}
	}

	// Failed: a plain promise, never the internal reason.
	e.moveSpace(secondSpace, "nomad: allocation 4f2a exited: secret-internal-detail <script>x</script>",
		tenants.SpaceProvisioning, tenants.SpaceFailed)
	for _, lang := range []string{"fr", "en"} {
		_, body = e.get(applicant, second+"?lang="+lang)
		noUntranslated(t, "failed ("+lang+")", body)
		want := map[string]string{"fr": "Il est consigné pour notre équipe, qui relancera la préparation",
			"en": "It is recorded for our team, who will retry"}[lang]
		if !strings.Contains(body, want) {
			t.Errorf("%s: failed space not explained", lang)
		}
		if strings.Contains(body, "secret-internal-detail") || strings.Contains(body, "nomad") || strings.Contains(body, "script>x") {
			t.Errorf("%s: internal failure reason shown to the applicant", lang)
		}
	}
}

func TestStatusPageQueuedWithoutCeiling(t *testing.T) {
	e := newTestEnv(t, envOptions{})
	mc, _ := e.addModerator("alex@example.org", "Alex")
	_, status, _ := e.approveSpace(mc, 94)
	_, body := e.get(e.newClient(), status)
	if !strings.Contains(body, "Votre espace va être préparé dans quelques instants") || strings.Contains(body, "avant le vôtre") {
		t.Errorf("queued without ceiling: not told it starts soon")
	}
}

// Every sentence exists in both languages, with the same {arguments}.
func TestCatalogComplete(t *testing.T) {
	arg := regexp.MustCompile(`\{[a-z_]+\}`)
	args := func(s string) string {
		a := arg.FindAllString(s, -1)
		sort.Strings(a)
		return strings.Join(a, ",")
	}
	for key, e := range catalog {
		if strings.TrimSpace(e[0]) == "" || strings.TrimSpace(e[1]) == "" {
			t.Errorf("%s: missing a translation: %q", key, e)
			continue
		}
		if args(e[0]) != args(e[1]) {
			t.Errorf("%s: arguments differ: fr %s, en %s", key, args(e[0]), args(e[1]))
		}
	}
	for _, s := range tenants.SpaceStates {
		for _, key := range []string{"space." + string(s), "space.state." + string(s)} {
			if _, ok := catalog[key]; !ok {
				t.Errorf("no label %s", key)
			}
		}
	}
}
