package webui

import (
	"net/http"
	"strconv"

	"github.com/assospaces/spaces/tenants"
)

// release gives up the moderator's claim on an application.
func (h *handler) release(w http.ResponseWriter, r *http.Request) {
	id, ok := h.applicationID(w, r)
	if !ok {
		return
	}
	m, _ := moderatorFrom(r.Context())
	if err := tenants.ReleaseClaim(r.Context(), h.Pool, id, m.ID); err != nil {
		h.serverError(w, r, err)
		return
	}
	seeOther(w, r, "/moderation/applications/"+strconv.FormatInt(id, 10)+"?done=release")
}
