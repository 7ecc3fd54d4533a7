package webui

import "net/http"

// spaceResume is POST /moderation/spaces/{slug}/resume (operators): a suspended space is active
// again, and the association is mailed.
func (h *handler) spaceResume(w http.ResponseWriter, r *http.Request) {
	s, ok := h.spaceToDecide(w, r)
	if !ok {
		return
	}
	if _, err := h.decisions.Resume(r.Context(), s.ID, moderatorActor(r)); err != nil {
		h.spaceDecisionFailed(w, r, err, nil)
		return
	}
	h.Logger.InfoContext(r.Context(), "space resumed", "space_id", s.ID, "actor", moderatorActor(r))
	spaceDecided(w, r, s.Slug, "resume")
}
