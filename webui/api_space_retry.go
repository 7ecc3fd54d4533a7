package webui

import (
	"errors"
	"net/http"

	"github.com/assospaces/spaces/jobs"
	"github.com/assospaces/spaces/tenants"
)

// apiSpaceRetry is POST /api/v1/spaces/{slug}/retry: a failed space goes back to queued and its
// provisioning is enqueued, audited as the token's decision. Only failed spaces can be retried.
func (h *handler) apiSpaceRetry(w http.ResponseWriter, r *http.Request) {
	s, ok := h.apiSpaceBySlug(w, r)
	if !ok {
		return
	}
	slug := s.Slug
	if s.State != tenants.SpaceFailed {
		h.apiFail(w, r, http.StatusConflict, "invalid_state", "",
			"space "+slug+" is "+string(s.State)+"; only a failed space can be retried")
		return
	}
	if _, err := jobs.RetrySpace(r.Context(), h.Pool, h.Jobs, s.ID, apiActor(r.Context())); err != nil {
		if errors.Is(err, tenants.ErrInvalidTransition) {
			h.apiFail(w, r, http.StatusConflict, "invalid_state", "", "space "+slug+" is no longer failed; only a failed space can be retried")
			return
		}
		h.apiInternal(w, r, err)
		return
	}
	h.Logger.InfoContext(r.Context(), "space retry", "space", slug, "actor", apiActor(r.Context()))
	v, err := h.spaceView(r, slug)
	if err != nil {
		h.apiInternal(w, r, err)
		return
	}
	h.apiJSON(w, r, http.StatusAccepted, v)
}
