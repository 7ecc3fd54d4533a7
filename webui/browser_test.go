package webui

import (
	"context"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/assospaces/spaces/quota"
	"github.com/assospaces/spaces/tenants"
	"github.com/assospaces/spaces/tenants/notify/smtptest"
)

// chromiumPath is the browser the test drives; it fails, never skips, without it.
func chromiumPath(t *testing.T) string {
	t.Helper()
	p := os.Getenv("SPACES_CHROMIUM")
	if p == "" {
		p = "/usr/bin/chromium"
	}
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("chromium not found at %s (set SPACES_CHROMIUM; make test installs it): %v", p, err)
	}
	return p
}

// clickToLoad clicks sel and waits until the page it leads to has replaced the current one, so
// that a selector both pages have (a lead paragraph, a notice) is never answered by the old page.
func clickToLoad(sel string) chromedp.Action[chromedp.Void] {
	return chromedp.Steps(
		chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := chromedp.Evaluate[bool](`document.documentElement.dataset.leaving = "yes"; true`)(ctx, tg)
			return err
		}),
		chromedp.Click(chromedp.CSS(sel)),
		chromedp.WaitNotPresent(chromedp.CSS("html[data-leaving]")),
	)
}

// browser is a headless Chromium driven by a test: must runs steps, text reads an element, shot
// takes a screenshot (into testdata/screenshots, over the README's, with
// SPACES_UPDATE_SCREENSHOTS=1). It fails, never skips, without Chromium.
type browser struct {
	t     *testing.T
	ctx   context.Context
	shots string
}

func newBrowser(t *testing.T) *browser {
	t.Helper()
	exec := chromiumPath(t)
	shots := t.TempDir()
	if os.Getenv("SPACES_UPDATE_SCREENSHOTS") == "1" {
		shots = filepath.Join("testdata", "screenshots")
	}
	if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(exec), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 900))
	t.Cleanup(cancelAlloc)
	ctx, cancel := chromedp.NewContext(allocCtx)
	t.Cleanup(cancel)
	ctx, cancelTimeout := context.WithTimeout(ctx, 4*time.Minute) // a guard against hangs, not a timing
	t.Cleanup(cancelTimeout)
	return &browser{t: t, ctx: ctx, shots: shots}
}

func (b *browser) shot(name string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		png, err := chromedp.FullScreenshot(100)(ctx, tg)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(b.shots, name), png, 0o644)
	})
}

func (b *browser) must(step string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, actions...); err != nil {
		b.t.Fatalf("%s: %v", step, err)
	}
}

func (b *browser) text(sel string) string {
	b.t.Helper()
	s, err := chromedp.Run(b.ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		b.t.Fatalf("read %s: %v", sel, err)
	}
	return s
}

// logIn is a moderator logging in at base's moderation page with the tests' password.
func logIn(base, email string) chromedp.Action[chromedp.Void] {
	return chromedp.Steps(
		chromedp.Navigate(base+"/moderation?lang=fr"),
		chromedp.WaitVisible(chromedp.CSS("#f-password")),
		chromedp.SendKeys(chromedp.CSS("#f-email"), email),
		chromedp.SendKeys(chromedp.CSS("#f-password"), "correct horse battery staple"),
		clickToLoad("button.primary[type=submit]"),
	)
}

// TestBrowserApplyAndModerate is a person's whole path in headless Chromium: fill the form,
// meet a field error, correct it, submit, follow the link of the received mail, then a
// moderator logs in and approves, and the applicant's page changes; months later the moderator
// reads the space's usage and the dashboard. It takes screenshots on every run; with
// SPACES_UPDATE_SCREENSHOTS=1 it writes them over the README's in testdata/screenshots.
func TestBrowserApplyAndModerate(t *testing.T) {
	mail, err := smtptest.Start("127.0.0.1:0", smtptest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer mail.Close()
	e := newTestEnv(t, envOptions{mail: mail})
	if _, err := tenants.CreateModerator(context.Background(), e.pool, "alex@example.org", "Alex",
		"correct horse battery staple", tenants.ActorSystem); err != nil {
		t.Fatal(err)
	}
	b := newBrowser(t)
	ctx, shot, must, text := b.ctx, b.shot, b.must, b.text

	// A person fills the form on a phone, with a mistyped SIREN.
	must("open the form",
		chromedp.EmulateViewport(390, 844),
		chromedp.Navigate(e.srv.URL+"/?lang=fr"),
		chromedp.WaitVisible(chromedp.CSS("#f-association_name")),
		chromedp.SendKeys(chromedp.CSS("#f-association_name"), "Les Jardins Partagés de Belleville"),
		chromedp.SendKeys(chromedp.CSS("#f-legal_id"), "732 829 321"),
		chromedp.SendKeys(chromedp.CSS("#f-purpose"), "Créer et entretenir des jardins partagés dans le quartier."),
		chromedp.SendKeys(chromedp.CSS("#f-slug"), "jardins-belleville"),
		chromedp.SendKeys(chromedp.CSS("#f-contact_name"), "Camille Martin"),
		chromedp.SendKeys(chromedp.CSS("#f-contact_email"), "camille@jardins.example"),
		chromedp.SendKeys(chromedp.CSS("#f-activities"), "Ateliers de jardinage, troc de graines, fête de quartier."),
		chromedp.SendKeys(chromedp.CSS("#f-expected_accounts"), "15"),
		chromedp.Click(chromedp.CSS("#f-terms")),
		shot("form.png"),
		clickToLoad("button.primary[type=submit]"),
		chromedp.WaitVisible(chromedp.CSS("#f-legal_id-error")),
		shot("field-error.png"),
	)
	if msg := text("#f-legal_id-error"); !strings.Contains(msg, "clé de contrôle") {
		t.Fatalf("field error: %q", msg)
	}
	if v, _ := chromedp.Run(ctx, chromedp.Value(chromedp.CSS("#f-activities"))); !strings.Contains(v, "troc de graines") {
		t.Fatalf("typed text lost after the error: %q", v)
	}

	// Correct the number and send.
	must("correct and submit",
		chromedp.Clear(chromedp.CSS("#f-legal_id")),
		chromedp.SendKeys(chromedp.CSS("#f-legal_id"), "732 829 320"),
		clickToLoad("button.primary[type=submit]"),
		chromedp.WaitVisible(chromedp.CSS("p.lead")),
	)
	// The answer is the same whether or not the association applied before: check your mail.
	if s := text("h1"); s != "Demande envoyée" {
		t.Fatalf("page after submit: %q", s)
	}

	// The received mail carries the status link; follow it in a fresh tab.
	wctx, wcancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer wcancel()
	m, err := mail.Wait(wctx, "camille@jardins.example")
	if err != nil {
		t.Fatal(err)
	}
	link := regexp.MustCompile(`https?://\S+/status/st_[a-z2-7]+`).FindString(m.Text)
	if link == "" {
		t.Fatalf("no status link in the mail:\n%s", m.Text)
	}
	must("follow the mail's link",
		chromedp.EmulateViewport(1280, 900),
		chromedp.Navigate(link),
		chromedp.WaitVisible(chromedp.CSS(".state")),
		shot("status.png"),
	)
	if s := text(".state .badge"); s != "En attente d'examen" {
		t.Fatalf("state after submit: %q", s)
	}

	// A moderator logs in, finds it in the queue and approves it.
	must("moderator logs in",
		logIn(e.srv.URL, "alex@example.org"),
		chromedp.WaitVisible(chromedp.CSS("table.queue")),
		shot("queue.png"),
	)
	href, err := chromedp.Run(ctx, chromedp.AttributeValue(chromedp.CSS("table.queue tbody th a"), "href"))
	if err != nil || !href.Exists {
		t.Fatalf("no link to the application in the queue: %v", err)
	}
	must("moderator opens the application",
		chromedp.Navigate(e.srv.URL+href.Value),
		chromedp.WaitReady(chromedp.CSS("footer")),
	)
	if h, _ := chromedp.Run(ctx, chromedp.OuterHTML(chromedp.CSS("main"))); !strings.Contains(h, `id="approve"`) {
		t.Fatalf("no approve button:\n%s", h)
	}
	must("moderator approves",
		clickToLoad("#approve"),
		chromedp.WaitVisible(chromedp.CSS("main .notice, main .alert")),
		shot("detail-approved.png"),
	)
	if h, _ := chromedp.Run(ctx, chromedp.OuterHTML(chromedp.CSS("main"))); !strings.Contains(h, "Demande acceptée") {
		t.Fatalf("approval not confirmed:\n%s", h)
	}

	// The applicant's page now shows the approval and the space.
	must("applicant sees the change",
		chromedp.Navigate(link),
		chromedp.WaitVisible(chromedp.CSS("#space-state")),
		shot("status-approved.png"),
	)
	if s := text(".state .badge"); s != "Acceptée" {
		t.Errorf("state after approval: %q", s)
	}
	if s := text("#space-state"); s != "En attente de préparation" {
		t.Errorf("space state: %q", s)
	}
	// And the approval mail went out.
	if _, err := mail.WaitCount(wctx, 2); err != nil {
		t.Errorf("approval mail: %v", err)
	}

	// Three months later the space is at 85 % of its storage, with a history; other spaces run
	// beside it. The moderator reads its usage, then the dashboard.
	bg := context.Background()
	var spaceID int64
	if err := e.pool.QueryRow(bg, `SELECT space_id FROM applications WHERE slug = 'jardins-belleville'`).Scan(&spaceID); err != nil {
		t.Fatal(err)
	}
	e.moveSpace(spaceID, "", tenants.SpaceProvisioning, tenants.SpaceActive)
	now := time.Now()
	level := quota.LevelOK
	for d := 89; d >= 0; d-- {
		// Steady growth from 18 GB to 34 GB, with a clean-up of the trash 45 days ago.
		used := 18*quota.GB + int64(89-d)*19*quota.GB/89
		if d < 45 {
			used -= 3 * quota.GB
		}
		level = quota.StorageLevel(level, used, quota.DefaultLimits.StorageBytes)
		at := now.Add(-time.Duration(d) * 24 * time.Hour)
		if err := tenants.RecordUsage(bg, e.pool, tenants.Usage{SpaceID: spaceID, UsedBytes: used, AccountsEnabled: 12 - d/15,
			AccountsDisabled: 1, ActiveUsersDay: 4 + d%3, ActiveUsersMonth: 11, Level: level}, at, at.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	e.observeUsage(spaceID, now,
		tenants.Condition{Type: "Healthy", Status: "True", Reason: "AllocationHealthy", Message: "allocation 4f2a1b9c at 10.0.3.12:23456"},
		tenants.Condition{Type: "Drifted", Status: "False", Reason: "InSync", Message: "job space-jardins-belleville runs the jobspec of generation 1"},
		tenants.Condition{Type: "StorageWithinLimit", Status: "True", Reason: "Above80Percent", Message: "34 GB of 40 GB used (85 %)"},
		tenants.Condition{Type: "AccountsWithinLimit", Status: "True", Reason: "WithinLimit", Message: "12 of 50 accounts enabled (1 disabled)"},
		tenants.Condition{Type: "UsageCollected", Status: "True", Reason: "Collected", Message: "4 active users today, 11 this month"})
	if err := tenants.RecordAudit(bg, e.pool, tenants.AuditEntry{Actor: tenants.ActorReconciler, Action: "space.storage_level",
		SubjectType: "space", SubjectID: spaceID, Detail: map[string]any{"from": "ok", "to": "80%", "used_bytes": 32 * quota.GB,
			"limit_bytes": quota.DefaultLimits.StorageBytes}}); err != nil {
		t.Fatal(err)
	}
	for i, o := range []struct {
		slug     string
		name     string
		state    tenants.SpaceState
		used     int64
		accounts int
		level    quota.Level
		stale    string
	}{
		{"chorale-du-marais", "Chorale du Marais", tenants.SpaceActive, 41 * quota.GB, 23, quota.LevelFull, ""},
		{"repair-cafe-nantes", "Repair Café de Nantes", tenants.SpaceActive, 37 * quota.GB, 31, quota.LevelWarn90, ""},
		{"amap-des-coteaux", "AMAP des Coteaux", tenants.SpaceActive, 9 * quota.GB, 50, quota.LevelOK, ""},
		{"club-echecs-lyon", "Club d'échecs de Lyon", tenants.SpaceActive, 6 * quota.GB, 8, quota.LevelOK, "no healthy allocation to ask (allocation 7c1e lost)"},
		{"theatre-en-herbe", "Théâtre en herbe", tenants.SpaceSuspended, 2 * quota.GB, 4, quota.LevelOK, ""},
		{"ludotheque-arras", "Ludothèque d'Arras", tenants.SpaceActive, 0, 0, quota.LevelOK, "-"},
		{"velo-solidaire", "Vélo solidaire", tenants.SpaceQueued, 0, 0, quota.LevelOK, "-"},
	} {
		s, err := tenants.CreateSpace(bg, e.pool, tenants.NewSpace{Slug: o.slug, AssociationName: o.name,
			ContactEmail: "contact@" + o.slug + ".example", Limits: quota.DefaultLimits}, tenants.ActorSystem)
		if err != nil {
			t.Fatal(err)
		}
		switch o.state {
		case tenants.SpaceActive:
			e.moveSpace(s.ID, "", tenants.SpaceProvisioning, tenants.SpaceActive)
		case tenants.SpaceSuspended:
			e.moveSpace(s.ID, "", tenants.SpaceProvisioning, tenants.SpaceActive)
			if _, err := tenants.TransitionSpace(bg, e.pool, s.ID, tenants.Transition{To: tenants.SpaceSuspended, Actor: tenants.ActorSystem}); err != nil {
				t.Fatal(err)
			}
		}
		if o.stale == "-" {
			continue
		}
		at := now.Add(-time.Duration(i+1) * 7 * time.Minute)
		if err := tenants.RecordUsage(bg, e.pool, tenants.Usage{SpaceID: s.ID, UsedBytes: o.used, AccountsEnabled: o.accounts,
			ActiveUsersDay: o.accounts / 3, ActiveUsersMonth: o.accounts / 2, Level: o.level}, at, at.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		if o.stale != "" {
			if err := tenants.RecordUsageFailure(bg, e.pool, s.ID, o.stale, now.Add(-3*time.Minute), now.Add(time.Hour)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if _, err := tenants.SyncOrphanJobs(bg, e.pool, []tenants.OrphanJob{{JobID: "space-ancien-essai", SpaceMeta: "9001"}}, now); err != nil {
		t.Fatal(err)
	}

	must("moderator reads the space's usage",
		chromedp.Navigate(e.srv.URL+href.Value),
		chromedp.WaitVisible(chromedp.CSS("figure.chart svg")),
		shot("detail-usage.png"),
	)
	if s := text("#usage-storage .figure"); s != "34\u00a0GB sur 40\u00a0GB (85\u00a0%)" {
		t.Errorf("storage: %q", s)
	}
	if s := text("#usage-accounts"); !strings.Contains(s, "12 comptes sur 50") {
		t.Errorf("accounts: %q", s)
	}
	must("moderator opens the dashboard",
		clickToLoad(`header nav a[href="/moderation/dashboard"]`),
		chromedp.WaitVisible(chromedp.CSS("table.near")),
		shot("dashboard.png"),
	)
	if s := text("table.near tbody tr:first-child th"); !strings.HasPrefix(s, "Chorale du Marais") {
		t.Errorf("first near its limits: %q", s)
	}
}

// TestBrowserSpacesOperator is an operator's path through the spaces pages in headless Chromium:
// log in, open the spaces page, filter it, open a space near its limit, meet a refused resize
// and resize it, suspend it with a reason, resume it, delete it and restore it, reading what the
// page says after each step. Screenshots go where TestBrowserApplyAndModerate's do.
func TestBrowserSpacesOperator(t *testing.T) {
	e := newTestEnv(t, envOptions{})
	bg := context.Background()
	oc, _ := e.addOperator("sam@example.org", "Sam Martin")
	form := validForm(1)
	form.Set("association_name", "Les Jardins Partagés de Belleville")
	form.Set("slug", "jardins-belleville")
	form.Set("contact_email", "camille@jardins.example")
	resp, body := e.post(e.newClient(), "/apply", form)
	mustStatus(t, resp, body, http.StatusSeeOther)
	appID := e.appID("jardins-belleville")
	resp, body = e.post(oc, "/moderation/applications/"+appID+"/approve", url.Values{})
	mustStatus(t, resp, body, http.StatusSeeOther)
	var spaceID int64
	if err := e.pool.QueryRow(bg, `SELECT space_id FROM applications WHERE id = $1`, appID).Scan(&spaceID); err != nil {
		t.Fatal(err)
	}
	e.moveSpace(spaceID, "", tenants.SpaceProvisioning, tenants.SpaceActive)
	now := time.Now()
	e.measureHistory(spaceID, quota.DefaultLimits.StorageBytes, 90, 34*quota.GB, 12, now)
	e.observeUsage(spaceID, now,
		tenants.Condition{Type: "Healthy", Status: "True", Reason: "AllocationHealthy", Message: "allocation 4f2a1b9c at 10.0.3.12:23456"},
		tenants.Condition{Type: "Drifted", Status: "False", Reason: "InSync", Message: "job space-jardins-belleville runs the jobspec of generation 1"},
		tenants.Condition{Type: "StorageWithinLimit", Status: "True", Reason: "Above80Percent", Message: "34 GB of 40 GB used (85 %)"},
		tenants.Condition{Type: "AccountsWithinLimit", Status: "True", Reason: "WithinLimit", Message: "12 of 50 accounts enabled (1 disabled)"})
	for _, f := range []spaceFixture{
		{"chorale-du-marais", "Chorale du Marais", tenants.SpaceActive, 41 * quota.GB, 23},
		{"repair-cafe-nantes", "Repair Café de Nantes", tenants.SpaceActive, 37 * quota.GB, 31},
		{"amap-des-coteaux", "AMAP des Coteaux", tenants.SpaceActive, 9 * quota.GB, 50},
		{"theatre-en-herbe", "Théâtre en herbe", tenants.SpaceSuspended, 2 * quota.GB, 4},
		{"club-echecs-lyon", "Club d'échecs de Lyon", tenants.SpaceActive, 6 * quota.GB, 8},
		{"velo-solidaire", "Vélo solidaire", tenants.SpaceQueued, 0, 0},
		{"fanfare-du-quartier", "La Fanfare du quartier", tenants.SpaceDeleting, 0, 0},
	} {
		e.addSpace(f)
	}

	b := newBrowser(t)
	ctx, shot, must, text := b.ctx, b.shot, b.must, b.text
	listed := func() string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("table.spaces tbody")))
		if err != nil {
			t.Fatalf("read the list: %v", err)
		}
		return s
	}

	must("operator logs in",
		logIn(e.srv.URL, "sam@example.org"),
		chromedp.WaitVisible(chromedp.CSS(`header nav a[href="/moderation/spaces"]`)),
	)
	must("operator opens the spaces page",
		clickToLoad(`header nav a[href="/moderation/spaces"]`),
		chromedp.WaitVisible(chromedp.CSS("table.spaces")),
		chromedp.WaitReady(chromedp.CSS("footer")),
		shot("spaces.png"),
	)
	if l := listed(); !strings.Contains(l, "Les Jardins Partagés de Belleville") || !strings.Contains(l, "Vélo solidaire") {
		t.Fatalf("the spaces page lists:\n%s", l)
	}
	must("operator keeps the spaces near their limits",
		chromedp.SetValue(chromedp.CSS("#f-usage"), "near"),
		clickToLoad("form.filters button[type=submit]"),
		chromedp.WaitReady(chromedp.CSS(`#f-usage option[value="near"][selected]`)),
		shot("spaces-near.png"),
	)
	if l := listed(); !strings.Contains(l, "Chorale du Marais") || strings.Contains(l, "Club d'échecs") || strings.Contains(l, "Vélo solidaire") {
		t.Errorf("near their limits:\n%s", l)
	}
	must("operator opens the space",
		clickToLoad(`table.spaces a[href="/moderation/spaces/jardins-belleville"]`),
		chromedp.WaitVisible(chromedp.CSS("#resize")),
		chromedp.WaitReady(chromedp.CSS("footer")),
		chromedp.WaitVisible(chromedp.CSS("figure.chart svg")),
		shot("space.png"),
	)
	if s := text("#space-limits"); s != "40\u00a0GB, 50 comptes" {
		t.Errorf("limits: %q", s)
	}

	// Below what the association uses: refused, with the figures, what was typed kept.
	must("operator tries a limit below the usage",
		chromedp.Clear(chromedp.CSS("#f-storage")),
		chromedp.SendKeys(chromedp.CSS("#f-storage"), "20 GB"),
		clickToLoad("#resize button[type=submit]"),
		chromedp.WaitVisible(chromedp.CSS("#space-error")),
		chromedp.WaitReady(chromedp.CSS("footer")),
		shot("space-resize-refused.png"),
	)
	if s := text("#space-error"); !strings.Contains(s, "L'association utilise 34\u00a0GB : une limite de 20\u00a0GB serait 14\u00a0GB en dessous.") {
		t.Errorf("refused resize: %q", s)
	}
	if v, _ := chromedp.Run(ctx, chromedp.Value(chromedp.CSS("#f-storage"))); v != "20 GB" {
		t.Errorf("typed size lost: %q", v)
	}
	must("operator resizes",
		chromedp.Clear(chromedp.CSS("#f-storage")),
		chromedp.SendKeys(chromedp.CSS("#f-storage"), "50 GB"),
		chromedp.Clear(chromedp.CSS("#f-accounts")),
		chromedp.SendKeys(chromedp.CSS("#f-accounts"), "60"),
		clickToLoad("#resize button[type=submit]"),
		chromedp.WaitVisible(chromedp.CSS("main .notice")),
		chromedp.WaitReady(chromedp.CSS("footer")),
	)
	if s := text("main .notice"); !strings.HasPrefix(s, "Limites enregistrées : 50\u00a0GB, 60 comptes.") {
		t.Errorf("after resize: %q", s)
	}
	if s := text("#space-limits"); s != "50\u00a0GB, 60 comptes" {
		t.Errorf("limits after resize: %q", s)
	}

	must("operator suspends with a reason",
		chromedp.SendKeys(chromedp.CSS("#f-suspend-reason"), "Des contenus signalés doivent être vérifiés avec l'association."),
		clickToLoad("#suspend button[type=submit]"),
		chromedp.WaitVisible(chromedp.CSS("#resume")),
		chromedp.WaitReady(chromedp.CSS("footer")),
		shot("space-suspended.png"),
	)
	if s := text("main .notice"); !strings.HasPrefix(s, "Espace suspendu.") {
		t.Errorf("after suspend: %q", s)
	}
	if s := text("#space-state"); !strings.HasPrefix(s, "Suspendu, depuis le ") {
		t.Errorf("state after suspend: %q", s)
	}
	if s := text("#space-suspend-reason"); s != "Des contenus signalés doivent être vérifiés avec l'association." {
		t.Errorf("suspension reason: %q", s)
	}

	must("operator resumes",
		clickToLoad("#resume button[type=submit]"),
		chromedp.WaitVisible(chromedp.CSS("#suspend")),
		chromedp.WaitReady(chromedp.CSS("footer")),
	)
	if s := text("main .notice"); !strings.HasPrefix(s, "Espace réactivé.") || !strings.HasPrefix(text("#space-state"), "Actif, depuis le ") {
		t.Errorf("after resume: %q", s)
	}

	must("operator deletes with a reason",
		chromedp.ScrollIntoView(chromedp.CSS("#delete summary")),
		chromedp.Click(chromedp.CSS("#delete summary")),
		chromedp.WaitVisible(chromedp.CSS("#f-delete-reason")),
		chromedp.Click(chromedp.CSS("#f-delete-reason")),
		chromedp.SendKeys(chromedp.CSS("#f-delete-reason"), "L'association est dissoute."),
		chromedp.ScrollIntoView(chromedp.CSS("header.site")), // a full screenshot of a scrolled page leaves parts out
		shot("space-delete-form.png"),
		clickToLoad("#delete button[type=submit]"),
		chromedp.WaitVisible(chromedp.CSS("#restore")),
		chromedp.WaitReady(chromedp.CSS("footer")),
		shot("space-deleting.png"),
	)
	if s := text("main .notice"); !strings.HasPrefix(s, "Suppression enregistrée : l'espace est arrêté et sera effacé le ") {
		t.Errorf("after delete: %q", s)
	}
	if s := text("#space-purge"); !strings.HasSuffix(s, ", sauf restauration d'ici là") {
		t.Errorf("purge date: %q", s)
	}
	if s := text("#space-restore-brings"); !strings.HasPrefix(s, "remet l'espace «\u00a0Actif\u00a0»") {
		t.Errorf("what a restore brings back: %q", s)
	}

	must("operator restores",
		clickToLoad("#restore button[type=submit]"),
		chromedp.WaitVisible(chromedp.CSS("#suspend")),
		chromedp.WaitReady(chromedp.CSS("footer")),
		shot("space-restored.png"),
	)
	if s := text("main .notice"); s != "Espace restauré : il est de nouveau «\u00a0Actif\u00a0». L'association est prévenue par e-mail." {
		t.Errorf("after restore: %q", s)
	}
	if s := text("#space-limits"); s != "50\u00a0GB, 60 comptes" {
		t.Errorf("limits after restore: %q", s)
	}
	history := text("#space-history")
	for _, want := range []string{"Sam Martin a restauré l'espace, de nouveau « Actif »",
		"Sam Martin a supprimé l'espace (restaurable jusqu'à son effacement), motif « L'association est dissoute. »",
		"Sam Martin a réactivé l'espace", "Sam Martin a suspendu l'espace, motif « Des contenus signalés",
		"Sam Martin a changé les limites de l'espace : 40\u00a0GB, 50 comptes → 50\u00a0GB, 60 comptes"} {
		if !strings.Contains(strings.ReplaceAll(history, "\u00a0", " "), strings.ReplaceAll(want, "\u00a0", " ")) {
			t.Errorf("history lacks %q:\n%s", want, history)
		}
	}
}

// TestBrowserIntakePause is the rush in headless Chromium: an operator adds a partner host and
// closes the intake with a message; a person who comes to apply meets that message and the
// partner instead of the form, in French and, with the only message written, in English.
func TestBrowserIntakePause(t *testing.T) {
	e := newTestEnv(t, envOptions{})
	e.addOperator("sam@example.org", "Sam Martin")
	b := newBrowser(t)
	must, text, shot := b.must, b.text, b.shot
	const message = "Toutes nos places sont prises jusqu'en janvier : nous rouvrons les demandes dès que des espaces se libèrent."

	must("operator logs in and opens the intake page",
		logIn(e.srv.URL, "sam@example.org"),
		chromedp.WaitVisible(chromedp.CSS(`header nav a[href="/moderation/intake"]`)),
		clickToLoad(`header nav a[href="/moderation/intake"]`),
		chromedp.WaitVisible(chromedp.CSS("#partner-form")),
	)
	if s := text("#intake-state"); s != "Demandes ouvertes" {
		t.Errorf("intake state before: %q", s)
	}
	must("operator adds a partner host",
		chromedp.SendKeys(chromedp.CSS("#f-name"), "Hébergeur Solidaire"),
		chromedp.SendKeys(chromedp.CSS("#f-url"), "https://cloud.solidaire.example"),
		chromedp.SendKeys(chromedp.CSS("#f-offer_fr"), "Des espaces Nextcloud pour les petites associations, sur inscription."),
		clickToLoad("#partner-form button[type=submit]"),
		chromedp.WaitVisible(chromedp.CSS("#partners li")),
	)
	must("operator closes the intake with a message",
		chromedp.SendKeys(chromedp.CSS("#f-message_fr"), message),
		clickToLoad(`button[name=action][value=pause]`),
		chromedp.WaitVisible(chromedp.CSS("#intake-state")),
		shot("intake.png"),
	)
	if s := text("#intake-state"); s != "Demandes fermées" {
		t.Fatalf("intake state after the pause: %q", s)
	}
	if s := text("#intake-sentence"); !strings.Contains(s, "Sam Martin") {
		t.Errorf("who closed it: %q", s)
	}

	must("operator logs out; a person comes to apply",
		clickToLoad("header nav button.link"),
		chromedp.EmulateViewport(390, 844),
		chromedp.Navigate(e.srv.URL+"/?lang=fr"),
		chromedp.WaitVisible(chromedp.CSS("#intake-message")),
		shot("intake-closed.png"),
	)
	if s := text("h1"); s != "Les demandes sont fermées pour le moment" {
		t.Errorf("title: %q", s)
	}
	if s := text("#intake-message"); s != message {
		t.Errorf("message: %q", s)
	}
	if s := text("#partners"); !strings.Contains(s, "Hébergeur Solidaire") || !strings.Contains(s, "petites associations") {
		t.Errorf("partners offered:\n%s", s)
	}
	if n, err := chromedp.Run(b.ctx, chromedp.Evaluate[int](`document.querySelectorAll("#f-association_name").length`)); err != nil || n != 0 {
		t.Errorf("the form is still there (%d, %v)", n, err)
	}
	must("the same in English",
		chromedp.Navigate(e.srv.URL+"/?lang=en"),
		chromedp.WaitVisible(chromedp.CSS("#intake-message")),
	)
	if s := text("h1"); s != "Applications are closed for now" {
		t.Errorf("title in English: %q", s)
	}
	if s := text("#intake-message"); s != message {
		t.Errorf("the only message written is shown in English too: %q", s)
	}
}
