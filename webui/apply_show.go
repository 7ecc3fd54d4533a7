package webui

import (
	"net/http"
	"strings"

	"github.com/assospaces/spaces/quota"
	"github.com/assospaces/spaces/tenants"
)

// applyPage is the data of the application form.
type applyPage struct {
	page
	Form       applicationForm
	Errors     map[string]fieldError
	FormError  string
	BaseDomain string
	Limits     quota.Limits
	MaxName    int
	MaxText    int
}

// Err is the translated message for a field, or "".
func (p applyPage) Err(field string) string {
	e, ok := p.Errors[field]
	if !ok {
		return ""
	}
	return p.T(e.Key, e.Args...)
}

// submissionPrefix marks submission keys.
const submissionPrefix = "sub_"

func validSubmissionKey(k string) bool {
	return strings.HasPrefix(k, submissionPrefix) && len(k) > 40 && len(k) < 80
}

// applyShow shows the empty application form with a fresh submission key, or the closed page
// while the intake is closed.
func (h *handler) applyShow(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/" {
		h.notFound(w, r)
		return
	}
	if h.intakeClosed(w, r, http.StatusOK, nil) {
		return
	}
	h.renderApply(w, r, http.StatusOK, applicationForm{SubmissionKey: tenants.NewSecret(submissionPrefix)}, nil)
}

func (h *handler) renderApply(w http.ResponseWriter, r *http.Request, status int, f applicationForm, fill func(*applyPage)) {
	p := applyPage{page: h.newPage(r), Form: f, Errors: map[string]fieldError{}, BaseDomain: h.BaseDomain,
		Limits: h.DefaultLimits, MaxName: maxNameLength, MaxText: maxTextLength}
	if fill != nil {
		fill(&p)
	}
	h.render(w, r, status, "apply", p)
}

// formField is what the "field" template needs to draw one labelled input with its hint and error.
type formField struct {
	Name         string
	Kind         string // text, email, number, textarea
	Label        string
	Hint         string
	Value        string
	Error        string
	Max          int
	Autocomplete string
	Prefix       string // shown before the input (none yet)
	Suffix       string // shown after the input: .domain for the slug
}

// Field describes one of the form's fields for the "field" template.
func (p applyPage) Field(name string) formField {
	f := formField{Name: name, Kind: "text", Label: p.T("field." + name), Error: p.Err(name), Max: p.MaxName}
	if _, ok := catalog["field."+name+".hint"]; ok {
		f.Hint = p.T("field."+name+".hint", "domain", p.BaseDomain, "accounts", p.Limits.Accounts)
	}
	switch name {
	case "association_name":
		f.Value, f.Autocomplete = p.Form.AssociationName, "organization"
	case "legal_id":
		f.Value, f.Max, f.Autocomplete = p.Form.LegalID, 40, "off"
	case "slug":
		f.Value, f.Max, f.Autocomplete, f.Suffix = p.Form.Slug, 100, "off", "."+p.BaseDomain
	case "contact_name":
		f.Value, f.Autocomplete = p.Form.ContactName, "name"
	case "contact_email":
		f.Value, f.Kind, f.Max, f.Autocomplete = p.Form.ContactEmail, "email", 254, "email"
	case "purpose":
		f.Value, f.Kind, f.Max = p.Form.Purpose, "textarea", p.MaxText
	case "activities":
		f.Value, f.Kind, f.Max = p.Form.Activities, "textarea", p.MaxText
	case "expected_accounts":
		f.Value, f.Kind, f.Max = p.Form.ExpectedAccounts, "number", 10
	}
	return f
}
