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
		"RetentionDays": "90", "StaleDays": "90"}
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
	for _, want := range []string{"application_received", "needs_info", "rejected", "approved", "status_link_new", "application_again", "application_legal_id_again", "application_expired"} {
		found := false
		for _, n := range tm.Names() {
			found = found || n == want
		}
		if !found {
			t.Errorf("no template %s", want)
		}
	}
}

// A mail that may reach an address nobody has proven to own carries nothing the applicant typed:
// composed with hostile values in every field the form fills, none of them shows, while the
// reference and the service's own values do.
func TestUnconfirmedMailsCarryNoTypedText(t *testing.T) {
	tm, err := ParseTemplates()
	if err != nil {
		t.Fatal(err)
	}
	typed := map[string]string{
		"AssociationName": "CHEAP PILLS at pills.example",
		"ContactName":     "Visit scam.example now",
		"Address":         "https://buy-now-scam.spaces.test",
		"Slug":            "buy-now-scam",
		"Purpose":         "spam purpose text",
		"Activities":      "spam activities text",
		"LegalID":         "W123456789",
		"ContactEmail":    "victim@example.org",
	}
	service := map[string]string{"Reference": "4242", "PublicURL": "https://spaces.test",
		"StatusURL": "https://spaces.test/status/st_x", "Question": "Which town?", "Reason": "Out of scope.",
		"RetentionDays": "90", "StaleDays": "60"}
	data := map[string]string{}
	for k, v := range typed {
		data[k] = v
	}
	for k, v := range service {
		data[k] = v
	}
	for _, name := range []string{"application_received", "status_link_new", "application_again", "application_legal_id_again", "needs_info", "rejected", "application_expired"} {
		if !ForUnconfirmedAddress(name) {
			t.Errorf("%s is not marked as going to an unconfirmed address", name)
		}
	}
	for _, name := range tm.Names() {
		if !ForUnconfirmedAddress(name) {
			continue
		}
		for _, locale := range Locales {
			m, err := tm.Compose("victim@example.org", name, locale, data)
			if err != nil {
				t.Errorf("%s.%s: %v", name, locale, err)
				continue
			}
			all := m.Subject + "\n" + m.Body
			for field, v := range typed {
				for _, word := range []string{v, "pills", "scam", "spam"} {
					if field != "ContactEmail" && strings.Contains(strings.ToLower(all), strings.ToLower(word)) {
						t.Errorf("%s.%s shows the typed %s (%q):\n%s", name, locale, field, word, all)
					}
				}
			}
			if !strings.Contains(m.Subject, "4242") {
				t.Errorf("%s.%s: the subject does not name the application by its number: %q", name, locale, m.Subject)
			}
		}
	}
	// Mail after approval, about a space, may name the association.
	if ForUnconfirmedAddress("approved") || ForUnconfirmedAddress("space_ready") {
		t.Error("approved or space_ready marked as unconfirmed")
	}
}
