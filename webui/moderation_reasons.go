package webui

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/assospaces/spaces/tenants"
)

// reasonsPage is the data of the rejection reasons' page.
type reasonsPage struct {
	page
	Reasons []tenants.RejectionReason
	Edit    tenants.RejectionReason // the reason in the form: ID 0 for a new one
	Error   string
}

// reasons lists the rejection reasons, with the form for a new one or for the one asked with ?edit=.
func (h *handler) reasons(w http.ResponseWriter, r *http.Request) {
	p := reasonsPage{page: h.newPage(r)}
	if r.URL.Query().Get("done") == "reason" {
		p.Notice = p.T("done.reason")
	}
	if id, _ := strconv.ParseInt(r.URL.Query().Get("edit"), 10, 64); id > 0 {
		reason, err := tenants.GetRejectionReasonForEdit(r.Context(), h.Pool, id)
		if errors.Is(err, tenants.ErrNotFound) {
			h.notFound(w, r)
			return
		}
		if err != nil {
			h.serverError(w, r, err)
			return
		}
		p.Edit = reason
	}
	h.renderReasons(w, r, http.StatusOK, p)
}

func (h *handler) renderReasons(w http.ResponseWriter, r *http.Request, status int, p reasonsPage) {
	var err error
	if p.Reasons, err = tenants.ListRejectionReasons(r.Context(), h.Pool, true); err != nil {
		h.serverError(w, r, err)
		return
	}
	h.render(w, r, status, "reasons", p)
}

// reasonSave creates or updates a rejection reason.
func (h *handler) reasonSave(w http.ResponseWriter, r *http.Request) {
	m, _ := moderatorFrom(r.Context())
	id, _ := strconv.ParseInt(r.PostForm.Get("id"), 10, 64)
	pos, _ := strconv.Atoi(r.PostForm.Get("position"))
	reason := tenants.RejectionReason{ID: id, Title: r.PostForm.Get("title"), BodyFR: r.PostForm.Get("body_fr"),
		BodyEN: r.PostForm.Get("body_en"), Position: pos, Archived: r.PostForm.Get("archived") == "on"}
	if !cleanText(reason.Title, false) || !cleanText(reason.BodyFR, true) || !cleanText(reason.BodyEN, true) {
		p := reasonsPage{page: h.newPage(r), Edit: reason}
		p.Error = p.T("err.text")
		h.renderReasons(w, r, http.StatusUnprocessableEntity, p)
		return
	}
	_, err := tenants.SaveRejectionReason(r.Context(), h.Pool, reason, tenants.ModeratorActor(m.ID))
	switch {
	case errors.Is(err, tenants.ErrInvalidReason):
		p := reasonsPage{page: h.newPage(r), Edit: reason}
		p.Error = p.T("err.reason_fields")
		h.renderReasons(w, r, http.StatusUnprocessableEntity, p)
	case errors.Is(err, tenants.ErrNotFound):
		h.notFound(w, r)
	case err != nil:
		h.serverError(w, r, err)
	default:
		seeOther(w, r, "/moderation/reasons?done=reason")
	}
}
