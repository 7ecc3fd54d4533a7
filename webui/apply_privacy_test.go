package webui

import (
	"context"
	"maps"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/assospaces/spaces/tenants"
	"github.com/assospaces/spaces/tenants/notify/smtptest"
)

// mailServer is a real SMTP listener for one test.
func mailServer(t *testing.T) *smtptest.Server {
	t.Helper()
	m, err := smtptest.Start("127.0.0.1:0", smtptest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// waitMail waits for the first mail to rcpt whose subject contains subject.
func waitMail(t *testing.T, m *smtptest.Server, rcpt, subject string) smtptest.Message {
	t.Helper()
	return waitNthMail(t, m, rcpt, subject, 0)
}

// waitNthMail waits for the mail after the first skip mails to rcpt whose subject contains subject.
func waitNthMail(t *testing.T, m *smtptest.Server, rcpt, subject string, skip int) smtptest.Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second) // a guard against hangs
	defer cancel()
	for n := 1; ; n++ {
		msgs, err := m.WaitCount(ctx, n)
		if err != nil {
			t.Fatalf("no mail to %s about %q: %v", rcpt, subject, err)
		}
		seen := 0
		for _, msg := range msgs {
			for _, to := range msg.To {
				if strings.EqualFold(to, rcpt) && strings.Contains(msg.Subject, subject) {
					if seen == skip {
						return msg
					}
					seen++
				}
			}
		}
	}
}

var statusLinkRe = regexp.MustCompile(`https?://\S+(/status/st_[a-z2-7]+)`)

// linkIn is the status page path a mail carries.
func linkIn(t *testing.T, msg smtptest.Message) string {
	t.Helper()
	m := statusLinkRe.FindStringSubmatch(msg.Text)
	if m == nil {
		t.Fatalf("no status link in %q:\n%s", msg.Subject, msg.Text)
	}
	return m[1]
}

// answer is what a person sees of a submission: status, redirect target, body (without tokens).
func (e *testEnv) answer(path string, form url.Values) string {
	e.t.Helper()
	form = maps.Clone(form)
	delete(form, "csrf_token") // this client's own
	resp, body := e.post(e.newClient(), path, form)
	return resp.Status + "\n" + resp.Header.Get("Location") + "\n" + resp.Header.Get("Retry-After") + "\n" + withoutTokens(body)
}

func TestApplySameAnswerForDuplicates(t *testing.T) {
	mail := mailServer(t)
	e := newTestEnv(t, envOptions{mail: mail})
	first := validForm(60)
	fresh := e.answer("/apply", first)
	if !strings.Contains(fresh, "303 See Other\n/apply/sent\n") {
		t.Fatalf("a new application answered:\n%s", fresh)
	}
	oldLink := e.statusPath(first)

	// The same email, another identifier and address: nothing recorded, the same answer.
	sameEmail := validForm(61)
	sameEmail.Set("contact_email", "Camille60@jardin.example")
	if got := e.answer("/apply", sameEmail); got != fresh {
		t.Errorf("same email answered differently:\n%s\n---\n%s", got, fresh)
	}
	if n := countApplications(t, e); n != 1 {
		t.Errorf("%d applications after a second one with the same email, want 1", n)
	}
	// Its contact on file is told, with a new link; the link they have keeps working until
	// they open the new one.
	again := waitMail(t, mail, "camille60@jardin.example", "toujours en cours")
	newLink := linkIn(t, again)
	if newLink == oldLink || !strings.Contains(again.Text, "Rien de nouveau n'a été enregistré") {
		t.Errorf("mail to the contact on file:\n%s", again.Text)
	}
	c := e.newClient()
	resp, body := e.get(c, oldLink)
	mustStatus(t, resp, body, http.StatusOK)
	resp, body = e.get(c, newLink)
	mustStatus(t, resp, body, http.StatusOK)
	if !strings.Contains(body, "Les Amis du Jardin 60") {
		t.Errorf("the new link opens another page")
	}
	resp, body = e.get(c, oldLink)
	mustStatus(t, resp, body, http.StatusNotFound)

	// The same identifier, another email: recorded as a possible duplicate, the same answer.
	sameID := validForm(62)
	sameID.Set("legal_id", first.Get("legal_id"))
	if got := e.answer("/apply", sameID); got != fresh {
		t.Errorf("same identifier answered differently:\n%s\n---\n%s", got, fresh)
	}
	if n := countApplications(t, e); n != 2 {
		t.Errorf("%d applications after a second one with the same identifier, want 2", n)
	}
	waitMail(t, mail, "camille62@jardin.example", "Demande reçue")
	notice := waitNthMail(t, mail, "camille60@jardin.example", "toujours en cours", 1)
	if !strings.Contains(notice.Text, "numéro RNA ou SIREN") || statusLinkRe.MatchString(notice.Text) {
		t.Errorf("notice to the first contact:\n%s", notice.Text)
	}
	// Moderators see both.
	mc, _ := e.addModerator("dup@example.org", "Dup")
	resp, body = e.get(mc, "/moderation/applications/"+e.appID("jardin-62"))
	mustStatus(t, resp, body, http.StatusOK)
	if !strings.Contains(body, `href="/moderation/applications/`+e.appID("jardin-60")+`"`) {
		t.Errorf("the detail page does not point to the possible duplicate")
	}
}

func TestStatusLostSameAnswerAndOldLinkKept(t *testing.T) {
	mail := mailServer(t)
	e := newTestEnv(t, envOptions{mail: mail, workerPool: true})
	form := validForm(70)
	resp, body := e.post(e.newClient(), "/apply", form)
	mustStatus(t, resp, body, http.StatusSeeOther)
	oldLink := e.statusPath(form)

	known := e.answer("/status/lost", url.Values{"email": {"camille70@jardin.example"}})
	unknown := e.answer("/status/lost", url.Values{"email": {"nobody70@jardin.example"}})
	if known != unknown {
		t.Errorf("known and unknown addresses answered differently:\n%s\n---\n%s", known, unknown)
	}
	var jobs, links int
	if err := e.pool.QueryRow(context.Background(), `SELECT count(*) FROM river_job WHERE kind = 'status_link_request'`).Scan(&jobs); err != nil {
		t.Fatal(err)
	}
	if jobs != 2 {
		t.Errorf("%d lost-link jobs, want one per request", jobs)
	}
	msg := waitMail(t, mail, "camille70@jardin.example", "Nouveau lien")
	newLink := linkIn(t, msg)
	if err := e.pool.QueryRow(context.Background(), `SELECT count(*) FROM application_status_links`).Scan(&links); err != nil {
		t.Fatal(err)
	}
	if links != 1 {
		t.Errorf("%d mailed links stored, want 1 (none for the unknown address)", links)
	}
	// A stranger asking cuts nobody off: the old link works until the new one is opened.
	c := e.newClient()
	resp, body = e.get(c, oldLink)
	mustStatus(t, resp, body, http.StatusOK)
	resp, body = e.get(c, newLink)
	mustStatus(t, resp, body, http.StatusOK)
	resp, body = e.get(c, newLink)
	mustStatus(t, resp, body, http.StatusOK)
	resp, body = e.get(c, oldLink)
	mustStatus(t, resp, body, http.StatusNotFound)
}

func TestStatusLostLimitedPerNetwork(t *testing.T) {
	e := newTestEnv(t, envOptions{})
	c := e.newClient()
	for range tenants.LostLinkNetworkRule.Limit {
		resp, body := e.post(c, "/status/lost", url.Values{"email": {"someone@example.org"}})
		mustStatus(t, resp, body, http.StatusSeeOther)
	}
	resp, body := e.post(c, "/status/lost", url.Values{"email": {"other@example.org"}})
	mustStatus(t, resp, body, http.StatusTooManyRequests)
	if resp.Header.Get("Retry-After") == "" {
		t.Errorf("no Retry-After")
	}
}

// A form sent again past the rate limit is answered as the first time; when that first time gave
// the contact on file a mailed link, sending it again must not open that link (which would cut
// the contact's current one).
func TestResentFormDoesNotOpenMailedLink(t *testing.T) {
	e := newTestEnv(t, envOptions{applyPerHour: 2})
	first := validForm(80)
	fresh := e.answer("/apply", first)
	sameEmail := validForm(81)
	sameEmail.Set("contact_email", first.Get("contact_email"))
	if got := e.answer("/apply", sameEmail); got != fresh {
		t.Errorf("same email answered differently:\n%s\n---\n%s", got, fresh)
	}
	if got := e.answer("/apply", sameEmail); got != fresh {
		t.Errorf("the same form past the limit answered differently:\n%s\n---\n%s", got, fresh)
	}
	resp, body := e.get(e.newClient(), e.statusPath(first))
	mustStatus(t, resp, body, http.StatusOK)
}
