package webui

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/assospaces/spaces/tenants"
)

// intakePage is the data of the intake page: whether the form takes applications, why not, the
// message applicants see, the waiting list threshold, and the partner hosts.
type intakePage struct {
	page
	Intake   tenants.IntakeStatus
	Operator bool // may change things (the forms are shown)
	// Typed values of the intake forms, shown again with a refusal.
	MessageFR, MessageEN, Threshold string
	Partners                        []tenants.Partner
	Forwards                        []tenants.Forward // the most recent applications forwarded to partners
	Edit                            tenants.Partner   // the partner in the form: ID 0 for a new one
	Errors                          map[string]string
	FormError                       string
}

// Who names whoever changed the intake last: a token's or a moderator's name, else the actor.
func (p intakePage) Who() string {
	if p.Intake.UpdatedByName != "" {
		return p.Intake.UpdatedByName
	}
	return string(p.Intake.UpdatedBy)
}

// intakeShow is GET /moderation/intake.
func (h *handler) intakeShow(w http.ResponseWriter, r *http.Request) {
	p := intakePage{page: h.newPage(r), Errors: map[string]string{}, Edit: tenants.Partner{Open: true}}
	switch done := r.URL.Query().Get("done"); done {
	case "pause", "message", "resume", "threshold":
		p.Notice = p.T("intake.done." + done)
	case "partner":
		p.Notice = p.T("partners.done.save")
	case "removed":
		p.Notice = p.T("partners.done.remove", "name", r.URL.Query().Get("name"))
	}
	if id, _ := strconv.ParseInt(r.URL.Query().Get("edit"), 10, 64); id > 0 {
		partner, err := tenants.GetPartner(r.Context(), h.Pool, id)
		if errors.Is(err, tenants.ErrNotFound) {
			h.notFound(w, r)
			return
		}
		if err != nil {
			h.serverError(w, r, err)
			return
		}
		p.Edit = partner
	}
	h.renderIntake(w, r, http.StatusOK, p)
}

// renderIntake reads the intake and the partners and renders the page; typed values already in
// p are kept.
func (h *handler) renderIntake(w http.ResponseWriter, r *http.Request, status int, p intakePage) {
	var err error
	if p.Intake, err = tenants.GetIntake(r.Context(), h.Pool); err != nil {
		h.serverError(w, r, err)
		return
	}
	if p.Partners, err = tenants.ListPartners(r.Context(), h.Pool, false); err != nil {
		h.serverError(w, r, err)
		return
	}
	if p.Forwards, err = tenants.ListForwards(r.Context(), h.Pool, tenants.ForwardFilter{Limit: 20}); err != nil {
		h.serverError(w, r, err)
		return
	}
	if p.Errors["message_fr"] == "" && p.Errors["message_en"] == "" {
		p.MessageFR, p.MessageEN = p.Intake.MessageFR, p.Intake.MessageEN
	}
	if p.Errors["waiting_list_threshold"] == "" {
		p.Threshold = strconv.Itoa(p.Intake.WaitingListThreshold)
	}
	p.Operator = p.Moderator != nil && p.Moderator.CanOperate()
	h.render(w, r, status, "intake", p)
}

// fieldMessage words a refused field in the page's language.
func (p page) fieldMessage(inv *tenants.InvalidField) string {
	switch inv.Code {
	case "required":
		return p.T("err.required")
	case "too_long":
		return p.T("err.too_long", "max", inv.Max)
	case "range":
		return p.T("intake.err.range", "max", p.Num(inv.Max))
	case "url":
		return p.T("partners.err.url")
	case tenants.RuleTextInvisible:
		return p.T("text.invisible", "detail", inv.Detail)
	}
	return p.T("err.text")
}

// intakeSave is POST /moderation/intake (operators): action pause, message, resume or threshold.
func (h *handler) intakeSave(w http.ResponseWriter, r *http.Request) {
	m, _ := moderatorFrom(r.Context())
	actor := tenants.ModeratorActor(m.ID)
	action := r.PostForm.Get("action")
	p := intakePage{page: h.newPage(r), Errors: map[string]string{}, Edit: tenants.Partner{Open: true},
		MessageFR: r.PostForm.Get("message_fr"), MessageEN: r.PostForm.Get("message_en"),
		Threshold: strings.TrimSpace(r.PostForm.Get("waiting_list_threshold"))}
	var err error
	switch action {
	case "pause":
		_, err = tenants.PauseIntake(r.Context(), h.Pool, p.MessageFR, p.MessageEN, actor)
	case "message":
		_, err = tenants.UpdateIntake(r.Context(), h.Pool, tenants.IntakeChange{MessageFR: &p.MessageFR, MessageEN: &p.MessageEN}, actor)
	case "resume":
		_, err = tenants.ResumeIntake(r.Context(), h.Pool, actor)
	case "threshold":
		n, convErr := strconv.Atoi(p.Threshold)
		if convErr != nil {
			err = &tenants.InvalidField{Field: "waiting_list_threshold", Code: "range", Max: tenants.MaxWaitingListThreshold}
			break
		}
		_, err = tenants.SetWaitingListThreshold(r.Context(), h.Pool, n, actor)
	default:
		h.showError(w, r, http.StatusBadRequest, "error.title", p.T("intake.err.action"))
		return
	}
	var inv *tenants.InvalidField
	switch {
	case errors.As(err, &inv):
		p.Errors[inv.Field] = p.fieldMessage(inv)
		p.FormError = p.T("intake.err.form")
		h.renderIntake(w, r, http.StatusUnprocessableEntity, p)
	case err != nil:
		h.serverError(w, r, err)
	default:
		seeOther(w, r, "/moderation/intake?done="+action)
	}
}

// partnerSave is POST /moderation/intake/partners (operators): a new partner host (id 0) or
// changes to one.
func (h *handler) partnerSave(w http.ResponseWriter, r *http.Request) {
	m, _ := moderatorFrom(r.Context())
	actor := tenants.ModeratorActor(m.ID)
	id, _ := strconv.ParseInt(r.PostForm.Get("id"), 10, 64)
	edit := tenants.Partner{ID: id, Name: r.PostForm.Get("name"), URL: r.PostForm.Get("url"),
		OfferFR: r.PostForm.Get("offer_fr"), OfferEN: r.PostForm.Get("offer_en"), Open: r.PostForm.Get("open") == "on"}
	var err error
	if id == 0 {
		_, err = tenants.AddPartner(r.Context(), h.Pool, edit, actor)
	} else {
		_, err = tenants.UpdatePartner(r.Context(), h.Pool, id, tenants.PartnerChange{Name: &edit.Name, URL: &edit.URL,
			OfferFR: &edit.OfferFR, OfferEN: &edit.OfferEN, Open: &edit.Open}, actor)
	}
	p := intakePage{page: h.newPage(r), Errors: map[string]string{}, Edit: edit}
	var inv *tenants.InvalidField
	switch {
	case errors.As(err, &inv):
		p.Errors["partner_"+inv.Field] = p.fieldMessage(inv)
		p.FormError = p.T("intake.err.form")
		h.renderIntake(w, r, http.StatusUnprocessableEntity, p)
	case errors.Is(err, tenants.ErrPartnerNameTaken):
		p.Errors["partner_name"] = p.T("partners.err.name_taken")
		p.FormError = p.T("intake.err.form")
		h.renderIntake(w, r, http.StatusUnprocessableEntity, p)
	case errors.Is(err, tenants.ErrNotFound):
		h.notFound(w, r)
	case err != nil:
		h.serverError(w, r, err)
	default:
		seeOther(w, r, "/moderation/intake?done=partner#partners")
	}
}

// partnerRemove is POST /moderation/intake/partners/{id}/remove (operators).
func (h *handler) partnerRemove(w http.ResponseWriter, r *http.Request) {
	m, _ := moderatorFrom(r.Context())
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		h.notFound(w, r)
		return
	}
	removed, err := tenants.RemovePartner(r.Context(), h.Pool, id, tenants.ModeratorActor(m.ID))
	switch {
	case errors.Is(err, tenants.ErrNotFound):
		h.notFound(w, r)
	case err != nil:
		h.serverError(w, r, err)
	default:
		seeOther(w, r, "/moderation/intake?done=removed&name="+url.QueryEscape(removed.Name)+"#partners")
	}
}

// requireIntakeOperator is requireModerator for the intake's forms, letting through operators
// only: a plain moderator gets 403 and the intake page saying that operators do this, and nothing
// changes. (requireOperator's refusal is the space's page, which this path does not name.)
func (h *handler) requireIntakeOperator(next http.HandlerFunc) http.HandlerFunc {
	return h.requireModerator(func(w http.ResponseWriter, r *http.Request) {
		if m, _ := moderatorFrom(r.Context()); !m.CanOperate() {
			h.Logger.InfoContext(r.Context(), "refused an intake change to a moderator who is not an operator",
				"moderator_id", m.ID, "path", r.URL.Path)
			p := intakePage{page: h.newPage(r), Errors: map[string]string{}, Edit: tenants.Partner{Open: true}}
			p.FormError = p.T("intake.err.operators_only")
			h.renderIntake(w, r, http.StatusForbidden, p)
			return
		}
		next(w, r)
	})
}
