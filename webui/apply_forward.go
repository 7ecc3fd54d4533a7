package webui

import (
	"context"
	"errors"
	"net/http"
	"strconv"

	"github.com/jackc/pgx/v5"

	"github.com/assospaces/spaces/jobs"
	"github.com/assospaces/spaces/tenants"
)

// forwardPage is the application form sent to a partner host instead of this service: the same
// fields and rules, and a consent box naming the partner.
type forwardPage struct {
	applyPage
	Partner tenants.Partner
	Consent bool // the box as sent
}

// ConsentText is the sentence the applicant ticks, naming the partner.
func (p forwardPage) ConsentText() string {
	return p.T("forward.consent", "partner", p.Partner.Name)
}

// forwardPartner reads the partner of /apply/forward/{id}: open and taking forwarded applications;
// false when the answer is written (the not-found page otherwise).
func (h *handler) forwardPartner(w http.ResponseWriter, r *http.Request) (tenants.Partner, bool) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		h.notFound(w, r)
		return tenants.Partner{}, false
	}
	p, err := tenants.GetPartner(r.Context(), h.Pool, id)
	if errors.Is(err, tenants.ErrNotFound) || (err == nil && (!p.Open || !p.Forwarding)) {
		h.notFound(w, r)
		return tenants.Partner{}, false
	}
	if err != nil {
		h.serverError(w, r, err)
		return tenants.Partner{}, false
	}
	return p, true
}

// renderForward renders the forward form with what was typed.
func (h *handler) renderForward(w http.ResponseWriter, r *http.Request, status int, partner tenants.Partner, f applicationForm,
	consent bool, fill func(*forwardPage)) {
	p := forwardPage{applyPage: applyPage{page: h.newPage(r), Form: f, Errors: map[string]fieldError{}, BaseDomain: h.BaseDomain,
		Limits: h.DefaultLimits, MaxName: maxNameLength, MaxText: maxTextLength}, Partner: partner, Consent: consent}
	if fill != nil {
		fill(&p)
	}
	h.render(w, r, status, "apply_forward", p)
}

// applyForwardShow is GET /apply/forward/{id}: the empty form to send to partner id.
func (h *handler) applyForwardShow(w http.ResponseWriter, r *http.Request) {
	partner, ok := h.forwardPartner(w, r)
	if !ok {
		return
	}
	h.renderForward(w, r, http.StatusOK, partner, applicationForm{SubmissionKey: tenants.NewSecret(submissionPrefix)}, false, nil)
}

// applyForwardSubmit is POST /apply/forward/{id}: with prefill=1 (from the closed page, with a
// form typed while it closed), the form filled in with it; otherwise checked as the form is (what was typed comes back
// with a message at each field in error), with the applicant's consent to the sending required;
// then a forward is recorded with its job (jobs.ForwardApplicationArgs) in one transaction, and
// the applicant is sent to a page saying it is on its way. The same form sent twice is one forward.
func (h *handler) applyForwardSubmit(w http.ResponseWriter, r *http.Request) {
	partner, ok := h.forwardPartner(w, r)
	if !ok {
		return
	}
	f := readApplicationForm(r)
	consent := r.PostForm.Get("consent") == "on"
	if !validSubmissionKey(f.SubmissionKey) {
		f.SubmissionKey = tenants.NewSecret(submissionPrefix)
	}
	if r.PostForm.Get("prefill") == "1" {
		// From the closed page, with what was typed on the closed form: shown to be checked and
		// sent, nothing recorded yet.
		h.renderForward(w, r, http.StatusOK, partner, f, false, nil)
		return
	}
	if f.Website != "" {
		h.Logger.InfoContext(r.Context(), "honeypot field filled: forward dropped", "client", h.clientAddr(r).String())
		seeOther(w, r, "/apply/forward/"+strconv.FormatInt(partner.ID, 10)+"/sent")
		return
	}
	errs := f.validate(h.BaseDomain, h.DefaultLimits.Accounts)
	if !consent {
		errs["consent"] = fieldError{Key: "forward.err.consent"}
	}
	if len(errs) > 0 {
		h.renderForward(w, r, http.StatusUnprocessableEntity, partner, f, consent, func(p *forwardPage) {
			p.Errors = errs
			p.FormError = p.T("apply.errors", "n", len(errs))
		})
		return
	}
	allowed, wait, err := tenants.RateTake(r.Context(), h.Pool, h.applyRule, clientNetwork(h.clientAddr(r)).String())
	if err != nil {
		h.forwardFailed(w, r, partner, f, err)
		return
	}
	if !allowed {
		retryAfter(w, wait)
		h.renderForward(w, r, http.StatusTooManyRequests, partner, f, consent, func(p *forwardPage) {
			p.FormError = p.T("apply.ratelimited")
		})
		return
	}
	payload := tenants.ForwardPayload{AssociationName: f.AssociationName, LegalID: f.legalID, Slug: f.slug,
		ContactName: f.ContactName, ContactEmail: f.ContactEmail, Purpose: f.Purpose, Activities: f.Activities,
		ExpectedAccounts: f.accounts, Locale: langFrom(r.Context())}
	consentText := translate(langFrom(r.Context()), "forward.consent", "partner", partner.Name)
	_, err = tenants.QueueForward(r.Context(), h.Pool, tenants.NewForward{PartnerID: partner.ID, Payload: payload,
		FormKey: f.SubmissionKey, ConsentedText: consentText},
		func(ctx context.Context, tx pgx.Tx, fw tenants.Forward) error {
			_, err := h.Jobs.InsertTx(ctx, tx, jobs.ForwardApplicationArgs{ForwardID: fw.ID}, nil)
			return err
		})
	switch {
	case err == nil, errors.Is(err, tenants.ErrAlreadySubmitted):
		seeOther(w, r, "/apply/forward/"+strconv.FormatInt(partner.ID, 10)+"/sent")
	case errors.Is(err, tenants.ErrNoForwarding):
		// Turned off or full while the form was typed: nothing was recorded.
		h.notFound(w, r)
	default:
		h.forwardFailed(w, r, partner, f, err)
	}
}

// forwardFailed answers a forward that could not be recorded because of err: the form as typed
// and 503 when the database cannot serve now, the error page otherwise.
func (h *handler) forwardFailed(w http.ResponseWriter, r *http.Request, partner tenants.Partner, f applicationForm, err error) {
	if !unavailable(err) {
		h.serverError(w, r, err)
		return
	}
	h.Logger.WarnContext(r.Context(), "forward not recorded: database unavailable", "err", err)
	retryAfter(w, unavailableRetry)
	h.renderForward(w, r, http.StatusServiceUnavailable, partner, f, true, func(p *forwardPage) { p.FormError = p.T("apply.unavailable") })
}

// applyForwardSent is GET /apply/forward/{id}/sent: the application is on its way, and the
// partner will write. (It names the partner, whatever its state now.)
func (h *handler) applyForwardSent(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		h.notFound(w, r)
		return
	}
	partner, err := tenants.GetPartner(r.Context(), h.Pool, id)
	if errors.Is(err, tenants.ErrNotFound) {
		h.notFound(w, r)
		return
	}
	if err != nil {
		h.serverError(w, r, err)
		return
	}
	p := h.newPage(r)
	h.render(w, r, http.StatusOK, "message", messagePage{page: p, Title: p.T("forward.sent.title", "partner", partner.Name),
		Text: p.T("forward.sent.text", "partner", partner.Name)})
}
