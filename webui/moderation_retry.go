package webui

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/assospaces/spaces/jobs"
	"github.com/assospaces/spaces/tenants"
)

// retrySpace is POST /moderation/applications/{id}/retry: the failed space of an approved
// application goes back to queued and its provisioning is enqueued, in one transaction audited
// as the moderator's decision (the same jobs.RetrySpace as the operators' API). Only a failed
// space can be retried; any other state re-renders the page with why.
func (h *handler) retrySpace(w http.ResponseWriter, r *http.Request) {
	id, ok := h.applicationID(w, r)
	if !ok {
		return
	}
	a, err := tenants.GetApplication(r.Context(), h.Pool, id)
	if errors.Is(err, tenants.ErrNotFound) || (err == nil && a.SpaceID == 0) {
		h.notFound(w, r)
		return
	}
	if err != nil {
		h.serverError(w, r, err)
		return
	}
	m, _ := moderatorFrom(r.Context())
	_, err = jobs.RetrySpace(r.Context(), h.Pool, h.Jobs, a.SpaceID, tenants.ModeratorActor(m.ID))
	if errors.Is(err, tenants.ErrInvalidTransition) {
		h.renderDetail(w, r, http.StatusConflict, id, func(p *detailPage) {
			state := "?"
			if p.Space != nil {
				state = p.T("space.state." + string(p.Space.State))
			}
			p.Error = p.T("err.space_not_failed", "state", state)
		})
		return
	}
	if err != nil {
		h.serverError(w, r, err)
		return
	}
	h.Logger.InfoContext(r.Context(), "space retry", "space_id", a.SpaceID, "actor", tenants.ModeratorActor(m.ID))
	seeOther(w, r, "/moderation/applications/"+strconv.FormatInt(id, 10)+"?done=retry")
}
