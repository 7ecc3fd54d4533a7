package tenants

import (
	"errors"
	"testing"
)

func TestNormalizeLegalID(t *testing.T) {
	cases := []struct{ in, want, code string }{
		{"W751234567", "W751234567", ""},
		{"w 751 234 567", "W751234567", ""},
		{"732 829 320", "732829320", ""},
		{"732.829.320", "732829320", ""},
		{"732829321", "", RuleLegalIDChecksum},
		{"73282932000074", "", RuleLegalIDSIRET},
		{"W75123456", "", RuleLegalIDFormat},
		{"X751234567", "", RuleLegalIDFormat},
		{"", "", RuleLegalIDFormat},
	}
	for _, c := range cases {
		got, err := NormalizeLegalID(c.in)
		var v *RuleViolation
		if c.code == "" && (err != nil || got != c.want) {
			t.Errorf("%q: got %q, %v", c.in, got, err)
		}
		if c.code != "" && (!errors.As(err, &v) || v.Code != c.code) {
			t.Errorf("%q: got %v, want %s", c.in, err, c.code)
		}
	}
}

func TestNormalizeSlug(t *testing.T) {
	cases := []struct {
		in, want string
		changed  bool
		code     string
	}{
		{"jardin-partage", "jardin-partage", false, ""},
		{"Jardin-Partage", "jardin-partage", true, ""},
		{"  jardin  ", "jardin", false, ""},
		{"café", "cafe", true, ""},
		{"Les Œuvres", "les-oeuvres", true, ""},
		{"ｊａｒｄｉｎ", "jardin", true, ""},
		{"jardin.spaces.test", "jardin", true, ""},
		{"jаrdin", "", false, RuleSlugConfusable},
		{"αβγ", "", false, RuleSlugConfusable},
		{"日本語", "", false, RuleSlugCharset},
		{"ab", "ab", false, RuleSlugLength},
		{"admin", "admin", false, RuleSlugReserved},
		{"-jardin", "-jardin", false, RuleSlugHyphen},
		{"jar--din", "jar--din", false, RuleSlugHyphen},
		{"xn--80ak6aa92e", "xn--80ak6aa92e", false, RuleSlugHyphen},
	}
	for _, c := range cases {
		got, changed, err := NormalizeSlug(c.in, "spaces.test")
		var v *RuleViolation
		if c.code == "" {
			if err != nil || got != c.want || changed != c.changed {
				t.Errorf("%q: got %q changed=%v err=%v", c.in, got, changed, err)
			}
			continue
		}
		if !errors.As(err, &v) || v.Code != c.code {
			t.Errorf("%q: got %v, want %s", c.in, err, c.code)
		}
	}
}
