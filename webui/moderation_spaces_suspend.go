package webui

import "net/http"

// spaceSuspend is POST /moderation/spaces/{slug}/suspend (operators): an active space is
// suspended for a reason, which the association is mailed; its data stays.
func (h *handler) spaceSuspend(w http.ResponseWriter, r *http.Request) {
	s, ok := h.spaceToDecide(w, r)
	if !ok {
		return
	}
	typed := r.PostForm.Get("reason")
	keep := func(p *spacePage) { p.SuspendReason = typed }
	reason, problem, args := readReason(r)
	if problem != "" {
		h.refuseSpaceInput(w, r, "suspend-reason", problem, args, keep)
		return
	}
	if _, err := h.decisions.Suspend(r.Context(), s.ID, reason, moderatorActor(r)); err != nil {
		h.spaceDecisionFailed(w, r, err, keep)
		return
	}
	h.Logger.InfoContext(r.Context(), "space suspended", "space_id", s.ID, "actor", moderatorActor(r))
	spaceDecided(w, r, s.Slug, "suspend")
}
