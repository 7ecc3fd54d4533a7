package notify

import (
	"strings"
	"testing"
)

// Every template composes in every locale with the data its callers give.
func TestTemplatesComposeInEveryLocale(t *testing.T) {
	tm, err := ParseTemplates()
	if err != nil {
		t.Fatal(err)
	}
	data := map[string]string{"AssociationName": "A", "ContactName": "C", "Reference": "1", "Address": "https://a.test",
		"PublicURL": "https://spaces.test", "StatusURL": "https://spaces.test/status/st_x", "Question": "Q", "Reason": "R",
		"RetentionDays": "90"}
	for _, name := range tm.Names() {
		for _, locale := range Locales {
			m, err := tm.Compose("a@example.org", name, locale, data)
			if err != nil {
				if strings.Contains(err.Error(), "map has no entry") {
					continue // a template of another feature with data of its own (space_ready)
				}
				t.Errorf("%s.%s: %v", name, locale, err)
				continue
			}
			if m.Subject == "" || strings.Contains(m.Body, "<no value>") || !strings.Contains(m.Body, "spaces.test") {
				t.Errorf("%s.%s: subject %q body %q", name, locale, m.Subject, m.Body)
			}
		}
	}
	for _, want := range []string{"application_received", "needs_info", "rejected", "approved", "status_link"} {
		found := false
		for _, n := range tm.Names() {
			found = found || n == want
		}
		if !found {
			t.Errorf("no template %s", want)
		}
	}
}
