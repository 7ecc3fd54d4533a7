// Package notify writes and sends the service's mail: messages composed from text templates in
// French and English, sent over SMTP with go-mail. Sending is meant to run in a durable job
// (jobs.SendMailArgs), so that a mail server outage delays mail and loses none.
//
// Templates live in templates/ as NAME.LOCALE.txt (application_received.fr.txt). A template is
// executed with the job's data and must begin with a "Subject: " line and a blank line; the rest
// is the body. Files whose name starts with _ hold shared pieces ({{define "signature"}}). Adding
// a mail is adding its two files, one per locale; New refuses a template missing a locale.
package notify

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"slices"
	"sort"
	"strings"
	"text/template"
)

//go:embed templates/*.txt
var templateFiles embed.FS

// Locales are the languages every template is written in; the first is the fallback.
var Locales = []string{"fr", "en"}

// Message is a composed mail, ready to send.
type Message struct {
	To      string
	Subject string
	Body    string
	Locale  string
}

// ErrUnknownTemplate is returned when no template has the asked-for name.
var ErrUnknownTemplate = errors.New("unknown mail template")

// Templates are the parsed mail templates, by name and locale.
type Templates struct {
	byName map[string]map[string]*template.Template
}

// ParseTemplates parses the embedded templates; a broken or incomplete set is an error.
func ParseTemplates() (*Templates, error) { return parseTemplates(templateFiles, "templates") }

func parseTemplates(fsys fs.FS, dir string) (*Templates, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, fmt.Errorf("read mail templates: %w", err)
	}
	shared := map[string][]string{} // locale → shared files
	mails := map[string]map[string]string{}
	for _, e := range entries {
		name := e.Name()
		base, ok := strings.CutSuffix(name, ".txt")
		if !ok {
			continue
		}
		tname, locale, ok := strings.Cut(base, ".")
		if !ok || !slices.Contains(Locales, locale) {
			return nil, fmt.Errorf("mail template %s: name must be NAME.LOCALE.txt with a locale among %v", name, Locales)
		}
		if strings.HasPrefix(tname, "_") {
			shared[locale] = append(shared[locale], dir+"/"+name)
			continue
		}
		if mails[tname] == nil {
			mails[tname] = map[string]string{}
		}
		mails[tname][locale] = dir + "/" + name
	}
	t := &Templates{byName: map[string]map[string]*template.Template{}}
	for tname, files := range mails {
		t.byName[tname] = map[string]*template.Template{}
		for _, locale := range Locales {
			file, ok := files[locale]
			if !ok {
				return nil, fmt.Errorf("mail template %s has no %s version (%s.%s.txt)", tname, locale, tname, locale)
			}
			paths := append([]string{file}, shared[locale]...)
			tmpl, err := template.New(tname+"."+locale+".txt").Option("missingkey=error").ParseFS(fsys, paths...)
			if err != nil {
				return nil, fmt.Errorf("parse mail template %s.%s: %w", tname, locale, err)
			}
			t.byName[tname][locale] = tmpl
		}
	}
	return t, nil
}

// Names lists the templates, sorted.
func (t *Templates) Names() []string {
	names := slices.Collect(maps.Keys(t.byName))
	sort.Strings(names)
	return names
}

// unconfirmedMails are the mails that may go to an address nobody has shown to own: the form takes
// any address, so whoever fills it in chooses the recipient. Such a mail carries only what the
// service or a moderator wrote (serviceValues), never what the applicant typed (the association's
// name, the contact's name, the purpose, the wished address), so that the form cannot be used to
// send one's own text to a stranger. The application is named by its number. Mail sent once a
// moderator approved the application, and mail about a space, may name the association.
var unconfirmedMails = map[string]bool{
	"application_received":       true, // the first mail to the address
	"status_link_new":            true, // the lost-link mail, sent to whichever address is asked for
	"application_again":          true, // the form sent again with the address of an open application
	"application_legal_id_again": true, // … or with its legal identifier, from another address
	"needs_info":                 true, // before approval the address is still unproven
	"rejected":                   true,
	"application_expired":        true,
}

// serviceValues are the data keys unconfirmedMails may use: written by the service or by a moderator.
var serviceValues = []string{"Reference", "PublicURL", "StatusURL", "RetentionDays", "StaleDays", "Question", "Reason"}

// ForUnconfirmedAddress tells whether mail name may go to an address nobody has shown to own, and
// so is composed only from values the service or a moderator wrote.
func ForUnconfirmedAddress(name string) bool { return unconfirmedMails[name] }

// Compose executes template name in locale (French when locale is unknown) with data. A mail for
// an unconfirmed address sees only the data in serviceValues: a template that uses anything else
// fails to compose.
func (t *Templates) Compose(to, name, locale string, data map[string]string) (Message, error) {
	byLocale, ok := t.byName[name]
	if !ok {
		return Message{}, fmt.Errorf("%w: %s", ErrUnknownTemplate, name)
	}
	if unconfirmedMails[name] {
		safe := make(map[string]string, len(serviceValues))
		for _, k := range serviceValues {
			if v, ok := data[k]; ok {
				safe[k] = v
			}
		}
		data = safe
	}
	if !slices.Contains(Locales, locale) {
		locale = Locales[0]
	}
	var buf bytes.Buffer
	if err := byLocale[locale].Execute(&buf, data); err != nil {
		return Message{}, fmt.Errorf("compose mail %s.%s: %w", name, locale, err)
	}
	head, body, ok := strings.Cut(buf.String(), "\n\n")
	subject, hasSubject := strings.CutPrefix(strings.TrimSpace(head), "Subject: ")
	if !ok || !hasSubject || strings.Contains(subject, "\n") {
		return Message{}, fmt.Errorf("compose mail %s.%s: output must begin with one \"Subject: \" line and a blank line", name, locale)
	}
	return Message{To: to, Subject: strings.TrimSpace(subject), Body: strings.TrimSpace(body) + "\n", Locale: locale}, nil
}

// Sender delivers composed messages.
type Sender interface {
	Send(ctx context.Context, m Message) error
}

// Mailer composes and sends.
type Mailer struct {
	Templates *Templates
	Sender    Sender
}

// Send composes template name for to in locale with data and sends it.
func (m *Mailer) Send(ctx context.Context, to, name, locale string, data map[string]string) error {
	msg, err := m.Templates.Compose(to, name, locale, data)
	if err != nil {
		return err
	}
	return m.Sender.Send(ctx, msg)
}
