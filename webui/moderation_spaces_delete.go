package webui

import (
	"net/http"

	"github.com/assospaces/spaces/tenants"
)

// spaceDelete is POST /moderation/spaces/{slug}/delete (operators): the space is deleted softly
// for a reason. It stops at once; its data is kept for the grace period, during which it can be
// restored, then purged. The association is mailed the reason and the date, unless the space was
// never prepared.
func (h *handler) spaceDelete(w http.ResponseWriter, r *http.Request) {
	s, ok := h.spaceToDecide(w, r)
	if !ok {
		return
	}
	typed := r.PostForm.Get("reason")
	keep := func(p *spacePage) { p.DeleteReason, p.DeleteOpen = typed, true }
	reason, problem, args := readReason(r)
	if problem != "" {
		h.refuseSpaceInput(w, r, "delete-reason", problem, args, keep)
		return
	}
	if _, err := h.decisions.Delete(r.Context(), s.ID, reason, moderatorActor(r)); err != nil {
		h.spaceDecisionFailed(w, r, err, keep)
		return
	}
	h.Logger.InfoContext(r.Context(), "space deleted", "space_id", s.ID, "actor", moderatorActor(r))
	done := "delete"
	if s.State == tenants.SpaceQueued {
		done = "delete_quiet" // never prepared: the association is not mailed
	}
	spaceDecided(w, r, s.Slug, done)
}
