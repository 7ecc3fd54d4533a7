package webui

import (
	"net/http"
	"time"

	"github.com/assospaces/spaces/tenants"
)

// logout ends the moderator's session, on the server and in the browser.
func (h *handler) logout(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(h.sessionCookieName()); err == nil {
		if err := tenants.DeleteSession(r.Context(), h.Pool, c.Value); err != nil {
			h.serverError(w, r, err)
			return
		}
	}
	h.setSessionCookie(w, "", time.Time{})
	seeOther(w, r, "/moderation/login")
}
