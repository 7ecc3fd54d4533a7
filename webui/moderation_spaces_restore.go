package webui

import (
	"net/http"

	"github.com/assospaces/spaces/tenants"
)

// spaceRestore is POST /moderation/spaces/{slug}/restore (operators): a deleting space, before
// the end of its grace period, goes back to the state it had; the association is mailed, unless
// it goes back to the queue.
func (h *handler) spaceRestore(w http.ResponseWriter, r *http.Request) {
	s, ok := h.spaceToDecide(w, r)
	if !ok {
		return
	}
	after, err := h.decisions.Restore(r.Context(), s.ID, moderatorActor(r))
	if err != nil {
		h.spaceDecisionFailed(w, r, err, nil)
		return
	}
	h.Logger.InfoContext(r.Context(), "space restored", "space_id", s.ID, "actor", moderatorActor(r), "state", after.State)
	done := "restore"
	if after.State == tenants.SpaceQueued {
		done = "restore_queued"
	}
	spaceDecided(w, r, s.Slug, done)
}
