package tenants

import (
	"fmt"
	"slices"
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

// RuleViolation says why a value breaks one of the application rules. Code names the rule for
// the web UI, which words it in the applicant's language; Detail is the offending part, if any.
type RuleViolation struct {
	Code   string
	Detail string
}

func (v *RuleViolation) Error() string {
	if v.Detail == "" {
		return v.Code
	}
	return v.Code + ": " + v.Detail
}

// Codes of the rules on legal identifiers and slugs.
const (
	RuleLegalIDFormat   = "legal_id.format"   // neither W + 9 digits nor 9 digits
	RuleLegalIDChecksum = "legal_id.checksum" // 9 digits failing the SIREN check digit
	RuleLegalIDSIRET    = "legal_id.siret"    // 14 digits: a SIRET, whose first 9 are the SIREN
	RuleSlugLength      = "slug.length"       // not 3 to 40 characters
	RuleSlugCharset     = "slug.charset"      // a character outside a–z, 0–9 and -
	RuleSlugConfusable  = "slug.confusable"   // a letter that looks Latin but is not
	RuleSlugHyphen      = "slug.hyphen"       // starts or ends with a hyphen, or has two in a row
	RuleSlugReserved    = "slug.reserved"     // a name kept for the service itself
	RuleSlugTaken       = "slug.taken"        // a space or an open application has it
	RuleSlugNormalised  = "slug.normalised"   // acceptable once rewritten; the applicant confirms
	SlugMinLength       = 3
	SlugMaxLength       = 40
)

// NormalizeLegalID checks an association's legal identifier and returns it in its stored form:
// an RNA number (W followed by 9 digits) or a SIREN (9 digits whose last is a Luhn check digit).
// Spaces, dots and hyphens people type between groups are dropped; a lowercase w is accepted.
func NormalizeLegalID(s string) (string, error) {
	var b strings.Builder
	for _, r := range strings.TrimSpace(s) {
		switch {
		case r == ' ' || r == '.' || r == '-' || r == '\u00a0' || r == '\u202f':
		case r == 'w' || r == 'W':
			b.WriteByte('W')
		default:
			b.WriteRune(r)
		}
	}
	id := b.String()
	digits := strings.TrimPrefix(id, "W")
	for _, r := range digits {
		if r < '0' || r > '9' {
			return "", &RuleViolation{Code: RuleLegalIDFormat}
		}
	}
	switch {
	case strings.HasPrefix(id, "W") && len(digits) == 9:
		return id, nil
	case !strings.HasPrefix(id, "W") && len(id) == 9:
		if !luhnValid(id) {
			return "", &RuleViolation{Code: RuleLegalIDChecksum}
		}
		return id, nil
	case !strings.HasPrefix(id, "W") && len(id) == 14:
		return "", &RuleViolation{Code: RuleLegalIDSIRET, Detail: id[:9]}
	}
	return "", &RuleViolation{Code: RuleLegalIDFormat}
}

// luhnValid tells whether a string of digits passes the Luhn check, as SIREN numbers do.
func luhnValid(digits string) bool {
	sum := 0
	for i := range len(digits) {
		d := int(digits[len(digits)-1-i] - '0')
		if i%2 == 1 {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
	}
	return sum%10 == 0
}

// ReservedSlugs are names a space may not take: the service's own hosts, mail and DNS conventions,
// and words that would mislead visitors.
var ReservedSlugs = []string{
	"abuse", "account", "accounts", "admin", "administrateur", "administrator", "api", "app", "apps", "assets",
	"auth", "autoconfig", "autodiscover", "billing", "blog", "cdn", "chat", "cloud", "contact", "dashboard",
	"demo", "dev", "dns", "docs", "download", "email", "forum", "ftp", "git", "help", "hostmaster", "imap",
	"info", "localhost", "login", "mail", "matrix", "moderation", "mx", "news", "nextcloud", "nomad", "ns",
	"ns1", "ns2", "ns3", "pop", "pop3", "postmaster", "prod", "proxy", "root", "security", "smtp", "sso",
	"staff", "staging", "static", "status", "support", "test", "traefik", "vpn", "webmail", "wiki", "www",
}

// transliterations are letters people type in French words that have a plain Latin spelling.
var transliterations = map[rune]string{'œ': "oe", 'æ': "ae", 'ß': "ss", 'ø': "o", 'ł': "l", 'đ': "d"}

// confusables are non-Latin letters drawn like Latin ones (Cyrillic, Greek). They are refused with
// an explanation rather than replaced: a look-alike address is how phishing starts.
var confusables = map[rune]rune{
	'а': 'a', 'в': 'b', 'с': 'c', 'е': 'e', 'һ': 'h', 'і': 'i', 'ј': 'j', 'к': 'k', 'м': 'm', 'н': 'h',
	'о': 'o', 'р': 'p', 'ѕ': 's', 'т': 't', 'у': 'y', 'х': 'x', 'ԁ': 'd', 'ӏ': 'l', 'ԛ': 'q', 'ԝ': 'w',
	'α': 'a', 'β': 'b', 'ε': 'e', 'ι': 'i', 'κ': 'k', 'ν': 'v', 'ο': 'o', 'ρ': 'p', 'τ': 't', 'υ': 'u',
	'χ': 'x', 'ɡ': 'g', 'ı': 'i',
}

// NormalizeSlug turns what an applicant typed as their address into a slug, or says why it cannot
// be one. Case is folded, accents are dropped, spaces, dots and underscores become hyphens, and a
// typed full address (slug.baseDomain) is cut to its slug. changed reports that the result differs
// from what was typed, so that the form can show it and ask the applicant to confirm.
func NormalizeSlug(input, baseDomain string) (slug string, changed bool, err error) {
	typed := strings.TrimSpace(input)
	s := typed
	if baseDomain != "" {
		if cut, ok := strings.CutSuffix(strings.ToLower(s), "."+baseDomain); ok {
			s = s[:len(cut)]
		}
	}
	s = strings.TrimPrefix(strings.TrimPrefix(s, "https://"), "http://")
	s = norm.NFKC.String(s)
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-':
			b.WriteRune(r)
		case r >= 'A' && r <= 'Z':
			b.WriteRune(unicode.ToLower(r))
		case r == ' ' || r == '_' || r == '.':
			b.WriteByte('-')
		default:
			lower := unicode.ToLower(r)
			if t, ok := transliterations[lower]; ok {
				b.WriteString(t)
				continue
			}
			if latin, ok := confusables[lower]; ok {
				return "", false, &RuleViolation{Code: RuleSlugConfusable, Detail: fmt.Sprintf("%c (U+%04X) ≠ %c", r, r, latin)}
			}
			if base, ok := stripMarks(lower); ok {
				b.WriteString(base)
				continue
			}
			return "", false, &RuleViolation{Code: RuleSlugCharset, Detail: fmt.Sprintf("%c (U+%04X)", r, r)}
		}
	}
	slug = b.String()
	if err := CheckSlug(slug); err != nil {
		return slug, slug != typed, err
	}
	return slug, slug != typed, nil
}

// stripMarks returns the plain Latin letter under an accented one (é → e), if it is one.
func stripMarks(r rune) (string, bool) {
	d := norm.NFD.String(string(r))
	var base []rune
	for _, c := range d {
		if unicode.Is(unicode.Mn, c) {
			continue
		}
		base = append(base, c)
	}
	if len(base) != 1 || base[0] < 'a' || base[0] > 'z' {
		return "", false
	}
	return string(base), true
}

// CheckSlug tells whether slug, already normalised, may name a space: a DNS label of 3–40
// lowercase letters, digits and inner single hyphens, not an IDN (xn--) and not reserved.
func CheckSlug(slug string) error {
	if n := len(slug); n < SlugMinLength || n > SlugMaxLength {
		return &RuleViolation{Code: RuleSlugLength}
	}
	for _, r := range slug {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
			return &RuleViolation{Code: RuleSlugCharset, Detail: string(r)}
		}
	}
	if strings.HasPrefix(slug, "-") || strings.HasSuffix(slug, "-") || strings.Contains(slug, "--") {
		return &RuleViolation{Code: RuleSlugHyphen}
	}
	if slices.Contains(ReservedSlugs, slug) {
		return &RuleViolation{Code: RuleSlugReserved}
	}
	return nil
}
