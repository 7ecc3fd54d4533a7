package webui

import (
	"errors"
	"net/http"

	"github.com/assospaces/spaces/tenants"
)

// statusWithdraw lets the applicant take back an open application.
func (h *handler) statusWithdraw(w http.ResponseWriter, r *http.Request) {
	a, token, ok := h.loadStatus(w, r)
	if !ok {
		return
	}
	_, err := tenants.WithdrawApplication(r.Context(), h.Pool, a.ID, nil)
	switch {
	case err == nil:
		seeOther(w, r, "/status/"+token+"?done=withdraw")
	case errors.Is(err, tenants.ErrInvalidApplicationTransition):
		seeOther(w, r, "/status/"+token+"?done=moved")
	default:
		h.serverError(w, r, err)
	}
}
