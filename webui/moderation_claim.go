package webui

import (
	"net/http"
	"strconv"

	"github.com/assospaces/spaces/tenants"
)

// claim marks an application as worked on by the moderator for tenants.ClaimDuration.
func (h *handler) claim(w http.ResponseWriter, r *http.Request) {
	id, ok := h.applicationID(w, r)
	if !ok {
		return
	}
	m, _ := moderatorFrom(r.Context())
	if _, err := tenants.ClaimApplication(r.Context(), h.Pool, id, m.ID); err != nil {
		h.decisionFailed(w, r, id, err, nil)
		return
	}
	seeOther(w, r, "/moderation/applications/"+strconv.FormatInt(id, 10)+"?done=claim")
}
