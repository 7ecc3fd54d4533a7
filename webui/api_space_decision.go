package webui

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/assospaces/spaces/jobs"
	"github.com/assospaces/spaces/tenants"
)

// What the API's decisions about a space share (POST /api/v1/spaces/{slug}/resize, suspend,
// resume, delete, restore): finding the space, reading the body, the domain's refusals as
// structured errors, and the answer, the space as GET /api/v1/spaces/{slug} shows it.

// maxDecisionReason bounds a suspension's or deletion's reason, a text mailed to the association.
const maxDecisionReason = 2000

// apiDecisionReason checks the reason of a suspension or deletion, which the association is
// mailed: required, one text by the form's rules (tenants.NormalizeText), at most
// maxDecisionReason characters. It returns the reason as kept, or false when the answer is written.
func (h *handler) apiDecisionReason(w http.ResponseWriter, r *http.Request, reason, what string) (string, bool) {
	if strings.TrimSpace(reason) == "" {
		h.apiFail(w, r, http.StatusBadRequest, "reason_required", "reason",
			"a reason is required to "+what+" a space: the association is mailed it")
		return "", false
	}
	text, err := tenants.NormalizeText(reason, true)
	if err != nil {
		h.apiFail(w, r, http.StatusBadRequest, "invalid_reason", "reason",
			"the reason holds a character that cannot be mailed ("+err.Error()+")")
		return "", false
	}
	if n := utf8.RuneCountInString(text); n > maxDecisionReason {
		h.apiFail(w, r, http.StatusBadRequest, "invalid_reason", "reason",
			"the reason is "+strconv.Itoa(n)+" characters long; at most "+strconv.Itoa(maxDecisionReason))
		return "", false
	}
	return text, true
}

// apiSpaceDecided answers a decision about space s (as it was before) that returned err: the
// domain's refusals as 409 invalid_state or 422 below_usage with the domain's message, or the
// space as it is now with 200. what is the decision in words, for the log.
func (h *handler) apiSpaceDecided(w http.ResponseWriter, r *http.Request, s tenants.Space, what string, err error) {
	var stateErr *tenants.StateError
	var shrink *tenants.ShrinkError
	switch {
	case err == nil:
	case errors.As(err, &stateErr):
		h.apiFail(w, r, http.StatusConflict, "invalid_state", "", stateErr.Error())
		return
	case errors.Is(err, tenants.ErrGraceOver):
		msg := "space " + s.Slug + " cannot be restored: its grace period is over and its data is being purged"
		if s.DeleteAfter != nil {
			msg = "space " + s.Slug + " cannot be restored: its grace period ended on " +
				s.DeleteAfter.UTC().Format("2006-01-02 15:04 UTC") + " and its data is being purged"
		}
		h.apiFail(w, r, http.StatusConflict, "invalid_state", "", msg)
		return
	case errors.As(err, &shrink):
		h.apiFail(w, r, http.StatusUnprocessableEntity, "below_usage", shrink.Field, shrink.Error())
		return
	case errors.Is(err, jobs.ErrReasonRequired):
		h.apiFail(w, r, http.StatusBadRequest, "reason_required", "reason", jobs.ErrReasonRequired.Error())
		return
	case errors.Is(err, tenants.ErrInvalidTransition):
		// Another decision moved the space between our read and our lock.
		h.apiFail(w, r, http.StatusConflict, "invalid_state", "", "space "+s.Slug+" changed meanwhile and cannot be "+what+" now; see GET /api/v1/spaces/"+s.Slug)
		return
	default:
		h.apiInternal(w, r, err)
		return
	}
	h.Logger.InfoContext(r.Context(), "space "+what, "space", s.Slug, "actor", apiActor(r.Context()))
	v, err := h.spaceView(r, s.Slug)
	if err != nil {
		h.apiInternal(w, r, err)
		return
	}
	h.apiJSON(w, r, http.StatusOK, v)
}
