package webui

import (
	"context"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/assospaces/spaces/quota"
	"github.com/assospaces/spaces/tenants"
)

// measureHistory records a space's usage once a day for days days up to now, growing steadily
// to used bytes and accounts, as the reconciler would; the last measurement is now's.
func (e *testEnv) measureHistory(spaceID, limit int64, days int, used int64, accounts int, now time.Time) {
	e.t.Helper()
	ctx := context.Background()
	level := quota.LevelOK
	for d := days - 1; d >= 0; d-- {
		at := now.Add(-time.Duration(d) * 24 * time.Hour)
		u := used - used*int64(d)/int64(days*2) // from about half to all of used
		level = quota.StorageLevel(level, u, limit)
		if err := tenants.RecordUsage(ctx, e.pool, tenants.Usage{SpaceID: spaceID, UsedBytes: u,
			AccountsEnabled: max(1, accounts-d/10), AccountsDisabled: 1, ActiveUsersDay: 4, ActiveUsersMonth: 11,
			Level: level}, at, at.Add(time.Hour)); err != nil {
			e.t.Fatal(err)
		}
	}
}

// observeUsage records the conditions the reconciler writes for a space it measured.
func (e *testEnv) observeUsage(spaceID int64, now time.Time, conds ...tenants.Condition) {
	e.t.Helper()
	if err := tenants.RecordObservation(context.Background(), e.pool, spaceID, 0, conds, now); err != nil {
		e.t.Fatal(err)
	}
}

// rawData finds what a person should never read: Go maps, floats in exponent form, untranslated keys.
var rawData = regexp.MustCompile(`map\[|\d\.\d+e\+\d+|\[\[|%!`)

func TestModeratorSeesSpaceUsage(t *testing.T) {
	e := newTestEnv(t, envOptions{})
	ctx := context.Background()
	mc, _ := e.addModerator("alex@example.org", "Alex")
	id, _, spaceID := e.approveSpace(mc, 95)
	detail := "/moderation/applications/" + id
	limit := quota.DefaultLimits.StorageBytes

	// Queued: nothing measured and nothing to say about usage yet.
	_, body := e.get(mc, detail)
	if strings.Contains(body, `id="usage-title"`) {
		t.Errorf("queued space: a usage section")
	}
	// Active but not measured yet.
	e.moveSpace(spaceID, "", tenants.SpaceProvisioning, tenants.SpaceActive)
	_, body = e.get(mc, detail)
	if !strings.Contains(body, "Pas encore mesuré : le service mesure régulièrement chaque espace actif.") || strings.Contains(body, "<figure") {
		t.Errorf("active, never measured: not said, or a chart")
	}

	// Sixty days of history up to 34 GB of 40 GB (85 %), at the 80 % level.
	now := time.Now()
	e.measureHistory(spaceID, limit, 60, 34*quota.GB, 12, now)
	e.observeUsage(spaceID, now,
		tenants.Condition{Type: "Healthy", Status: "True", Reason: "AllocationHealthy", Message: "allocation 4f2a1b at 127.0.0.1:23456"},
		tenants.Condition{Type: "Drifted", Status: "False", Reason: "InSync", Message: "job space-jardin-95 runs the jobspec of generation 1"},
		tenants.Condition{Type: "StorageWithinLimit", Status: "True", Reason: "Above80Percent", Message: "34 GB of 40 GB used (85 %)"},
		tenants.Condition{Type: "AccountsWithinLimit", Status: "True", Reason: "WithinLimit", Message: "12 of 50 accounts enabled (1 disabled)"},
		tenants.Condition{Type: "UsageCollected", Status: "True", Reason: "Collected", Message: "4 active users today, 11 this month"})
	if err := tenants.RecordAudit(ctx, e.pool, tenants.AuditEntry{Actor: tenants.ActorReconciler, Action: "space.storage_level",
		SubjectType: "space", SubjectID: spaceID, Detail: map[string]any{"from": "ok", "to": "80%", "used_bytes": 34 * quota.GB,
			"limit_bytes": limit}}); err != nil {
		t.Fatal(err)
	}

	resp, body := e.get(mc, detail)
	mustStatus(t, resp, body, http.StatusOK)
	noUntranslated(t, "usage (fr)", body)
	for _, want := range []string{
		`id="usage-title"`, "Stockage de l&#39;association", "34\u00a0GB sur 40\u00a0GB (85\u00a0%)",
		"class=\"level-note level-80\">seuil des 80\u00a0% atteint, l&#39;association est prévenue",
		`<svg class="bar level-80"`, `<rect class="fill" width="85.0"`,
		"12 comptes sur 50 (et 1 désactivé)", "4 sur les dernières 24 heures, 11 sur le dernier mois",
		// The chart, with its text alternatives.
		`<svg viewBox="0 0 600 246" role="img" aria-labelledby="chart-title" aria-describedby="chart-desc"`,
		`<polyline class="line" points="4.0,`, ">limite 40\u00a0GB</text>", `id="chart-title">Stockage utilisé du `,
		"à 34\u00a0GB ; au plus haut 34\u00a0GB, le ", "Les chiffres jour par jour",
		// Conditions as sentences, with the reconciler's words beside.
		"Nextcloud répond", "La tâche Nomad est conforme à ce qui est décidé", "Stockage de l&#39;association au-delà de 80\u00a0% de sa limite",
		"Comptes actifs dans la limite", "Utilisation mesurée", `class="cond cond-warn"`, `class="cond cond-ok"`,
		`<p class="cond-detail" lang="en">allocation 4f2a1b at 127.0.0.1:23456</p>`, "Healthy · AllocationHealthy",
		// The history, in words.
		"stockage de l&#39;association au-delà de 80\u00a0% (34\u00a0GB utilisés sur 40\u00a0GB)", "limites : 40\u00a0GB, 50 comptes",
		"l&#39;espace est prêt",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("usage (fr): page lacks %q", want)
		}
	}
	if m := rawData.FindString(body); m != "" {
		t.Errorf("raw data on the page: %q", m)
	}
	if !regexp.MustCompile(`<dt>Dernière mesure</dt><dd id="usage-when">\d{1,2} \pL+ \d{4} à \d{2}:\d{2}</dd>`).MatchString(body) {
		t.Errorf("no date of the last measurement")
	}
	if n := strings.Count(body, "<tr><th scope=\"row\">"); n != 60 {
		t.Errorf("%d days in the chart's table, want 60", n)
	}
	// Drawn without script or inline style: the page's CSP stays strict.
	if strings.Contains(body, "<script") || strings.Contains(body, " style=") {
		t.Errorf("script or inline style on the page")
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || strings.Contains(csp, "unsafe-inline") {
		t.Errorf("CSP: %s", csp)
	}

	_, en := e.get(mc, detail+"?lang=en")
	noUntranslated(t, "usage (en)", en)
	for _, want := range []string{"The association&#39;s storage", "34\u00a0GB of 40\u00a0GB (85%)", "12 of 50 accounts (and 1 disabled)",
		"4 in the last 24 hours, 11 in the last month", "<dt>Last measured</dt>", "Storage used from ", "Nextcloud answers",
		"the association&#39;s storage is over 80% (34\u00a0GB used of 40\u00a0GB)", "limits: 40\u00a0GB, 50 accounts"} {
		if !strings.Contains(en, want) {
			t.Errorf("usage (en): page lacks %q", want)
		}
	}
	if strings.Contains(en, "your storage") || strings.Contains(en, "Your storage") {
		t.Errorf("moderators are spoken to as the association")
	}
	e.get(mc, detail+"?lang=fr")

	// The space stops answering: the figures stay, said to be old, with why (escaped).
	failed := now.Add(time.Minute)
	if err := tenants.RecordUsageFailure(ctx, e.pool, spaceID, "no healthy allocation to ask (<b>lost</b>)", failed, failed.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	e.observeUsage(spaceID, failed, tenants.Condition{Type: "UsageCollected", Status: "False", Reason: "Unreachable",
		Message: "no healthy allocation to ask (figures from " + now.UTC().Format(time.RFC3339) + ")"})
	_, body = e.get(mc, detail)
	stale := regexp.MustCompile(`<p class="stale" id="usage-when" role="note">([^<]*)</p>`).FindStringSubmatch(body)
	if stale == nil || !strings.HasPrefix(stale[1], "Chiffres du ") || !strings.Contains(stale[1], " — l&#39;espace ne répond plus depuis le ") ||
		!strings.HasSuffix(stale[1], " : no healthy allocation to ask (&lt;b&gt;lost&lt;/b&gt;)") {
		t.Errorf("stale figures not said: %q", stale)
	}
	if !strings.Contains(body, "34\u00a0GB sur 40\u00a0GB (85\u00a0%)") || !strings.Contains(body, "Utilisation pas mesurée : l&#39;espace ne répond pas") ||
		!strings.Contains(body, `class="cond cond-bad"`) {
		t.Errorf("stale: the last figures or the condition are gone")
	}
	if m := regexp.MustCompile(`>[^<]*\d{4}-\d{2}-\d{2}T\d{2}:[^<]*<`).FindString(body); m != "" {
		t.Errorf("a machine timestamp on the page: %s", m)
	}
	_, en = e.get(mc, detail+"?lang=en")
	if !strings.Contains(en, "Figures from ") || !strings.Contains(en, " — not reachable since ") {
		t.Errorf("stale (en) not said")
	}
	e.get(mc, detail+"?lang=fr")
}

func TestModeratorsDashboard(t *testing.T) {
	e := newTestEnv(t, envOptions{})
	ctx := context.Background()
	anon := e.newClient()
	resp, _ := e.get(anon, "/moderation/dashboard")
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/moderation/login") {
		t.Fatalf("dashboard without a session: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	mc, _ := e.addModerator("alex@example.org", "Alex")

	// Nothing yet.
	resp, body := e.get(mc, "/moderation/dashboard")
	mustStatus(t, resp, body, http.StatusOK)
	for _, want := range []string{"Aucun espace actif ou suspendu.", "Aucun espace n&#39;approche de ses limites.",
		"Rien à signaler", `<a href="/moderation/dashboard" aria-current="page">Tableau de bord</a>`} {
		if !strings.Contains(body, want) {
			t.Errorf("empty dashboard lacks %q", want)
		}
	}

	now := time.Now()
	limit := quota.DefaultLimits.StorageBytes
	full, _, fullSpace := e.approveSpace(mc, 96)
	e.moveSpace(fullSpace, "", tenants.SpaceProvisioning, tenants.SpaceActive)
	e.measureHistory(fullSpace, limit, 3, 41*quota.GB, 20, now)
	_, _, at85 := e.approveSpace(mc, 97)
	e.moveSpace(at85, "", tenants.SpaceProvisioning, tenants.SpaceActive)
	e.measureHistory(at85, limit, 3, 34*quota.GB, 12, now)
	_, _, crowded := e.approveSpace(mc, 98)
	e.moveSpace(crowded, "", tenants.SpaceProvisioning, tenants.SpaceActive)
	e.measureHistory(crowded, limit, 1, 2*quota.GB, 50, now)
	_, _, quiet := e.approveSpace(mc, 99)
	e.moveSpace(quiet, "", tenants.SpaceProvisioning, tenants.SpaceActive)
	e.measureHistory(quiet, limit, 1, 4*quota.GB, 3, now)
	if err := tenants.RecordUsageFailure(ctx, e.pool, quiet, "no healthy allocation to ask", now, now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	_, _, fresh := e.approveSpace(mc, 100)
	e.moveSpace(fresh, "", tenants.SpaceProvisioning, tenants.SpaceActive)
	e.approveSpace(mc, 101) // queued
	if _, err := tenants.SyncOrphanJobs(ctx, e.pool, []tenants.OrphanJob{{JobID: "space-ghost", SpaceMeta: "4242"}}, now); err != nil {
		t.Fatal(err)
	}

	_, body = e.get(mc, "/moderation/dashboard")
	noUntranslated(t, "dashboard (fr)", body)
	if m := rawData.FindString(body); m != "" {
		t.Errorf("raw data on the dashboard: %q", m)
	}
	for _, want := range []string{
		`<p class="big" id="dash-spaces">6</p>`, `<span class="badge space-active">Actif</span> <strong>5</strong>`,
		`<span class="badge space-queued">En file d&#39;attente</span> <strong>1</strong>`,
		`<p class="big">40` + "\u00a0%</p>", "81\u00a0GB utilisés sur 200\u00a0GB attribués", `<p class="big">85</p>`,
		"comptes actifs sur 250 possibles",
		"1 espace actif ne répond plus : ses chiffres datent de sa dernière mesure.", "1 espace actif pas encore mesuré.",
		"1 tâche Nomad semble être celle d&#39;un espace mais n&#39;appartient à aucun",
		`Espaces proches de leurs limites <span class="count">3</span>`,
		`<a href="/moderation/applications/` + full + `#space">Les Amis du Jardin 96</a>`,
		"41\u00a0GB sur 40\u00a0GB (102\u00a0%)", `class="level-note level-full">plein : les envois de fichiers sont refusés`,
		"34\u00a0GB sur 40\u00a0GB (85\u00a0%)", `<td>50 comptes sur 50 (et 1 désactivé)<p class="level-note level-full">limite atteinte : aucun compte de plus</p></td>`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("dashboard (fr) lacks %q", want)
		}
	}
	// The fullest first; the quiet and the unmeasured spaces are not near their limits.
	i96, i97, i98 := strings.Index(body, "Jardin 96<"), strings.Index(body, "Jardin 97<"), strings.Index(body, "Jardin 98<")
	if i96 < 0 || i97 < i96 || i98 < i97 || strings.Contains(body, "Jardin 99<") || strings.Contains(body, "Jardin 100<") {
		t.Errorf("near limits order: %d %d %d", i96, i97, i98)
	}
	_, en := e.get(mc, "/moderation/dashboard?lang=en")
	noUntranslated(t, "dashboard (en)", en)
	for _, want := range []string{"Spaces near their limits", "81\u00a0GB used of 200\u00a0GB allocated", "enabled accounts of 250 allowed",
		"1 active space is not reachable", "50 of 50 accounts", ">Dashboard</a>"} {
		if !strings.Contains(en, want) {
			t.Errorf("dashboard (en) lacks %q", want)
		}
	}
	e.get(mc, "/moderation/dashboard?lang=fr")

	// Past 50 spaces near their limits, the fullest are listed and the rest counted.
	if _, err := e.pool.Exec(ctx, `
		WITH s AS (
			INSERT INTO spaces (slug, association_name, contact_email, storage_limit_bytes, account_limit, state)
			SELECT 'plein-' || i, 'Plein ' || i, 'p' || i || '@example.org', 40 * 1024^3, 50, 'active'
			FROM generate_series(1, 50) AS i RETURNING id)
		INSERT INTO space_usage (space_id, used_bytes, collected_at, storage_level) SELECT id, 33 * 1024^3, now(), '80%' FROM s`); err != nil {
		t.Fatal(err)
	}
	_, body = e.get(mc, "/moderation/dashboard")
	if !strings.Contains(body, `Espaces proches de leurs limites <span class="count">53</span>`) ||
		!strings.Contains(body, "Les 50 plus remplis sont affichés, sur 53.") || strings.Count(body, `<td class="storage">`) != 50 ||
		!strings.Contains(body, "Jardin 96<") || strings.Contains(body, "Jardin 98<") {
		t.Errorf("more than 50 near their limits: not cut, or not said")
	}
	// The other moderation pages link to it.
	_, body = e.get(mc, "/moderation")
	if !strings.Contains(body, `<a href="/moderation/dashboard">Tableau de bord</a>`) {
		t.Errorf("no link to the dashboard from the queue")
	}
}

func TestAPIUsage(t *testing.T) {
	e := newTestEnv(t, envOptions{})
	ctx := context.Background()
	_, secret, err := tenants.CreateAPIToken(ctx, e.pool, tenants.NewAPIToken{Name: "ops", Scope: tenants.ScopeOperator}, tenants.ActorSystem)
	if err != nil {
		t.Fatal(err)
	}
	limits := quota.Limits{StorageBytes: 10 * quota.GB, Accounts: 5}
	measured, err := tenants.CreateSpace(ctx, e.pool, tenants.NewSpace{Slug: "measured", AssociationName: "M", ContactEmail: "m@m.example", Limits: limits}, tenants.ActorSystem)
	if err != nil {
		t.Fatal(err)
	}
	e.moveSpace(measured.ID, "", tenants.SpaceProvisioning, tenants.SpaceActive)
	if _, err := tenants.CreateSpace(ctx, e.pool, tenants.NewSpace{Slug: "blank", AssociationName: "B", ContactEmail: "b@b.example", Limits: limits}, tenants.ActorSystem); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	e.measureHistory(measured.ID, limits.StorageBytes, 120, 9*quota.GB, 5, now)
	if err := tenants.RecordUsageFailure(ctx, e.pool, measured.ID, "no healthy allocation to ask", now.Add(time.Minute), now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}

	status, body := e.apiCall("GET", "/api/v1/spaces/measured", secret)
	if status != 200 {
		t.Fatalf("show: %d %v", status, body)
	}
	u, _ := body["usage"].(map[string]any)
	if u["used_bytes"] != float64(9*quota.GB) || u["accounts_enabled"] != float64(5) || u["accounts_disabled"] != float64(1) ||
		u["active_users_day"] != float64(4) || u["active_users_month"] != float64(11) || u["storage_level"] != "90%" ||
		u["stale_reason"] != "no healthy allocation to ask" {
		t.Errorf("usage: %v", u)
	}
	for _, k := range []string{"collected_at", "stale_since"} {
		if _, err := time.Parse(time.RFC3339, u[k].(string)); err != nil || strings.HasPrefix(u[k].(string), "0001") {
			t.Errorf("%s: %v", k, u[k])
		}
	}
	history, _ := body["history"].([]any)
	if len(history) < 90 || len(history) > 91 {
		t.Fatalf("history: %d points, want the last 90 days", len(history))
	}
	last := history[len(history)-1].(map[string]any)
	if last["used_bytes"] != float64(9*quota.GB) || last["accounts"] != float64(5) || last["active_users"] != float64(4) || last["at"] == nil {
		t.Errorf("last point: %v", last)
	}
	status, body = e.apiCall("GET", "/api/v1/spaces/blank", secret)
	if status != 200 || body["usage"] != nil || len(body["history"].([]any)) != 0 {
		t.Errorf("never measured: %d usage %v history %v", status, body["usage"], body["history"])
	}

	status, body = e.apiCall("GET", "/api/v1/spaces", secret)
	items, _ := body["spaces"].([]any)
	if status != 200 || len(items) != 2 {
		t.Fatalf("list: %d %v", status, body)
	}
	first, second := items[0].(map[string]any), items[1].(map[string]any)
	if first["slug"] != "measured" || first["usage"].(map[string]any)["storage_level"] != "90%" || second["slug"] != "blank" || second["usage"] != nil {
		t.Errorf("list items: %v", items)
	}

	status, body = e.apiCall("GET", "/api/v1/dashboard", secret)
	if status != 200 {
		t.Fatalf("dashboard: %d %v", status, body)
	}
	states := body["spaces_by_state"].(map[string]any)
	near := body["near_limit"].([]any)
	if states["active"] != float64(1) || states["queued"] != float64(1) || states["failed"] != float64(0) ||
		body["storage_used_bytes"] != float64(9*quota.GB) || body["storage_allocated_bytes"] != float64(10*quota.GB) ||
		body["accounts_enabled"] != float64(5) || body["stale_spaces"] != float64(1) || body["orphan_jobs"] != float64(0) ||
		body["near_limit_total"] != float64(1) || len(near) != 1 || near[0].(map[string]any)["slug"] != "measured" {
		t.Errorf("dashboard: %v", body)
	}
	status, body = e.apiCall("GET", "/api/v1/dashboard", "")
	if code, _ := apiErrorOf(body); status != http.StatusUnauthorized || code != "unauthorized" {
		t.Errorf("dashboard without a token: %d %v", status, body)
	}
}

// Sizes, percentages and numbers are written for people in both languages.
func TestUsageWording(t *testing.T) {
	fr, en := page{Lang: "fr", loc: time.UTC}, page{Lang: "en", loc: time.UTC}
	for _, tc := range []struct {
		got, want string
	}{
		{fr.percent(32*quota.GB+512*quota.MB, 40*quota.GB), "81\u00a0%"},
		{en.percent(80*quota.GB-1, 100*quota.GB), "79%"}, // rounded down: not at 80 % before the level is
		{en.percent(5, 0), "100%"},
		{fr.Num(1234567), "1\u202f234\u202f567"},
		{en.Num(1234567), "1,234,567"},
		{en.Num(999), "999"},
		{fr.auditDetail("space.resize", map[string]any{"to": map[string]any{"storage_bytes": float64(50 * quota.GB), "accounts": float64(60)},
			"from": map[string]any{"storage_bytes": float64(40 * quota.GB), "accounts": float64(50)}}),
			"avant : 40\u00a0GB, 50 comptes, après : 50\u00a0GB, 60 comptes"},
		{en.auditDetail("application.claim", map[string]any{"until": "2026-03-10T14:05:00Z"}), "until: March 10, 2026 at 14:05"},
		{en.auditDetail("x", map[string]any{"n": float64(3), "ratio": 0.5, "ok": true, "list": []any{"a", float64(2)}, "nested": map[string]any{"k": "v"}}),
			"list: a, 2, n: 3, nested: (k: v), ok: yes, ratio: 0.5"},
		{en.readableDates("next try at 2026-03-10T14:05:00Z; figures from 2026-03-09T08:00:00.5+01:00"),
			"next try at March 10, 2026 at 14:05; figures from March 9, 2026 at 07:00"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
	// Drifted is good news when False; a warning threshold is worth a look.
	for _, tc := range []struct {
		c    tenants.Condition
		tone string
	}{
		{tenants.Condition{Type: "Drifted", Status: "False", Reason: "InSync"}, "ok"},
		{tenants.Condition{Type: "Drifted", Status: "True", Reason: "JobStopped"}, "bad"},
		{tenants.Condition{Type: "Drifted", Status: "False", Reason: "NewGeneration"}, "warn"},
		{tenants.Condition{Type: "Healthy", Status: "False", Reason: "NoHealthyAllocation"}, "bad"},
		{tenants.Condition{Type: "StorageWithinLimit", Status: "True", Reason: "Above90Percent"}, "warn"},
		{tenants.Condition{Type: "StorageWithinLimit", Status: "False", Reason: "OverQuota"}, "bad"},
		{tenants.Condition{Type: "Something", Status: "Unknown"}, "unknown"},
	} {
		if got := conditionTone(tc.c); got != tc.tone {
			t.Errorf("%s %s %s: tone %s, want %s", tc.c.Type, tc.c.Status, tc.c.Reason, got, tc.tone)
		}
	}
	lines := en.conditionLines([]tenants.Condition{{Type: "Drifted", Status: "True", Reason: "JobStopped"},
		{Type: "Drifted", Status: "True", Reason: "SomethingNew"}, {Type: "Mystery", Status: "False", Reason: "Odd"}})
	for i, want := range []string{"The Nomad job was stopped outside the service: it starts it again",
		"The Nomad job differs from what was decided", "Mystery: no"} {
		if lines[i].Text != want {
			t.Errorf("condition %d: %q, want %q", i, lines[i].Text, want)
		}
	}
}
