package webui

import (
	"bytes"
	"context"
	"fmt"
	"html"
	"html/template"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/assospaces/spaces/tenants"
)

// Load shedding: each class of request has a bound on how many of its requests this process
// handles at once. A request waits a short while (BusyWait) for room, then gets 503 with
// Retry-After and a page saying to come back later, instead of queueing without bound: in a rush
// on the public form, what is accepted is answered quickly, what is not is told so at once, and
// the moderators' pages and the JSON API keep their own room. At most waitingPerSlot requests per
// slot wait; the others are refused at once, as they could not get room within the wait anyway,
// and holding them would only pile up connections.

// Defaults of the settings (SPACES_PUBLIC_IN_FLIGHT, SPACES_MODERATION_IN_FLIGHT,
// SPACES_BUSY_WAIT): about four requests per core of a small server, together well under the
// database pool (32 connections, shared with River's workers).
const (
	DefaultPublicInFlight     = 8
	DefaultModerationInFlight = 8
	DefaultBusyWait           = 250 * time.Millisecond
)

// waitingPerSlot: a class's slots each take a request in a few milliseconds (a submission takes
// about 12 ms with 8 at once, several times that in a rush); two waiting per slot get room within
// the wait, and more would only make the accepted ones wait longer (measured by BenchmarkRush: four
// per slot gave a p50 of 225 ms to accepted submissions, most of it waiting).
const waitingPerSlot = 2

// shedLogEvery is how often at most a class logs that it sheds: one line per burst, not per request.
const shedLogEvery = 10 * time.Second

// shedClass is one kind of request with its own bound.
type shedClass struct {
	name  string
	slots chan struct{}
	wait  time.Duration
	// waiting counts the requests waiting for a slot, at most maxWaiting.
	waiting    atomic.Int64
	maxWaiting int64
	// retryAfter is what a shed request is told: applicants come back in a few minutes (their
	// page says so), moderators and programs sooner.
	retryAfter time.Duration
	// shed counts requests refused since the last log line, written at most every shedLogEvery.
	shed    atomic.Int64
	lastLog atomic.Int64
}

func newShedClass(name string, inFlight int, wait, retryAfter time.Duration) *shedClass {
	return &shedClass{name: name, slots: make(chan struct{}, inFlight), wait: wait, retryAfter: retryAfter,
		maxWaiting: int64(waitingPerSlot * inFlight)}
}

// admit takes a slot, waiting at most c.wait for one; false: too many wait already, none freed
// up in time, or the client went away.
func (c *shedClass) admit(ctx context.Context) bool {
	select {
	case c.slots <- struct{}{}:
		return true
	default:
	}
	defer c.waiting.Add(-1)
	if c.waiting.Add(1) > c.maxWaiting {
		return false
	}
	t := time.NewTimer(c.wait)
	defer t.Stop()
	select {
	case c.slots <- struct{}{}:
		return true
	case <-t.C:
		return false
	case <-ctx.Done():
		return false
	}
}

func (c *shedClass) release() { <-c.slots }

// shedClasses are the classes of one handler.
type shedClasses struct {
	public     *shedClass // the form, the status pages
	moderation *shedClass // the moderators' pages and the JSON API
}

// classOf is r's class; nil for what is never shed: static files (from memory), /healthz and
// /readyz: a balancer must keep seeing a busy server as alive and ready, or it would take every
// instance out at once.
func (s shedClasses) classOf(r *http.Request) *shedClass {
	p := r.URL.Path
	switch {
	case strings.HasPrefix(p, "/static/"), p == "/healthz", p == "/readyz":
		return nil
	case isAPI(r), p == "/moderation", strings.HasPrefix(p, "/moderation/"):
		return s.moderation
	default:
		return s.public
	}
}

// shed admits r into its class or answers it as overloaded. It runs after the CSRF check, so a
// refused application form can be shown again, filled, with a valid token.
func (h *handler) shed(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := h.shedding.classOf(r)
		if c == nil {
			next.ServeHTTP(w, r)
			return
		}
		if !c.admit(r.Context()) {
			if r.Context().Err() != nil {
				return // nobody is waiting for the answer
			}
			h.noteShed(r, c)
			h.overloaded(w, r, c)
			return
		}
		defer c.release()
		if h.shedAdmitted != nil {
			h.shedAdmitted(r)
		}
		next.ServeHTTP(w, r)
	})
}

// noteShed logs that c sheds, once per shedLogEvery with the count since the last line.
func (h *handler) noteShed(r *http.Request, c *shedClass) {
	h.Metrics.Shed(r)
	c.shed.Add(1)
	now := time.Now().UnixNano()
	last := c.lastLog.Load()
	if now-last < int64(shedLogEvery) || !c.lastLog.CompareAndSwap(last, now) {
		return
	}
	h.Logger.WarnContext(r.Context(), "overloaded: requests refused with 503", "class", c.name, "refused", c.shed.Swap(0),
		"in_flight", cap(c.slots), "wait", c.wait.String())
}

// overloaded answers a request refused for want of room: 503 with Retry-After and a page made
// at start (busyPages), so that a refusal costs next to nothing however many come: on the
// application form, what was typed comes back in the page, sent again with one button; elsewhere
// the page says to come back (and, after a form, that nothing was recorded); the API gets JSON.
func (h *handler) overloaded(w http.ResponseWriter, r *http.Request, c *shedClass) {
	retryAfter(w, c.retryAfter)
	if isAPI(r) {
		h.apiFail(w, r, http.StatusServiceUnavailable, "overloaded", "",
			"the server is handling as many requests as it can; nothing was done; try again after Retry-After seconds")
		return
	}
	if r.Method == http.MethodPost && r.URL.Path == "/apply" {
		h.refuseApplication(w, r, http.StatusServiceUnavailable, "busy.apply")
		return
	}
	text := "busy.text"
	if c == h.shedding.moderation {
		text = "busy.text.moderation"
	}
	if r.Method == http.MethodPost {
		text += ".post"
	}
	h.writeBusyPage(w, r, http.StatusServiceUnavailable, text, nil)
}

// refuseApplication answers an application form that was not recorded (no room, or the network's
// limit) with the page of text: what was typed is in it, with the same submission key and a
// valid CSRF token, to be sent again with one button.
func (h *handler) refuseApplication(w http.ResponseWriter, r *http.Request, status int, text string) {
	var fields []byte
	for _, name := range resentFields {
		v := r.PostForm.Get(name)
		if name == "submission_key" && !validSubmissionKey(v) {
			v = tenants.NewSecret(submissionPrefix)
		}
		if v == "" {
			continue
		}
		fields = append(fields, `<input type="hidden" name="`...)
		fields = append(fields, name...)
		fields = append(fields, `" value="`...)
		fields = append(fields, html.EscapeString(v)...)
		fields = append(fields, `">`...)
	}
	fields = append(fields, `<input type="hidden" name="csrf_token" value="`...)
	fields = append(fields, html.EscapeString(csrfTokenFrom(r.Context()))...)
	fields = append(fields, `">`...)
	h.writeBusyPage(w, r, status, text, fields)
}

// resentFields are the application form's fields a refused form keeps (not the honeypot).
var resentFields = []string{"association_name", "legal_id", "slug", "contact_name", "contact_email", "purpose",
	"activities", "expected_accounts", "terms", "submission_key"}

// busyTexts are the texts of the pages made at start: those with a form to send again, then the
// others.
var busyTexts = map[string]bool{"busy.apply": true, "apply.ratelimited": true,
	"busy.text": false, "busy.text.post": false, "busy.text.moderation": false, "busy.text.moderation.post": false}

// busyFieldsMark is where a page's form gets the typed fields.
const busyFieldsMark = "\x00fields\x00"

// busyPage is one page made at start, in two parts around the typed fields of its form.
type busyPage struct{ head, tail []byte }

type busyKey struct{ lang, text string }

// busyPages renders every refusal page in every language, once: the public side's layout (no
// moderator's menu, which would need the session), the text, and for an application its form.
func (h *handler) busyPages() (map[busyKey]busyPage, error) {
	t, ok := h.pages.byName["busy"]
	if !ok {
		return nil, fmt.Errorf("webui: no busy page template")
	}
	out := map[busyKey]busyPage{}
	for _, lang := range languages {
		for text, resend := range busyTexts {
			p := page{Lang: lang, loc: h.location}
			title := "busy.title"
			if resend {
				title = "busy.apply.title"
			}
			var buf bytes.Buffer
			err := t.ExecuteTemplate(&buf, "layout", struct {
				page
				Title, Text string
				Resend      bool
				Fields      template.HTML
			}{p, p.T(title), p.T(text), resend, busyFieldsMark})
			if err != nil {
				return nil, fmt.Errorf("webui: render busy page %s: %w", text, err)
			}
			head, tail, _ := bytes.Cut(buf.Bytes(), []byte(busyFieldsMark))
			out[busyKey{lang, text}] = busyPage{head: head, tail: tail}
		}
	}
	return out, nil
}

// writeBusyPage writes the page of text in the request's language, fields in its form.
func (h *handler) writeBusyPage(w http.ResponseWriter, r *http.Request, status int, text string, fields []byte) {
	pg := h.busy[busyKey{langFrom(r.Context()), text}]
	hdr := w.Header()
	hdr.Set("Content-Type", "text/html; charset=utf-8")
	hdr.Set("Cache-Control", "no-store")
	hdr.Set("Content-Length", strconv.Itoa(len(pg.head)+len(fields)+len(pg.tail)))
	w.WriteHeader(status)
	w.Write(pg.head) //nolint:errcheck
	w.Write(fields)  //nolint:errcheck
	w.Write(pg.tail) //nolint:errcheck
}
