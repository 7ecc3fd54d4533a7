package webui

import "net/http"

// apiSpaceDelete is POST /api/v1/spaces/{slug}/delete with {"reason": "…"}: a soft deletion under
// the token. The space's job is stopped, its data kept until delete_after (the grace period), when
// the purge removes everything; until then POST …/restore brings it back. Its association is
// mailed the reason and the date (unless the space was still queued), and its place under the
// capacity ceiling goes to the next space waiting. Deleting and deleted spaces are refused
// (409 invalid_state).
func (h *handler) apiSpaceDelete(w http.ResponseWriter, r *http.Request) {
	s, ok := h.apiSpaceBySlug(w, r)
	if !ok {
		return
	}
	var body struct {
		Reason string `json:"reason"`
	}
	if !h.apiDecodeBody(w, r, &body, `{"reason": "…"}`) {
		return
	}
	reason, ok := h.apiDecisionReason(w, r, body.Reason, "delete")
	if !ok {
		return
	}
	_, err := h.decisions.Delete(r.Context(), s.ID, reason, apiActor(r.Context()))
	h.apiSpaceDecided(w, r, s, "deleted", err)
}
