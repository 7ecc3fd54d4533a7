package webui

import (
	"errors"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/go-playground/validator/v10"

	"github.com/assospaces/spaces/tenants"
)

// fieldError is a translated message shown at one field.
type fieldError struct {
	Key  string
	Args []any
}

// applicationForm is the public form as typed: every value is kept to be shown again.
type applicationForm struct {
	AssociationName  string `form:"association_name" validate:"required,max=200"`
	LegalID          string `form:"legal_id" validate:"required,max=40"`
	Slug             string `form:"slug" validate:"required,max=100"`
	ContactName      string `form:"contact_name" validate:"required,max=200"`
	ContactEmail     string `form:"contact_email" validate:"required,max=254,email"`
	Purpose          string `form:"purpose" validate:"required,max=2000"`
	Activities       string `form:"activities" validate:"required,max=2000"`
	ExpectedAccounts string `form:"expected_accounts" validate:"required,max=10"`
	Terms            bool   `form:"terms" validate:"required"`
	// Website is the honeypot: hidden from people, filled by robots.
	Website string `form:"website"`
	// SubmissionKey makes a second POST of the same form land on the first application.
	SubmissionKey string `form:"submission_key"`

	// Filled by validate.
	legalID  string
	slug     string
	accounts int
}

// Lengths of the free-text fields, shared by validation and the maxlength attributes.
const (
	maxNameLength = 200
	maxTextLength = 2000
)

var (
	validateOnce sync.Once
	validate     *validator.Validate
)

func formValidator() *validator.Validate {
	validateOnce.Do(func() {
		validate = validator.New(validator.WithRequiredStructEnabled())
		validate.RegisterTagNameFunc(func(f reflect.StructField) string { return f.Tag.Get("form") })
	})
	return validate
}

// readApplicationForm reads the posted form, trimming single-line fields.
func readApplicationForm(r *http.Request) applicationForm {
	get := func(k string) string { return strings.TrimSpace(r.PostForm.Get(k)) }
	return applicationForm{
		AssociationName:  get("association_name"),
		LegalID:          get("legal_id"),
		Slug:             get("slug"),
		ContactName:      get("contact_name"),
		ContactEmail:     get("contact_email"),
		Purpose:          strings.TrimSpace(strings.ReplaceAll(r.PostForm.Get("purpose"), "\r\n", "\n")),
		Activities:       strings.TrimSpace(strings.ReplaceAll(r.PostForm.Get("activities"), "\r\n", "\n")),
		ExpectedAccounts: get("expected_accounts"),
		Terms:            r.PostForm.Get("terms") == "on",
		Website:          r.PostForm.Get("website"),
		SubmissionKey:    get("submission_key"),
	}
}

// textFields are the form's names and free texts, with whether each may span several lines.
var textFields = []struct {
	name      string
	multiline bool
	value     func(*applicationForm) *string
}{
	{"association_name", false, func(f *applicationForm) *string { return &f.AssociationName }},
	{"contact_name", false, func(f *applicationForm) *string { return &f.ContactName }},
	{"contact_email", false, func(f *applicationForm) *string { return &f.ContactEmail }},
	{"purpose", true, func(f *applicationForm) *string { return &f.Purpose }},
	{"activities", true, func(f *applicationForm) *string { return &f.Activities }},
}

// validate checks the form with the project's text rules, then the validator's tags, then the
// project's other rules. It returns one message per field in error; on success the normalised
// values are filled in. Names and texts are normalised (NFC) before their lengths are checked, as
// the database counts them. A slug that normalisation changed is written back into the form, with
// a message asking to confirm it.
func (f *applicationForm) validate(baseDomain string, maxAccounts int) map[string]fieldError {
	errs := map[string]fieldError{}
	typed := make([]string, len(textFields))
	defer func() {
		// A field in error is shown again as typed, not as normalised.
		for i, tf := range textFields {
			if _, bad := errs[tf.name]; bad {
				*tf.value(f) = typed[i]
			}
		}
	}()
	for i, tf := range textFields {
		v := tf.value(f)
		typed[i] = *v
		if *v == "" {
			continue // the validator says it is required
		}
		var norm string
		var err error
		if tf.name == "contact_email" {
			norm, err = tenants.NormalizeEmail(*v)
		} else {
			norm, err = tenants.NormalizeText(*v, tf.multiline)
		}
		var rv *tenants.RuleViolation
		switch {
		case err == nil:
			*v = norm
		case errors.As(err, &rv) && rv.Code == tenants.RuleTextInvisible:
			errs[tf.name] = fieldError{Key: rv.Code, Args: []any{"detail", rv.Detail}}
		case tf.name == "contact_email":
			errs[tf.name] = fieldError{Key: "err.email"}
		default:
			errs[tf.name] = fieldError{Key: "err.text"}
		}
	}
	if err := formValidator().Struct(f); err != nil {
		var verrs validator.ValidationErrors
		if !errors.As(err, &verrs) {
			errs["association_name"] = fieldError{Key: "err.text"}
			return errs
		}
		for _, fe := range verrs {
			name := fe.Field()
			if _, bad := errs[name]; bad {
				continue
			}
			switch fe.Tag() {
			case "required":
				if name == "terms" {
					errs[name] = fieldError{Key: "err.terms"}
				} else {
					errs[name] = fieldError{Key: "err.required"}
				}
			case "max":
				errs[name] = fieldError{Key: "err.too_long", Args: []any{"max", fe.Param()}}
			case "email":
				errs[name] = fieldError{Key: "err.email"}
			default:
				errs[name] = fieldError{Key: "err.text"}
			}
		}
	}
	if _, bad := errs["legal_id"]; !bad {
		id, err := tenants.NormalizeLegalID(f.LegalID)
		if v := (*tenants.RuleViolation)(nil); errors.As(err, &v) {
			errs["legal_id"] = fieldError{Key: v.Code, Args: []any{"detail", v.Detail}}
		} else {
			f.legalID = id
		}
	}
	if _, bad := errs["slug"]; !bad {
		slug, changed, err := tenants.NormalizeSlug(f.Slug, baseDomain)
		if v := (*tenants.RuleViolation)(nil); errors.As(err, &v) {
			errs["slug"] = fieldError{Key: v.Code, Args: []any{"detail", v.Detail}}
		} else if changed {
			f.Slug = slug
			errs["slug"] = fieldError{Key: tenants.RuleSlugNormalised, Args: []any{"slug", slug}}
		} else {
			f.slug = slug
		}
	}
	if _, bad := errs["expected_accounts"]; !bad {
		n, err := strconv.Atoi(strings.ReplaceAll(f.ExpectedAccounts, " ", ""))
		switch {
		case err != nil:
			errs["expected_accounts"] = fieldError{Key: "err.number"}
		case n < 1 || n > maxAccounts:
			errs["expected_accounts"] = fieldError{Key: "err.range", Args: []any{"max", maxAccounts}}
		default:
			f.accounts = n
		}
	}
	return errs
}

// cleanText refuses what Postgres or a reader would choke on: invalid UTF-8, NUL and other
// control characters (line breaks and tabs are allowed in multi-line fields).
func cleanText(s string, multiline bool) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r == '\n' || r == '\t' {
			if multiline {
				continue
			}
			return false
		}
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			return false
		}
	}
	return true
}

// plainEmail adds what the validator's email rule allows but mail headers should not carry
// (tenants.NormalizeEmail).
func plainEmail(s string) bool {
	_, err := tenants.NormalizeEmail(s)
	return err == nil
}
