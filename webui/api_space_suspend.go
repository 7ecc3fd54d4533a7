package webui

import "net/http"

// apiSpaceSuspend is POST /api/v1/spaces/{slug}/suspend with {"reason": "…"}: an active space is
// suspended under the token (its people see Nextcloud's maintenance page, its data stays) and its
// association is mailed the reason. Only active spaces can be suspended (409 invalid_state).
func (h *handler) apiSpaceSuspend(w http.ResponseWriter, r *http.Request) {
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
	reason, ok := h.apiDecisionReason(w, r, body.Reason, "suspend")
	if !ok {
		return
	}
	_, err := h.decisions.Suspend(r.Context(), s.ID, reason, apiActor(r.Context()))
	h.apiSpaceDecided(w, r, s, "suspended", err)
}
