package webui

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/assospaces/spaces/tenants"
)

// apiForwardList is GET /api/v1/forwards: the applications forwarded to partner hosts, the most
// recent first, each with its partner, association, state (queued, delivered, refused, failed),
// the partner's answer and its times; never what the applicant typed. Parameters: partner (an
// id), state, limit (1 to 500, 50 by default).
func (h *handler) apiForwardList(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var f tenants.ForwardFilter
	if v := q.Get("partner"); v != "" {
		id, err := strconv.ParseInt(v, 10, 64)
		if err != nil || id <= 0 {
			h.apiFail(w, r, http.StatusBadRequest, "invalid_parameter", "partner", "partner must be a partner host's id (a whole number; spaces partner list)")
			return
		}
		f.PartnerID = id
	}
	if v := q.Get("state"); v != "" {
		f.State = tenants.ForwardState(v)
		if !f.State.Valid() {
			names := make([]string, len(tenants.ForwardStates))
			for i, s := range tenants.ForwardStates {
				names[i] = string(s)
			}
			h.apiFail(w, r, http.StatusBadRequest, "invalid_parameter", "state", "state must be one of "+strings.Join(names, ", "))
			return
		}
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 500 {
			h.apiFail(w, r, http.StatusBadRequest, "invalid_parameter", "limit", "limit must be a whole number from 1 to 500")
			return
		}
		f.Limit = n
	}
	fs, err := tenants.ListForwards(r.Context(), h.Pool, f)
	if err != nil {
		h.apiInternal(w, r, err)
		return
	}
	h.apiJSON(w, r, http.StatusOK, map[string]any{"forwards": fs})
}
