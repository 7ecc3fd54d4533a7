package webui

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

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

// TestBrowserApplyAndModerate is a person's whole path in headless Chromium: fill the form,
// meet a field error, correct it, submit, follow the link of the received mail, then a
// moderator logs in and approves, and the applicant's page changes. It takes screenshots on every
// run; with SPACES_UPDATE_SCREENSHOTS=1 it writes them over the README's in testdata/screenshots.
func TestBrowserApplyAndModerate(t *testing.T) {
	exec := chromiumPath(t)
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
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(allocCtx)
	defer cancel()
	ctx, cancelTimeout := context.WithTimeout(ctx, 2*time.Minute)
	defer cancelTimeout()

	shot := func(name string) chromedp.Action[chromedp.Void] {
		return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			png, err := chromedp.FullScreenshot(100)(ctx, tg)
			if err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(shots, name), png, 0o644)
		})
	}
	must := func(step string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, actions...); err != nil {
			t.Fatalf("%s: %v", step, err)
		}
	}
	text := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("read %s: %v", sel, err)
		}
		return s
	}

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
		chromedp.Click(chromedp.CSS("button.primary[type=submit]")),
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
		chromedp.Click(chromedp.CSS("button.primary[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS(".state")),
	)
	if s := text(".state .badge"); s != "En attente d'examen" {
		t.Fatalf("state after submit: %q", s)
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

	// A moderator logs in, finds it in the queue and approves it.
	must("moderator logs in",
		chromedp.Navigate(e.srv.URL+"/moderation"),
		chromedp.WaitVisible(chromedp.CSS("#f-password")),
		chromedp.SendKeys(chromedp.CSS("#f-email"), "alex@example.org"),
		chromedp.SendKeys(chromedp.CSS("#f-password"), "correct horse battery staple"),
		chromedp.Click(chromedp.CSS("button.primary[type=submit]")),
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
		chromedp.Click(chromedp.CSS("#approve")),
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
}
