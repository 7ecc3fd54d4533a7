package webui

import (
	"errors"
	"net/http"

	"github.com/assospaces/spaces/tenants"
)

// apiIntakeShow is GET /api/v1/intake: whether the form takes applications (closed, and why:
// closed_by paused or waiting_list), the operators' message in each language, the waiting list's
// length and the threshold that closes the form (0: none), and who changed it last and when.
func (h *handler) apiIntakeShow(w http.ResponseWriter, r *http.Request) {
	st, err := tenants.GetIntake(r.Context(), h.Pool)
	if err != nil {
		h.apiInternal(w, r, err)
		return
	}
	h.apiJSON(w, r, http.StatusOK, st)
}

// apiIntakeBody is what POST /api/v1/intake changes; absent fields stay as they are.
const apiIntakeBody = `{"paused": true|false, "message_fr": "…", "message_en": "…", "waiting_list_threshold": N}, each field optional`

// apiIntakeUpdate is POST /api/v1/intake: pause or resume the form, set the message applicants
// see (message_fr alone is shown in both languages), or the waiting list threshold; audited under
// the token. It answers what GET answers. Errors: 400 invalid_body, nothing_to_change and
// invalid_value (with field).
func (h *handler) apiIntakeUpdate(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Paused               *bool   `json:"paused"`
		MessageFR            *string `json:"message_fr"`
		MessageEN            *string `json:"message_en"`
		WaitingListThreshold *int    `json:"waiting_list_threshold"`
	}
	if !h.apiDecodeBody(w, r, &body, apiIntakeBody) {
		return
	}
	st, err := tenants.UpdateIntake(r.Context(), h.Pool, tenants.IntakeChange{Paused: body.Paused, MessageFR: body.MessageFR,
		MessageEN: body.MessageEN, WaitingListThreshold: body.WaitingListThreshold}, apiActor(r.Context()))
	var inv *tenants.InvalidField
	switch {
	case errors.Is(err, tenants.ErrNothingToChange):
		h.apiFail(w, r, http.StatusBadRequest, "nothing_to_change", "", "nothing to change; the body is "+apiIntakeBody)
	case errors.As(err, &inv):
		h.apiFail(w, r, http.StatusBadRequest, "invalid_value", inv.Field, inv.Error())
	case err != nil:
		h.apiInternal(w, r, err)
	default:
		h.apiJSON(w, r, http.StatusOK, st)
	}
}
