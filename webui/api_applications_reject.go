package webui

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/assospaces/spaces/tenants"
)

// apiApplicationReject is POST /api/v1/applications/{id}/reject with {"reason": "…", "note":
// "…"}: what the moderators' Reject form does, as the token. reason is a saved rejection reason
// (the templates moderators edit at /moderation/reasons) by its title, in any case, or its id;
// note is optional text added after it. The reason's text in the applicant's language, then the
// note, is kept as the decision and mailed.
func (h *handler) apiApplicationReject(w http.ResponseWriter, r *http.Request) {
	a, ok := h.apiGetApplication(w, r)
	if !ok {
		return
	}
	var body struct {
		Reason string `json:"reason"`
		Note   string `json:"note"`
	}
	if !h.apiDecodeBody(w, r, &body, `{"reason": "a saved reason's title or id", "note": "…"}`) {
		return
	}
	if strings.TrimSpace(body.Reason) == "" {
		h.apiFail(w, r, http.StatusBadRequest, "missing_field", "reason",
			"reason is required: the title or id of a saved rejection reason (GET /api/v1/rejection-reasons)")
		return
	}
	note, status, apiErr := apiMessageText("note", body.Note, false)
	if status != 0 {
		h.apiFail(w, r, status, apiErr.Code, apiErr.Field, apiErr.Message)
		return
	}
	reasons, err := tenants.ListRejectionReasons(r.Context(), h.Pool, false)
	if err != nil {
		h.apiInternal(w, r, err)
		return
	}
	reason, found := findRejectionReason(reasons, body.Reason)
	if !found {
		h.apiUnknownReason(w, r, body.Reason, reasons)
		return
	}
	actor := apiActor(r.Context())
	_, err = tenants.RejectApplication(r.Context(), h.Pool, a.ID, tenants.Rejection{Decider: tenants.Decider{Actor: actor},
		ReasonID: reason.ID, Note: note, Then: func(ctx context.Context, tx pgx.Tx, a tenants.Application) error {
			return h.enqueueMail(ctx, tx, a, "rejected", map[string]string{"Reason": a.DecisionReason}, nil)
		}})
	if errors.Is(err, tenants.ErrNotFound) {
		// The application exists (read above): the reason was archived meanwhile.
		h.apiUnknownReason(w, r, body.Reason, nil)
		return
	}
	if err != nil {
		h.apiDecisionFailed(w, r, a, tenants.AppRejected, "rejected", err)
		return
	}
	h.Logger.InfoContext(r.Context(), "application rejected", "application", a.ID, "reason", reason.Title, "actor", actor)
	h.apiDecided(w, r, a.ID, http.StatusOK)
}

// findRejectionReason picks the reason named by its title (in any case) or its id.
func findRejectionReason(reasons []tenants.RejectionReason, name string) (tenants.RejectionReason, bool) {
	name = strings.TrimSpace(name)
	for _, rr := range reasons {
		if strings.EqualFold(rr.Title, name) {
			return rr, true
		}
	}
	if id, err := strconv.ParseInt(strings.TrimPrefix(name, "#"), 10, 64); err == nil {
		for _, rr := range reasons {
			if rr.ID == id {
				return rr, true
			}
		}
	}
	return tenants.RejectionReason{}, false
}

// apiUnknownReason answers a reason that names no saved reason, listing those that exist.
func (h *handler) apiUnknownReason(w http.ResponseWriter, r *http.Request, name string, reasons []tenants.RejectionReason) {
	msg := "no saved rejection reason " + strconv.Quote(name)
	if len(reasons) > 0 {
		titles := make([]string, len(reasons))
		for i, rr := range reasons {
			titles[i] = strconv.Quote(rr.Title)
		}
		msg += "; the reasons are " + strings.Join(titles, ", ")
	} else {
		msg += " (it may have been archived meanwhile); see GET /api/v1/rejection-reasons"
	}
	h.apiFail(w, r, http.StatusUnprocessableEntity, "unknown_reason", "reason", msg)
}
