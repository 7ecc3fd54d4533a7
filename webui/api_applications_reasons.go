package webui

import (
	"net/http"

	"github.com/assospaces/spaces/tenants"
)

// apiRejectionReason is a saved rejection reason: what a rejection names, and the texts the
// applicant is sent in each language.
type apiRejectionReason struct {
	ID     int64  `json:"id"`
	Title  string `json:"title"`
	TextFR string `json:"text_fr"`
	TextEN string `json:"text_en"`
}

// apiRejectionReasons is GET /api/v1/rejection-reasons: the reasons a rejection may name, in the
// order the moderators' form lists them (archived ones left out).
func (h *handler) apiRejectionReasons(w http.ResponseWriter, r *http.Request) {
	reasons, err := tenants.ListRejectionReasons(r.Context(), h.Pool, false)
	if err != nil {
		h.apiInternal(w, r, err)
		return
	}
	out := make([]apiRejectionReason, len(reasons))
	for i, rr := range reasons {
		out[i] = apiRejectionReason{ID: rr.ID, Title: rr.Title, TextFR: rr.BodyFR, TextEN: rr.BodyEN}
	}
	h.apiJSON(w, r, http.StatusOK, map[string]any{"reasons": out})
}
