package webui

import (
	"net/http"

	"github.com/assospaces/spaces/tenants"
)

// apiDashboard is GET /api/v1/dashboard: the totals of the moderators' dashboard
// (tenants.DashboardTotals).
func (h *handler) apiDashboard(w http.ResponseWriter, r *http.Request) {
	d, err := tenants.Dashboard(r.Context(), h.Pool)
	if err != nil {
		h.apiInternal(w, r, err)
		return
	}
	h.apiJSON(w, r, http.StatusOK, d)
}
