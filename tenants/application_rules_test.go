package tenants

import (
	"errors"
	"strings"
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
		{"Jardin.SPACES.Test", "jardin", true, ""},
		{"https://jardin.spaces.test", "jardin", true, ""},
		{"ｊａｒｄｉｎ．ｓｐａｃｅｓ．ｔｅｓｔ", "jardin", true, ""},
		// Letters whose lowercase is longer in UTF-8 (Ⱥ is 2 bytes, ⱥ 3) once made the cut of the
		// typed domain slice past the end of the string: a panic, a 500 on the public form.
		{strings.Repeat("Ⱥ", 20) + ".spaces.test", "", false, RuleSlugCharset},
		{strings.Repeat("Ⱥ", 20) + ".SPACES.TEST", "", false, RuleSlugCharset},
		{"ȺȺȺ" + strings.Repeat("x", 3) + ".spaces.test", "", false, RuleSlugCharset},
		// And letters whose lowercase is shorter (K, the Kelvin sign, is 3 bytes; k is 1).
		{strings.Repeat("\u212a", 20) + ".spaces.test", strings.Repeat("k", 20), true, ""},
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

func TestNormalizeText(t *testing.T) {
	cases := []struct {
		in        string
		multiline bool
		want      string
		code      string
	}{
		{"  Les Amis du Jardin ", false, "Les Amis du Jardin", ""},
		{"Cafe\u0301 des Ami·es", false, "Café des Ami·es", ""}, // composed (NFC)
		{"Ligne 1\r\nLigne 2\tfin", true, "Ligne 1\nLigne 2\tfin", ""},
		{"Ligne 1\nLigne 2", false, "", RuleTextInvalid},
		{"Ca\x00mille", false, "", RuleTextInvalid},
		{"bad \xff byte", true, "", RuleTextInvalid},
		{"a\u2028b", true, "", RuleTextInvalid},
		{"\u202eedcba", false, "", RuleTextInvisible}, // right-to-left override
		{"ab\u202acd", true, "", RuleTextInvisible},
		{"Jardin\u2066x\u2069", false, "", RuleTextInvisible}, // isolates
		{"Jar\u200bdin", false, "", RuleTextInvisible},        // zero-width space
		{"Jar\u200cdin", false, "", RuleTextInvisible},
		{"Jar\u200ddin", false, "", RuleTextInvisible},
		{"Jar\u2060din", false, "", RuleTextInvisible},
		{"\ufeffJardin", false, "", RuleTextInvisible},
	}
	for _, c := range cases {
		got, err := NormalizeText(c.in, c.multiline)
		var v *RuleViolation
		if c.code == "" {
			if err != nil || got != c.want {
				t.Errorf("%q: got %q, %v; want %q", c.in, got, err, c.want)
			}
			continue
		}
		if !errors.As(err, &v) || v.Code != c.code {
			t.Errorf("%q: got %q, %v; want %s", c.in, got, err, c.code)
		}
	}
	if _, err := NormalizeText("a\u202eb", false); err == nil || err.(*RuleViolation).Detail != "U+202E" {
		t.Errorf("the invisible character is not named: %v", err)
	}
}

func TestNormalizeEmail(t *testing.T) {
	for in, want := range map[string]string{
		" camille@jardin.example ": "camille@jardin.example",
		"zoe\u0301@jardin.example": "zoé@jardin.example",
	} {
		if got, err := NormalizeEmail(in); err != nil || got != want {
			t.Errorf("%q: got %q, %v", in, got, err)
		}
	}
	for _, in := range []string{"camille", "@jardin.example", "camille@", "a@b@c.example", "a b@c.example",
		"Camille <c@j.example>", "a@b.example,c@d.example", "a@b.example\r\nBcc: x@y.example", "a\u202e@b.example",
		"a\u200b@b.example", strings.Repeat("a", 250) + "@b.example"} {
		if got, err := NormalizeEmail(in); err == nil {
			t.Errorf("%q accepted as %q", in, got)
		}
	}
}
