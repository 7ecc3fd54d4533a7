package webui

import (
	"errors"
	"net/http"
	"strings"

	"github.com/assospaces/spaces/tenants"
)

// statusReply records the applicant's answer to a request for information.
func (h *handler) statusReply(w http.ResponseWriter, r *http.Request) {
	a, token, ok := h.loadStatus(w, r)
	if !ok {
		return
	}
	body := strings.TrimSpace(strings.ReplaceAll(r.PostForm.Get("reply"), "\r\n", "\n"))
	// The same text rules as the form's: NFC, no control or invisible characters.
	normalized, textErr := tenants.NormalizeText(body, true)
	var problem string
	switch {
	case body == "":
		problem = "err.reply_required"
	case textErr != nil:
		problem = "err.text"
	case len([]rune(normalized)) > tenants.MaxMessageLength:
		problem = "err.too_long"
	}
	if problem != "" {
		h.renderStatus(w, r, http.StatusUnprocessableEntity, a, token, func(p *statusPage) {
			p.Reply = body
			p.ReplyError = p.T(problem, "max", tenants.MaxMessageLength)
		})
		return
	}
	_, err := tenants.ReplyToApplication(r.Context(), h.Pool, a.ID, normalized, nil)
	switch {
	case err == nil:
		seeOther(w, r, "/status/"+token+"?done=reply")
	case errors.Is(err, tenants.ErrInvalidApplicationTransition):
		seeOther(w, r, "/status/"+token+"?done=moved")
	default:
		h.serverError(w, r, err)
	}
}
