package provisioner

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"text/template"

	"github.com/assospaces/spaces/provisioner/nextcloud"
	"github.com/assospaces/spaces/quota"
	"github.com/assospaces/spaces/templates"
	"github.com/assospaces/spaces/tenants"
)

// SpaceSettings are the operators' settings every space gets, so that it is ready to use the
// day it opens: Nextcloud sends mail through their relay, shows the service's legal pages,
// edits documents with their Collabora server, and has the apps they chose.
type SpaceSettings struct {
	// SMTPHost, SMTPPort, SMTPSecure ("ssl" or "") and SMTPUser are the relay every space's
	// Nextcloud sends through; no SMTPHost leaves Nextcloud's own mail settings.
	SMTPHost   string
	SMTPPort   int
	SMTPSecure string
	SMTPUser   string
	// SMTPPassword is the relay's password: it goes to each space's Nomad Variable
	// (smtp_password), which the jobspec reads; it is never rendered in a jobspec.
	SMTPPassword string
	// MailFromAddress is the local part of the space's sender ("no-reply" when empty), at
	// MailDomain, the space's own name (<slug>.<base domain>) when empty.
	MailFromAddress string
	MailDomain      string
	// ImprintURL and PrivacyURL are the service's legal notice and privacy policy.
	ImprintURL string
	PrivacyURL string
	// OfficeURL is the Collabora Online server of Nextcloud Office (richdocuments wopi_url).
	OfficeURL string
	// HelpURL is where the first-steps guide sends people for help.
	HelpURL string
	// Apps are the apps enabled in every space (templates.DefaultApps when nil); changing them
	// changes every jobspec, so the reconciler rolls the change out to the existing spaces.
	Apps []string
	// PhoneRegion is Nextcloud's default_phone_region ("FR" when empty).
	PhoneRegion string
}

// spaceSettings are the jobspec settings of space s.
func (p *Provisioner) spaceSettings(s tenants.Space) templates.Settings {
	c := p.cfg.Space
	lang, locale := "fr", "fr_FR"
	if s.Locale == "en" {
		lang, locale = "en", "en_GB"
	}
	from := c.MailFromAddress
	if from == "" {
		from = "no-reply"
	}
	domain := c.MailDomain
	if domain == "" {
		domain = p.Domain(s.Slug)
	}
	region := c.PhoneRegion
	if region == "" {
		region = "FR"
	}
	apps := c.Apps
	if apps == nil {
		apps = templates.DefaultApps
	}
	return templates.Settings{
		AssociationName: s.AssociationName, Language: lang, Locale: locale, PhoneRegion: region,
		MailFromAddress: from, MailDomain: domain,
		SMTPHost: c.SMTPHost, SMTPPort: c.SMTPPort, SMTPSecure: c.SMTPSecure, SMTPUser: c.SMTPUser,
		ImprintURL: c.ImprintURL, PrivacyURL: c.PrivacyURL, OfficeURL: c.OfficeURL, Apps: apps,
	}
}

// appValue is one app config value the service owns in every space.
type appValue struct{ app, key, value string }

// appValues are the app config values the jobspec's settings hook sets at every start (with
// occ) and that applySettings keeps through OCS: background jobs in cron mode, the theming's
// name and legal pages, Nextcloud Office's server. provisioning_api's AppConfigController lets
// an admin set all of them over OCS: its verifyConfigKey refuses only installed_version, enabled
// and types of any app, core's encryption_enabled, public_* and remote_*, and files
// default_quota "none" when unlimited quotas are forbidden
// (nextcloud/server apps/provisioning_api/lib/Controller/AppConfigController.php).
func appValues(st templates.Settings) []appValue {
	vals := []appValue{{"core", "backgroundjobs_mode", "cron"}, {"theming", "name", st.AssociationName}}
	if st.ImprintURL != "" {
		vals = append(vals, appValue{"theming", "imprintUrl", st.ImprintURL})
	}
	if st.PrivacyURL != "" {
		vals = append(vals, appValue{"theming", "privacyUrl", st.PrivacyURL})
	}
	if st.OfficeURL != "" && slices.Contains(st.Apps, "richdocuments") {
		vals = append(vals, appValue{"richdocuments", "wopi_url", st.OfficeURL})
	}
	return vals
}

// applySettings puts the space's service-owned settings where they are decided, over OCS: the
// apps of the list enabled (Nextcloud downloads one that is missing), the other supported apps
// disabled, and the app config values of appValues. The bootstrap calls it once the space
// answers, and every usage pass calls it again, so that a setting changed behind the service's
// back (an admin page, occ) is put back within a pass, without a restart. It writes only what
// differs, so a resumed bootstrap or a pass over a space as decided writes nothing; it returns
// what it put back, as "app key" or "app enabled"/"app disabled".
func (p *Provisioner) applySettings(ctx context.Context, nc *nextcloud.Client, s tenants.Space) ([]string, error) {
	st := p.spaceSettings(s)
	enabled, err := nc.EnabledApps(ctx)
	if err != nil {
		return nil, err
	}
	var changed []string
	for _, a := range st.Apps {
		if slices.Contains(enabled, a) {
			continue
		}
		if err := nc.EnableApp(ctx, a); err != nil {
			return changed, fmt.Errorf("enable app %s: %w", a, err)
		}
		changed = append(changed, a+" enabled")
	}
	for _, a := range st.DisabledApps() {
		if !slices.Contains(enabled, a) {
			continue
		}
		if err := nc.DisableApp(ctx, a); err != nil {
			return changed, fmt.Errorf("disable app %s: %w", a, err)
		}
		changed = append(changed, a+" disabled")
	}
	for _, v := range appValues(st) {
		cur, err := nc.AppValue(ctx, v.app, v.key)
		if err != nil {
			return changed, err
		}
		if cur == v.value {
			continue
		}
		if err := nc.SetAppValue(ctx, v.app, v.key, v.value); err != nil {
			return changed, fmt.Errorf("set %s %s: %w", v.app, v.key, err)
		}
		changed = append(changed, v.app+" "+v.key)
	}
	return changed, nil
}

//go:embed guide/*.md
var guideFiles embed.FS

var guideTemplates = template.Must(template.New("guide").Option("missingkey=error").ParseFS(guideFiles, "guide/*.md"))

// appNames are the apps as the guide names them, by locale.
var appNames = map[string]map[string]string{
	"fr": {"calendar": "Agenda : les calendriers de chacun et de l'association, partagés", "contacts": "Contacts : les carnets d'adresses, partagés",
		"richdocuments": "Nextcloud Office : documents, tableurs et présentations écrits à plusieurs", "deck": "Deck : des tableaux pour organiser le travail",
		"tasks": "Tâches", "notes": "Notes", "forms": "Formulaires : sondages et inscriptions", "polls": "Sondages : trouver une date"},
	"en": {"calendar": "Calendar: everyone's and the association's calendars, shared", "contacts": "Contacts: address books, shared",
		"richdocuments": "Nextcloud Office: documents, spreadsheets and presentations written together", "deck": "Deck: boards to organise the work",
		"tasks": "Tasks", "notes": "Notes", "forms": "Forms: surveys and sign-ups", "polls": "Polls: finding a date"},
}

// Guide is the first-steps guide of a space: the welcome mail carries it and the first account
// finds it as a file in its space.
type Guide struct {
	FileName string
	Body     string
}

// FirstSteps renders the guide of space s in its language: where to log in, the login, how to
// invite members within the accounts limit, what the storage is shared between, where to get help.
func (p *Provisioner) FirstSteps(s tenants.Space) (Guide, error) {
	locale, name := "fr", "Premiers pas.md"
	files := "Fichiers : les documents de chacun et les dossiers partagés"
	if s.Locale == "en" {
		locale, name = "en", "First steps.md"
		files = "Files: everyone's documents and shared folders"
	}
	st := p.spaceSettings(s)
	apps := []string{files}
	for _, a := range st.Apps {
		apps = append(apps, appNames[locale][a])
	}
	var b bytes.Buffer
	err := guideTemplates.ExecuteTemplate(&b, "first-steps."+locale+".md", map[string]any{
		"AssociationName": s.AssociationName, "Address": "https://" + p.Domain(s.Slug), "Login": OwnerLogin(s),
		"Accounts": s.Limits.Accounts, "Storage": quota.FormatSize(s.Limits.StorageBytes), "Apps": apps, "HelpURL": p.cfg.Space.HelpURL,
	})
	if err != nil {
		return Guide{}, fmt.Errorf("render the first-steps guide: %w", err)
	}
	return Guide{FileName: name, Body: b.String()}, nil
}

// putGuide writes the first-steps guide into the first account's files, logged in as that
// account (an admin cannot write another account's files), only when no such file is there, so
// a resumed pass writes it once.
func (p *Provisioner) putGuide(ctx context.Context, nc *nextcloud.Client, s tenants.Space, password string) error {
	g, err := p.FirstSteps(s)
	if err != nil {
		return err
	}
	_, err = nc.PutFileIfAbsent(ctx, OwnerLogin(s), password, g.FileName, []byte(g.Body))
	var ne *nextcloud.Error
	if errors.As(err, &ne) && ne.HTTPStatus == http.StatusUnauthorized {
		// The password no longer opens the account: an earlier pass wrote the guide and mailed
		// the password, and the association changed it (or a pass runs again over an active
		// space, whose one-time password is gone). The guide is theirs now.
		p.logger.InfoContext(ctx, "first-steps guide left alone: the first account's password changed", "space", s.Slug)
		return nil
	}
	return err
}
