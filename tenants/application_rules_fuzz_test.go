package tenants

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

// The application rules read what anyone types on the public form. Whatever the bytes, they
// answer without panicking, what they return is valid UTF-8, and what they accept once normalised
// they accept again unchanged.

// ruleCode is the code of a rule violation; any other error fails the test.
func ruleCode(t *testing.T, in string, err error) string {
	t.Helper()
	if err == nil {
		return ""
	}
	var v *RuleViolation
	if !errors.As(err, &v) {
		t.Fatalf("%q: error is not a rule violation: %v", in, err)
	}
	if !utf8.ValidString(v.Detail) {
		t.Fatalf("%q: detail is not valid UTF-8: %q", in, v.Detail)
	}
	return v.Code
}

func FuzzNormalizeSlug(f *testing.F) {
	for _, s := range []string{"jardin-partage", "Jardin-Partage", "  jardin  ", "café", "Les Œuvres", "ｊａｒｄｉｎ",
		"jardin.spaces.localhost", "JARDIN.SPACES.LOCALHOST", "https://jardin.spaces.localhost", "jаrdin", "αβγ", "日本語",
		"ab", "admin", "-jardin", "jar--din", "xn--80ak6aa92e", strings.Repeat("Ⱥ", 20) + ".spaces.localhost",
		strings.Repeat("\u212a", 20) + ".spaces.localhost", "İstanbul", "ǅemal", "ﬁn", "a\u0301b\u0327c", "\xff\xfe", "jardin🌱",
		strings.Repeat("a", 41), "x.spaces.localhost.spaces.localhost"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		slug, changed, err := NormalizeSlug(in, "spaces.localhost")
		code := ruleCode(t, in, err)
		if !utf8.ValidString(slug) {
			t.Fatalf("%q: slug is not valid UTF-8: %q", in, slug)
		}
		if code != "" {
			return
		}
		if CheckSlug(slug) != nil {
			t.Fatalf("%q: accepted %q, which CheckSlug refuses: %v", in, slug, CheckSlug(slug))
		}
		if changed != (slug != strings.TrimSpace(in)) {
			t.Fatalf("%q: changed=%v for %q", in, changed, slug)
		}
		again, changedAgain, err := NormalizeSlug(slug, "spaces.localhost")
		if err != nil || again != slug || changedAgain {
			t.Fatalf("%q: %q normalised again gives %q, changed=%v, %v", in, slug, again, changedAgain, err)
		}
	})
}

func FuzzCheckSlug(f *testing.F) {
	for _, s := range []string{"jardin", "ab", "admin", "a-b", "-ab", "ab-", "a--b", "Jardin", "jardin\xff", "jаrdin", strings.Repeat("a", 40)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		err := CheckSlug(in)
		if ruleCode(t, in, err) != "" {
			return
		}
		// What it accepts is a DNS label of our own: ASCII, 3–40 bytes, and already normalised.
		if len(in) < SlugMinLength || len(in) > SlugMaxLength || strings.HasPrefix(in, "xn--") {
			t.Fatalf("%q accepted", in)
		}
		slug, changed, err := NormalizeSlug(in, "spaces.localhost")
		if err != nil || changed || slug != in {
			t.Fatalf("%q accepted by CheckSlug but NormalizeSlug gives %q, changed=%v, %v", in, slug, changed, err)
		}
	})
}

func FuzzNormalizeLegalID(f *testing.F) {
	for _, s := range []string{"W751234567", "w 751 234 567", "732 829 320", "732.829.320", "732829321", "73282932000074",
		"W75123456", "X751234567", "", "WW751234567", "７３２８２９３２０", "732\u00a0829\u202f320", "W\xff751234567", "-W-1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		id, err := NormalizeLegalID(in)
		code := ruleCode(t, in, err)
		if code == RuleLegalIDSIRET {
			if d := err.(*RuleViolation).Detail; len(d) != 9 || asciiDigits(d) != d {
				t.Fatalf("%q: SIRET detail %q is not 9 digits", in, d)
			}
		}
		if code != "" {
			return
		}
		rna := len(id) == 10 && id[0] == 'W' && asciiDigits(id[1:]) == id[1:]
		siren := len(id) == 9 && asciiDigits(id) == id && luhnValid(id)
		if !rna && !siren {
			t.Fatalf("%q: accepted as %q, neither an RNA nor a SIREN", in, id)
		}
		again, err := NormalizeLegalID(id)
		if err != nil || again != id {
			t.Fatalf("%q: %q normalised again gives %q, %v", in, id, again, err)
		}
	})
}

// asciiDigits keeps the ASCII digits of s.
func asciiDigits(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, s)
}

func FuzzNormalizeText(f *testing.F) {
	for _, s := range []string{"Les Amis du Jardin", "  Café ", "Cafe\u0301", "Ligne 1\r\nLigne 2\tfin", "Ca\x00mille",
		"bad \xff byte", "a\u2028b", "\u202eedcba", "Jardin\u2066x\u2069", "Jar\u200bdin", "\ufeffJardin", "\u2000x\u3000",
		"\u0301", " \u0301", "\u0958", "\ufb2c", "\u1100\u1161\u11a8", "a\r\n", "\r\n\r\n", "<script>alert(1)</script>"} {
		f.Add(s, false)
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, in string, multiline bool) {
		out, err := NormalizeText(in, multiline)
		if code := ruleCode(t, in, err); code != "" {
			if out != "" {
				t.Fatalf("%q: refused (%s) but returned %q", in, code, out)
			}
			return
		}
		if !utf8.ValidString(out) {
			t.Fatalf("%q: result is not valid UTF-8: %q", in, out)
		}
		if out != strings.TrimSpace(out) {
			t.Fatalf("%q: result %q has spaces at its ends", in, out)
		}
		for _, r := range out {
			if invisible(r) || r == 0 || r == '\r' || !multiline && r == '\n' {
				t.Fatalf("%q: result %q keeps U+%04X", in, out, r)
			}
		}
		again, err := NormalizeText(out, multiline)
		if err != nil || again != out {
			t.Fatalf("%q: %q normalised again gives %q, %v", in, out, again, err)
		}
	})
}

func FuzzNormalizeEmail(f *testing.F) {
	for _, s := range []string{"camille@jardin.example", " camille@jardin.example ", "zoe\u0301@jardin.example", "camille",
		"@jardin.example", "camille@", "a@b@c.example", "Camille <c@j.example>", "a@b.example\r\nBcc: x@y.example",
		"a\u202e@b.example", "a\u200b@b.example", "a\u3000@b.example", strings.Repeat("a", 250) + "@b.example", "\xff@b.example"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out, err := NormalizeEmail(in)
		if ruleCode(t, in, err) != "" {
			return
		}
		if !utf8.ValidString(out) || len(out) > MaxEmailLength || strings.Count(out, "@") != 1 ||
			strings.HasPrefix(out, "@") || strings.HasSuffix(out, "@") || strings.ContainsAny(out, " <>,;\"\\\r\n") {
			t.Fatalf("%q: accepted as %q", in, out)
		}
		again, err := NormalizeEmail(out)
		if err != nil || again != out {
			t.Fatalf("%q: %q normalised again gives %q, %v", in, out, again, err)
		}
	})
}
