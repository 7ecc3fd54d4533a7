package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/assospaces/spaces/tenants"
)

func TestIntakeAndPartnerCommandsUsageErrors(t *testing.T) {
	env := []string{"SPACES_TOKEN=spt_x", "SPACES_ADDR=http://127.0.0.1:1"}
	for name, tc := range map[string]struct {
		args []string
		want string
	}{
		"pause without message":  {[]string{"intake", "pause"}, "spaces intake pause: --message is required: applicants see it instead of the form"},
		"pause, blank message":   {[]string{"intake", "pause", "--message", "  "}, "--message is required"},
		"threshold not a number": {[]string{"intake", "threshold", "lots"}, `spaces intake threshold: N must be a whole number from 0 (off) to 1000000, got "lots"`},
		"threshold negative":     {[]string{"intake", "threshold", "--", "-3"}, `got "-3"`},
		"threshold missing":      {[]string{"intake", "threshold"}, "want N, got 0"},
		"show bad output":        {[]string{"intake", "show", "-o", "xml"}, `--output "xml" is not a format; use table or json`},
		"add without url":        {[]string{"partner", "add", "Chatons", "--offer", "x"}, "spaces partner add: --url is required"},
		"add without offer":      {[]string{"partner", "add", "Chatons", "--url", "https://c.example"}, "--offer is required"},
		"add without name":       {[]string{"partner", "add", "--url", "https://c.example", "--offer", "x"}, "want NAME, got 0"},
		"set nothing":            {[]string{"partner", "set", "3"}, "nothing to change: give --name, --url, --offer, --offer-en, --open or --full"},
		"set open and full":      {[]string{"partner", "set", "3", "--open", "--full"}, "--open and --full cannot be combined"},
		"set bad id":             {[]string{"partner", "set", "three", "--full"}, `ID must be a partner host's number such as 3 (spaces partner list), got "three"`},
		"remove bad id":          {[]string{"partner", "remove", "0"}, `got "0"`},
	} {
		t.Run(name, func(t *testing.T) { wantUsageError(t, env, tc.want, tc.args...) })
	}
	for _, cmd := range [][]string{{"intake", "show"}, {"intake", "pause"}, {"intake", "resume"}, {"intake", "threshold"},
		{"partner", "list"}, {"partner", "add"}, {"partner", "set"}, {"partner", "remove"}} {
		out, err := spacesCommand(t, nil, append(cmd, "--help")...).CombinedOutput()
		if err != nil || !strings.Contains(string(out), "Examples:\n  spaces "+strings.Join(cmd, " ")) {
			t.Errorf("%v --help: %v\n%s", cmd, err, out)
		}
	}
}

// TestIntakeAndPartnerCommandsThroughTheAPI runs the binary against the real handler and
// database: what each command changes, prints and records, and what the public form then shows.
func TestIntakeAndPartnerCommandsThroughTheAPI(t *testing.T) {
	pool, env := lifecycleServer(t)
	ctx := context.Background()
	ok := func(args ...string) string {
		t.Helper()
		out, errOut, code := runSpaces(t, env, args...)
		if code != 0 || errOut != "" {
			t.Fatalf("spaces %v: exit %d\n%s%s", args, code, out, errOut)
		}
		return out
	}
	addr := strings.TrimPrefix(env[0], "SPACES_ADDR=")
	form := func(lang string) string {
		t.Helper()
		resp, err := http.Get(addr + "/?lang=" + lang)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}

	out := ok("intake", "show")
	for _, want := range []string{"Intake:        open: the form takes new applications\n",
		"Waiting list:  0 spaces; no threshold (only a pause closes the form)\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("show of a new intake lacks %q:\n%s", want, out)
		}
	}

	// Partners: add two, one full; set; list.
	out = ok("partner", "add", "Chatons du Sud", "--url", "https://chatons-sud.example", "--offer", "Nextcloud, 10 Go par association")
	if !strings.HasPrefix(out, "partner host 1 added (open).\n") || !strings.Contains(out, "Offer (en):  none: the fr one is shown\n") {
		t.Errorf("add printed:\n%s", out)
	}
	ok("partner", "add", "Plein Nuage", "--url", "https://plein.example", "--offer", "Rien pour l'instant", "--full")
	out = ok("partner", "set", "1", "--offer-en", "Nextcloud, 10 GB per association")
	if !strings.Contains(out, "Offer (en):  Nextcloud, 10 GB per association\n") {
		t.Errorf("set printed:\n%s", out)
	}
	rows := tableRows(ok("partner", "list"))
	if r := rows["1"]; len(r) != 5 || r[1] != "Chatons du Sud" || r[2] != "open" || r[3] != "https://chatons-sud.example" {
		t.Errorf("list row 1: %q", r)
	}
	if r := rows["2"]; len(r) < 3 || r[2] != "full" {
		t.Errorf("list row 2: %q", r)
	}

	// Pause with one message: the form shows it in both languages, with the open partner.
	out = ok("intake", "pause", "--message", "Nous rouvrons le 5 janvier.")
	for _, want := range []string{"intake paused: the form shows your message and the open partner hosts; nothing else stops.\n",
		"Intake:        closed, paused by ops (token:", "Message (fr):  Nous rouvrons le 5 janvier.\n", "Message (en):  none: the fr one is shown\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("pause printed no %q:\n%s", want, out)
		}
	}
	for _, lang := range []string{"fr", "en"} {
		page := form(lang)
		if !strings.Contains(page, "Nous rouvrons le 5 janvier.") || !strings.Contains(page, "https://chatons-sud.example") ||
			strings.Contains(page, "Plein Nuage") || strings.Contains(page, `action="/apply"`) {
			t.Errorf("%s: the form is not closed with the message and the open partner only", lang)
		}
	}
	var st tenants.IntakeStatus
	if err := json.Unmarshal([]byte(ok("intake", "show", "-o", "json")), &st); err != nil || !st.Paused || st.ClosedBy != "paused" || st.UpdatedByName != "ops" {
		t.Errorf("show -o json: %+v %v", st, err)
	}

	// A threshold: said, and kept when resuming; the waiting list keeps the form closed.
	lifecycleSpace(t, pool, "attente", tenants.SpaceQueued)
	out = ok("intake", "threshold", "1")
	if !strings.HasPrefix(out, "threshold 1: the form closes by itself while 1 spaces or more wait (now 1).\n") {
		t.Errorf("threshold printed:\n%s", out)
	}
	out = ok("intake", "resume")
	if !strings.HasPrefix(out, "intake resumed, but the form stays closed while the waiting list holds 1 spaces or more (spaces intake threshold).\n") ||
		!strings.Contains(out, "Intake:        closed by itself: 1 spaces on the waiting list, threshold 1; it reopens under 1\n") {
		t.Errorf("resume under a long waiting list printed:\n%s", out)
	}
	out = ok("intake", "threshold", "0")
	if !strings.HasPrefix(out, "threshold off: only a pause closes the form.\n") || !strings.Contains(out, "Intake:        open") {
		t.Errorf("threshold 0 printed:\n%s", out)
	}
	if !strings.Contains(form("fr"), `action="/apply"`) {
		t.Errorf("reopened: no form")
	}

	// Refusals: the server's message, exit 1.
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"partner", "add", "chatons du sud", "--url", "https://x.example", "--offer", "x"}, "a partner host with this name exists already (name) [name_taken, HTTP 409]"},
		{[]string{"partner", "add", "X", "--url", "ftp://x.example", "--offer", "x"}, "url must be a web address starting with https:// or http://"},
		{[]string{"partner", "set", "99", "--full"}, "no partner host 99 (spaces partner list) (id) [not_found, HTTP 404]"},
		{[]string{"intake", "pause", "--message", "a\u202eb"}, "message_fr contains an invisible character (U+202E)"},
	} {
		out, errOut, code := runSpaces(t, env, tc.args...)
		if code != 1 || !strings.Contains(errOut, tc.want) {
			t.Errorf("spaces %v: exit %d, stderr %q, want 1 and %q (stdout %q)", tc.args, code, errOut, tc.want, out)
		}
	}

	out = ok("partner", "remove", "2")
	if out != "partner host 2 removed: Plein Nuage (https://plein.example).\n" {
		t.Errorf("remove printed %q", out)
	}
	// Every change is in the audit log under the token.
	var actions []string
	for _, a := range []string{"intake", "partner"} {
		for _, id := range []int64{1, 2} {
			trail, err := tenants.AuditTrail(ctx, pool, a, id)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range trail {
				if !strings.HasPrefix(string(e.Actor), "token:") {
					t.Errorf("%s by %s, not the token", e.Action, e.Actor)
				}
				actions = append(actions, e.Action)
			}
		}
	}
	want := "intake.pause intake.threshold intake.resume intake.threshold partner.create partner.update partner.create partner.remove"
	if strings.Join(actions, " ") != want {
		t.Errorf("audit actions\n%s\nwant\n%s", strings.Join(actions, " "), want)
	}
}
