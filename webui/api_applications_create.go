package webui

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"unicode"

	"github.com/jackc/pgx/v5"

	"github.com/assospaces/spaces/tenants"
)

// requireForwardToken lets through requests whose token may send applications: scope forward
// (a partner host's) or operator; a read token gets 403.
func (h *handler) requireForwardToken(next http.HandlerFunc) http.HandlerFunc {
	return h.authenticateToken(func(w http.ResponseWriter, r *http.Request) {
		if s := apiToken(r.Context()).Scope; s != tenants.ScopeForward && s != tenants.ScopeOperator {
			h.apiFail(w, r, http.StatusForbidden, "forbidden_scope", "", "this token may not send applications; this needs a token with scope forward (spaces token create NAME --scope forward)")
			return
		}
		next(w, r)
	})
}

// apiApplicationBody is what POST /api/v1/applications takes.
const apiApplicationBody = `{"association_name": "…", "legal_id": "…", "slug": "…", "contact_name": "…", "contact_email": "…", "purpose": "…", "activities": "…", "expected_accounts": N, "locale": "fr"|"en", "submission_key": "…"}`

// applicationFieldOrder is the form's order, in which the first field in error is named.
var applicationFieldOrder = []string{"association_name", "legal_id", "slug", "contact_name", "contact_email",
	"purpose", "activities", "expected_accounts"}

// apiApplicationCreate is POST /api/v1/applications: an application forwarded by a partner host
// running this software (token scope forward), with the applicant's consent given there. It is
// checked as the public form checks it and recorded as the form records it, so the applicant gets
// this service's "application received" mail with their status link; the application's history
// says it came forwarded, under the token's name. It answers 202 {"status":"received"} for a new
// application and for one sent before alike (submission_key: the sender's key for this forward),
// so that the API tells nobody who applied; 422 invalid_value with the first field in error; 503
// intake_closed while this service takes no application.
func (h *handler) apiApplicationCreate(w http.ResponseWriter, r *http.Request) {
	var body tenants.ForwardPayload // what a partner running this software sends
	if !h.apiDecodeBody(w, r, &body, apiApplicationBody) {
		return
	}
	st, err := tenants.GetIntake(r.Context(), h.Pool)
	if err != nil {
		h.apiInternal(w, r, err)
		return
	}
	if st.Closed {
		msg := "this service takes no new application now (" + st.ClosedBy + ")"
		if m := st.Message("en"); m != "" {
			msg += ": " + m
		}
		h.apiFail(w, r, http.StatusServiceUnavailable, "intake_closed", "", msg)
		return
	}
	key := strings.TrimSpace(body.SubmissionKey)
	if len(key) < 16 || len(key) > 200 || strings.IndexFunc(key, func(r rune) bool { return r > unicode.MaxASCII || !unicode.IsGraphic(r) || unicode.IsSpace(r) }) >= 0 {
		h.apiFail(w, r, http.StatusUnprocessableEntity, "invalid_value", "submission_key", "submission_key is required: 16 to 200 printable ASCII characters, the same for every delivery of one application")
		return
	}
	switch body.Locale {
	case "":
		body.Locale = "fr"
	case "fr", "en":
	default:
		h.apiFail(w, r, http.StatusUnprocessableEntity, "invalid_value", "locale", "locale must be fr or en: the applicant's language, for this service's mail")
		return
	}
	trim := func(s string) string { return strings.TrimSpace(strings.ReplaceAll(s, "\r\n", "\n")) }
	accounts := ""
	if body.ExpectedAccounts != 0 {
		accounts = strconv.Itoa(body.ExpectedAccounts)
	}
	// The applicant agreed to the terms at the partner, which sends only with their consent.
	f := applicationForm{AssociationName: trim(body.AssociationName), LegalID: trim(body.LegalID), Slug: trim(body.Slug),
		ContactName: trim(body.ContactName), ContactEmail: trim(body.ContactEmail), Purpose: trim(body.Purpose),
		Activities: trim(body.Activities), ExpectedAccounts: accounts, Terms: true}
	if errs := f.validate(h.BaseDomain, h.DefaultLimits.Accounts); len(errs) > 0 {
		for _, name := range applicationFieldOrder {
			if e, bad := errs[name]; bad {
				h.apiFail(w, r, http.StatusUnprocessableEntity, "invalid_value", name, name+": "+translate("en", e.Key, e.Args...))
				return
			}
		}
	}
	t := apiToken(r.Context())
	// Keys are the sender's: each token has its own, so that one partner cannot reach another's.
	submission := "fwd:" + strconv.FormatInt(t.ID, 10) + ":" + key
	token := h.statusToken(submission)
	_, err = tenants.SubmitApplication(r.Context(), h.Pool, tenants.NewApplication{
		AssociationName: f.AssociationName, LegalID: f.legalID, Slug: f.slug, ContactName: f.ContactName,
		ContactEmail: f.ContactEmail, Purpose: f.Purpose, Activities: f.Activities, ExpectedAccounts: f.accounts,
		Locale: body.Locale, StatusToken: token, SubmissionKey: submission,
		Again: func(ctx context.Context, tx pgx.Tx, existing tenants.Application, field, link string) error {
			// As the form: the contact on file hears of it, and the answer says nothing.
			if link == "" {
				return h.enqueueMail(ctx, tx, existing, "application_legal_id_again", nil, nil)
			}
			return h.enqueueMail(ctx, tx, existing, "application_again", nil, map[string]string{"StatusURL": h.statusURL(link)})
		},
	}, func(ctx context.Context, tx pgx.Tx, a tenants.Application) error {
		if err := tenants.RecordAudit(ctx, tx, tenants.AuditEntry{Actor: tenants.TokenActor(t.ID), Action: "forward.received",
			SubjectType: "application", SubjectID: a.ID, Detail: map[string]any{"token_name": t.Name}}); err != nil {
			return err
		}
		return h.enqueueMail(ctx, tx, a, "application_received", nil, map[string]string{"StatusURL": h.statusURL(token)})
	})
	var rule *tenants.RuleViolation
	switch {
	case err == nil, errors.Is(err, tenants.ErrAlreadySubmitted):
		h.apiJSON(w, r, http.StatusAccepted, map[string]string{"status": "received"})
	case errors.As(err, &rule):
		h.apiFail(w, r, http.StatusUnprocessableEntity, "invalid_value", "slug", "slug: "+translate("en", rule.Code, "detail", rule.Detail))
	default:
		h.apiInternal(w, r, err)
	}
}
