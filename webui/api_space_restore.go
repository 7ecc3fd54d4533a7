package webui

import "net/http"

// apiSpaceRestore is POST /api/v1/spaces/{slug}/restore (no body, or {}): a deleting space goes
// back to the state it had (restore_state) under the token, before its grace period ends; its
// association is mailed unless it goes back to the queue. Only deleting spaces can be restored,
// and not once their grace period is over (409 invalid_state).
func (h *handler) apiSpaceRestore(w http.ResponseWriter, r *http.Request) {
	s, ok := h.apiSpaceBySlug(w, r)
	if !ok {
		return
	}
	if !h.apiDecodeBody(w, r, &struct{}{}, "empty, or {}") {
		return
	}
	_, err := h.decisions.Restore(r.Context(), s.ID, apiActor(r.Context()))
	h.apiSpaceDecided(w, r, s, "restored", err)
}
