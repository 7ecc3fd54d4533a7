package templates

import (
	"errors"
	"fmt"
	"net/mail"
	"net/url"
	"regexp"
	"slices"
	"strings"
)

// Settings are what makes a space ready to use the day it opens: background jobs, mail through
// the operator's relay, defaults for a French association, its name and the service's legal
// pages in the theming, and the apps it gets. Nextcloud's system config among them is rendered
// by the jobspecs as a config file (re-read by Nextcloud on every request, so it wins over a
// change made with occ or the admin pages); the rest (app config, enabled apps, background job
// mode) is applied by a hook script the jobspec renders, run before Nextcloud starts at every
// start, with idempotent occ commands. A changed setting therefore changes the jobspec, and the
// reconciler rolls it out to every space. None of them is secret: the SMTP password is read
// from the space's Nomad Variable (key smtp_password) by the jobspec.
type Settings struct {
	// AssociationName is the instance name in the theming (theming app config "name").
	AssociationName string
	// Language and Locale are Nextcloud's default_language (fr, en) and default_locale (fr_FR).
	Language string
	Locale   string
	// PhoneRegion is default_phone_region (ISO 3166-1, FR).
	PhoneRegion string

	// MailFromAddress and MailDomain are Nextcloud's mail_from_address (the local part) and
	// mail_domain: the space's mail comes from MailFromAddress@MailDomain.
	MailFromAddress string
	MailDomain      string
	// SMTPHost and SMTPPort are the relay Nextcloud sends through; empty SMTPHost leaves
	// Nextcloud's mail settings alone.
	SMTPHost string
	SMTPPort int
	// SMTPSecure is mail_smtpsecure: "ssl" for TLS from the first byte, "" for STARTTLS when
	// the relay offers it.
	SMTPSecure string
	// SMTPUser is the relay's login; when set, the password is the space's Variable item
	// smtp_password.
	SMTPUser string

	// ImprintURL and PrivacyURL are the service's legal notice and privacy policy, shown in every
	// space's footer (theming imprintUrl, privacyUrl).
	ImprintURL string
	PrivacyURL string
	// OfficeURL is the Collabora Online server Nextcloud Office (richdocuments) uses (wopi_url).
	OfficeURL string
	// Apps are the apps enabled in the space, each one of SupportedApps; the other supported
	// apps are disabled.
	Apps []string
}

// SupportedApps are the apps the service offers; a space enables those the operators list
// (SPACES_SPACE_APPS) and has the others disabled.
var SupportedApps = []string{"calendar", "contacts", "richdocuments", "deck", "tasks", "notes", "forms", "polls"}

// DefaultApps are the apps a new space gets unless the operators say otherwise.
var DefaultApps = []string{"calendar", "contacts", "richdocuments"}

// DisabledApps are the supported apps not in Apps, which the hook disables.
func (s Settings) DisabledApps() []string {
	var out []string
	for _, a := range SupportedApps {
		if !slices.Contains(s.Apps, a) {
			out = append(out, a)
		}
	}
	return out
}

var (
	language    = regexp.MustCompile(`^[a-z]{2}$`)
	locale      = regexp.MustCompile(`^[a-z]{2}_[A-Z]{2}$`)
	region      = regexp.MustCompile(`^[A-Z]{2}$`)
	hostname    = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9.-]*$`)
	mailLocal   = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._+-]*$`)
	unsafeInVar = regexp.MustCompile(`[{}$%\x00-\x1f]`)
)

// validate checks the settings. Empty ones are left out of the jobspec. What lands in a Nomad
// template block (the config file) may hold no braces, $ or %, which consul-template or HCL
// would read; the association's name only goes in an env value, as a quoted HCL string.
func (s Settings) validate() error {
	switch {
	case s.Language != "" && !language.MatchString(s.Language):
		return fmt.Errorf("language %q: want two lowercase letters such as fr", s.Language)
	case s.Locale != "" && !locale.MatchString(s.Locale):
		return fmt.Errorf("locale %q: want a locale such as fr_FR", s.Locale)
	case s.PhoneRegion != "" && !region.MatchString(s.PhoneRegion):
		return fmt.Errorf("phone region %q: want two capital letters such as FR", s.PhoneRegion)
	case s.MailDomain != "" && !identifier.MatchString(s.MailDomain):
		return fmt.Errorf("mail domain %q: want a DNS name", s.MailDomain)
	case s.MailFromAddress != "" && !mailLocal.MatchString(s.MailFromAddress):
		return fmt.Errorf("mail from address %q: want the local part of an address, such as no-reply", s.MailFromAddress)
	case s.SMTPHost != "" && !hostname.MatchString(s.SMTPHost):
		return fmt.Errorf("smtp host %q: want a host name or address", s.SMTPHost)
	case s.SMTPHost != "" && (s.SMTPPort <= 0 || s.SMTPPort > 65535):
		return fmt.Errorf("smtp port %d: want 1 to 65535", s.SMTPPort)
	case s.SMTPSecure != "" && s.SMTPSecure != "ssl":
		return fmt.Errorf("smtp secure %q: want ssl or nothing", s.SMTPSecure)
	case unsafeInVar.MatchString(s.SMTPUser):
		return errors.New("smtp user may not hold braces, $, % or control characters")
	case strings.ContainsAny(s.AssociationName, "\x00\n\r"):
		return errors.New("association name may not hold line breaks")
	}
	for name, u := range map[string]string{"imprint URL": s.ImprintURL, "privacy URL": s.PrivacyURL, "office URL": s.OfficeURL} {
		if u == "" {
			continue
		}
		pu, err := url.Parse(u)
		if err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" || unsafeInVar.MatchString(u) {
			return fmt.Errorf("%s %q: want an http(s) URL", name, u)
		}
	}
	return ValidateApps(s.Apps)
}

// ValidateApps checks a list of apps against SupportedApps.
func ValidateApps(apps []string) error {
	for _, a := range apps {
		if !slices.Contains(SupportedApps, a) {
			return fmt.Errorf("app %q is not one the service supports (%s)", a, strings.Join(SupportedApps, ", "))
		}
	}
	return nil
}

// MailFrom is the sender the space's Nextcloud writes from, for tests and logs.
func (s Settings) MailFrom() string {
	if s.MailFromAddress == "" || s.MailDomain == "" {
		return ""
	}
	return (&mail.Address{Address: s.MailFromAddress + "@" + s.MailDomain}).Address
}

// PHPString writes s as a single-quoted PHP string literal for a config file inside a Nomad
// template block: backslash and quote escaped, HCL's ${ and %{ doubled.
func PHPString(s string) string {
	q := "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
	q = strings.ReplaceAll(q, "${", "$${")
	q = strings.ReplaceAll(q, "%{", "%%{")
	return q
}

// JSONString writes s as a JSON string for the stand-in's config file, with the same HCL escapes.
func JSONString(s string) string {
	q := fmt.Sprintf("%q", s) // settings are validated: no control characters or braces
	q = strings.ReplaceAll(q, "${", "$${")
	q = strings.ReplaceAll(q, "%{", "%%{")
	return q
}
