package webui

import "net/http"

// apiSpaceResume is POST /api/v1/spaces/{slug}/resume (no body, or {}): a suspended space is
// active again under the token, and its association is mailed. Only suspended spaces can be
// resumed (409 invalid_state).
func (h *handler) apiSpaceResume(w http.ResponseWriter, r *http.Request) {
	s, ok := h.apiSpaceBySlug(w, r)
	if !ok {
		return
	}
	if !h.apiDecodeBody(w, r, &struct{}{}, "empty, or {}") {
		return
	}
	_, err := h.decisions.Resume(r.Context(), s.ID, apiActor(r.Context()))
	h.apiSpaceDecided(w, r, s, "resumed", err)
}
