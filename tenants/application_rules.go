package tenants

import (
	"fmt"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

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
//
// The input is public: any string, of any bytes, is answered without panicking. Nothing is cut at
// a byte offset computed on another spelling of the string (case folding and normalisation change
// byte lengths: Ⱥ is 2 bytes, ⱥ 3), and the slug returned is always ASCII.
func NormalizeSlug(input, baseDomain string) (slug string, changed bool, err error) {
	typed := strings.TrimSpace(input)
	s := strings.TrimSpace(norm.NFKC.String(typed))
	s = cutPrefixFold(cutPrefixFold(s, "https://"), "http://")
	if baseDomain != "" {
		s = cutSuffixFold(s, "."+baseDomain)
	}
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-':
			b.WriteRune(r)
		case r >= 'A' && r <= 'Z':
			b.WriteRune(r + ('a' - 'A'))
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
			return "", false, &RuleViolation{Code: RuleSlugCharset, Detail: runeDetail(r)}
		}
		if b.Len() > 4*SlugMaxLength {
			// Far too long already: no need to read the rest of what may be a large input.
			return "", false, &RuleViolation{Code: RuleSlugLength}
		}
	}
	slug = b.String()
	if err := CheckSlug(slug); err != nil {
		return slug, slug != typed, err
	}
	return slug, slug != typed, nil
}

// runeDetail names a character for a message: itself and its code point, or only the code point
// when showing it would hide it or turn the text around (controls, format characters, invalid bytes).
func runeDetail(r rune) string {
	if r == utf8.RuneError || !unicode.IsGraphic(r) || unicode.Is(unicode.Cf, r) || unicode.Is(unicode.M, r) {
		return fmt.Sprintf("U+%04X", r)
	}
	return fmt.Sprintf("%c (U+%04X)", r, r)
}

// cutPrefixFold removes prefix, an ASCII string, from s, ignoring ASCII case. Only ASCII letters
// are folded, so the bytes compared are those cut.
func cutPrefixFold(s, prefix string) string {
	if len(s) >= len(prefix) && asciiEqualFold(s[:len(prefix)], prefix) {
		return s[len(prefix):]
	}
	return s
}

// cutSuffixFold removes suffix, an ASCII string, from the end of s, ignoring ASCII case.
func cutSuffixFold(s, suffix string) string {
	if len(s) >= len(suffix) && asciiEqualFold(s[len(s)-len(suffix):], suffix) {
		return s[:len(s)-len(suffix)]
	}
	return s
}

func asciiEqualFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range len(a) {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
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

// Codes of the rules on names, free texts and email addresses.
const (
	RuleTextInvalid   = "text.invalid"   // invalid UTF-8, NUL or another control character
	RuleTextInvisible = "text.invisible" // a bidirectional override or isolate, or a zero-width character
	RuleEmailFormat   = "email.format"   // not one plain address: local@domain, nothing a mail header would misread
	MaxEmailLength    = 254
)

// invisible tells whether r is a character that changes how text around it is shown without
// showing itself: the bidirectional embeddings, overrides and isolates (U+202A–U+202E,
// U+2066–U+2069), which can make a name read backwards to a moderator, and the zero-width
// characters (U+200B–U+200D, U+2060, U+FEFF), which make two names that look alike differ.
func invisible(r rune) bool {
	return r >= '\u202a' && r <= '\u202e' || r >= '\u2066' && r <= '\u2069' ||
		r >= '\u200b' && r <= '\u200d' || r == '\u2060' || r == '\ufeff'
}

// NormalizeText checks a name or a free text as typed on a public form and returns it as it is
// stored: composed (NFC), with line breaks as \n and without surrounding spaces. It refuses what
// Postgres or a reader would choke on (invalid UTF-8, NUL and other control characters, the line
// and paragraph separators; line breaks and tabs are allowed only when multiline) with
// RuleTextInvalid, and invisible characters (see invisible) with RuleTextInvisible, whose Detail
// is the first one's code point. Lengths are for the caller to check, on the result.
func NormalizeText(s string, multiline bool) (string, error) {
	if !utf8.ValidString(s) {
		return "", &RuleViolation{Code: RuleTextInvalid}
	}
	if multiline {
		s = strings.ReplaceAll(s, "\r\n", "\n")
	}
	for _, r := range s {
		switch {
		case invisible(r):
			return "", &RuleViolation{Code: RuleTextInvisible, Detail: fmt.Sprintf("U+%04X", r)}
		case r == '\n' || r == '\t':
			if !multiline {
				return "", &RuleViolation{Code: RuleTextInvalid, Detail: fmt.Sprintf("U+%04X", r)}
			}
		case unicode.IsControl(r) || r == '\u2028' || r == '\u2029':
			return "", &RuleViolation{Code: RuleTextInvalid, Detail: fmt.Sprintf("U+%04X", r)}
		}
	}
	// Composing can neither create nor remove spaces at the ends, nor any character refused above
	// (none of them composes or decomposes): checking before is checking after.
	return norm.NFC.String(strings.TrimSpace(s)), nil
}

// NormalizeEmail checks an email address typed on a public form, beyond the general shape the
// web form's validator checks: a single line of clean text (NormalizeText), at most 254 bytes,
// exactly one @ with something on each side, and none of the characters a mail header would read
// as a separator, a display name or a second address. It returns the address as stored.
func NormalizeEmail(s string) (string, error) {
	e, err := NormalizeText(s, false)
	if err != nil {
		return "", err
	}
	local, domain, ok := strings.Cut(e, "@")
	if !ok || local == "" || domain == "" || strings.Contains(domain, "@") || len(e) > MaxEmailLength ||
		strings.ContainsAny(e, " <>,;:\"\\()[]") || strings.ContainsFunc(e, unicode.IsSpace) {
		return "", &RuleViolation{Code: RuleEmailFormat}
	}
	return e, nil
}
