package webui

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base32"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/assospaces/spaces/jobs"
	"github.com/assospaces/spaces/tenants"
)

// statusTokenPrefix marks status page tokens.
const statusTokenPrefix = "st_"

// statusToken derives the status page's token from the form's submission key under the
// service's key: 256 bits nobody can guess, stored only hashed, and the same for a form sent
// twice, so that a double click lands on the one application.
func (h *handler) statusToken(submissionKey string) string {
	m := hmac.New(sha256.New, h.statusKey)
	m.Write([]byte(submissionKey))
	return statusTokenPrefix + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(m.Sum(nil)))
}

// statusURL is the full address of a status page.
func (h *handler) statusURL(token string) string {
	return strings.TrimSuffix(h.PublicURL.String(), "/") + "/status/" + token
}

// spaceAddress is the web address a slug's space has.
func (h *handler) spaceAddress(slug string) string {
	return "https://" + slug + "." + h.BaseDomain
}

// mailData is the template data every mail about an application uses.
func (h *handler) mailData(a tenants.Application) map[string]string {
	return map[string]string{
		"AssociationName": a.AssociationName,
		"ContactName":     a.ContactName,
		"Reference":       strconv.FormatInt(a.ID, 10),
		"Address":         h.spaceAddress(a.Slug),
		"PublicURL":       strings.TrimSuffix(h.PublicURL.String(), "/"),
		"RetentionDays":   strconv.Itoa(int(h.Retention.Hours() / 24)),
	}
}

// enqueueMail inserts a mail job in tx; secret values are sealed.
func (h *handler) enqueueMail(ctx context.Context, tx pgx.Tx, a tenants.Application, template string,
	extra map[string]string, secret map[string]string) error {
	data := h.mailData(a)
	for k, v := range extra {
		data[k] = v
	}
	args, err := jobs.SealMail(h.box, jobs.SendMailArgs{To: a.ContactEmail, Locale: a.Locale, Template: template, Data: data}, secret)
	if err != nil {
		return err
	}
	_, err = h.Jobs.InsertTx(ctx, tx, args, nil)
	return err
}

// applySubmit receives the application form: parse, validate, re-render with the typed values
// and a message at each field in error, or record the application and redirect to /apply/sent,
// its status link going by mail. An open application with the same email or legal identifier
// changes nothing in the answer (tenants.SubmitApplication says what is done instead, and its
// contact on file is mailed), so the form does not tell who applied.
func (h *handler) applySubmit(w http.ResponseWriter, r *http.Request) {
	f := readApplicationForm(r)
	if h.intakeClosed(w, r, http.StatusServiceUnavailable, &f) {
		// Closed while it was being typed: nothing is recorded, and the page gives it back.
		return
	}
	if !validSubmissionKey(f.SubmissionKey) {
		f.SubmissionKey = tenants.NewSecret(submissionPrefix)
	}
	if f.Website != "" {
		// A robot filled the hidden field: answer as if all went well, record nothing.
		h.Logger.InfoContext(r.Context(), "honeypot field filled: application dropped", "client", h.clientAddr(r).String())
		seeOther(w, r, "/apply/sent")
		return
	}
	maxAccounts := h.DefaultLimits.Accounts
	errs := f.validate(h.BaseDomain, maxAccounts)
	if len(errs) > 0 {
		h.renderApply(w, r, http.StatusUnprocessableEntity, f, func(p *applyPage) {
			p.Errors = errs
			p.FormError = p.T("apply.errors", "n", len(errs))
		})
		return
	}
	token := h.statusToken(f.SubmissionKey)
	allowed, wait, limitErr := tenants.RateTake(r.Context(), h.Pool, h.applyRule, clientNetwork(h.clientAddr(r)).String())
	if limitErr != nil {
		h.applyFailed(w, r, f, limitErr)
		return
	}
	if !allowed {
		// A form sent again after success is not a new application: answer as the first time.
		// (Only look: opening a mailed link would cut its owner's current one.)
		if ok, err := tenants.StatusTokenExists(r.Context(), h.Pool, token); err == nil && ok {
			seeOther(w, r, "/apply/sent")
			return
		}
		retryAfter(w, wait)
		h.refuseApplication(w, r, http.StatusTooManyRequests, "apply.ratelimited")
		return
	}
	locale := langFrom(r.Context())
	_, err := tenants.SubmitApplication(r.Context(), h.Pool, tenants.NewApplication{
		AssociationName: f.AssociationName, LegalID: f.legalID, Slug: f.slug, ContactName: f.ContactName,
		ContactEmail: f.ContactEmail, Purpose: f.Purpose, Activities: f.Activities, ExpectedAccounts: f.accounts,
		Locale: locale, StatusToken: token, SubmissionKey: f.SubmissionKey,
		Again: func(ctx context.Context, tx pgx.Tx, existing tenants.Application, field, link string) error {
			// The contact on file hears of it, in their language: the same address gets a new
			// link; the same identifier from another address, a notice that moderators will check.
			if link == "" {
				return h.enqueueMail(ctx, tx, existing, "application_legal_id_again", nil, nil)
			}
			return h.enqueueMail(ctx, tx, existing, "application_again", nil, map[string]string{"StatusURL": h.statusURL(link)})
		},
	}, func(ctx context.Context, tx pgx.Tx, a tenants.Application) error {
		return h.enqueueMail(ctx, tx, a, "application_received", nil, map[string]string{"StatusURL": h.statusURL(token)})
	})
	var rule *tenants.RuleViolation
	switch {
	case err == nil, errors.Is(err, tenants.ErrAlreadySubmitted):
		// A new application, a form sent again, and an address or identifier an open application
		// uses all get this one answer: the link comes by mail, to whoever the address is.
		seeOther(w, r, "/apply/sent")
	case errors.As(err, &rule):
		h.renderApply(w, r, http.StatusUnprocessableEntity, f, func(p *applyPage) {
			p.Errors = map[string]fieldError{"slug": {Key: rule.Code, Args: []any{"detail", rule.Detail}}}
			p.FormError = p.T("apply.errors", "n", 1)
		})
	default:
		h.applyFailed(w, r, f, err)
	}
}

// applySent is where a submission goes when there is no status page to show.
func (h *handler) applySent(w http.ResponseWriter, r *http.Request) {
	p := h.newPage(r)
	h.render(w, r, http.StatusOK, "message", messagePage{page: p, Title: p.T("apply.sent.title"), Text: p.T("apply.sent.text")})
}

// messagePage is a page with a title and a paragraph.
type messagePage struct {
	page
	Title string
	Text  string
}
