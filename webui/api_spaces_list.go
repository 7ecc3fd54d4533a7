package webui

import (
	"net/http"
	"strconv"

	"github.com/assospaces/spaces/tenants"
)

// apiSpaceList is GET /api/v1/spaces: spaces by ascending id with their usage, filtered by
// ?state= and ?level= (each repeatable; level near: storage at a warning level or accounts at
// 80 % of the limit; over: storage full or more accounts than the limit; see tenants.QuotaLevel),
// paged with ?after=<last id> and ?limit= (at most 1000). next_after is 0 on the last page.
func (h *handler) apiSpaceList(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var f tenants.SpaceFilter
	for _, s := range q["state"] {
		st := tenants.SpaceState(s)
		if !st.Valid() {
			h.apiFail(w, r, http.StatusBadRequest, "invalid_parameter", "state",
				"unknown state "+strconv.Quote(s)+"; states are queued, provisioning, active, suspended, deleting, deleted, failed")
			return
		}
		f.States = append(f.States, st)
	}
	for _, l := range q["level"] {
		level := tenants.QuotaLevel(l)
		if !level.Valid() {
			h.apiFail(w, r, http.StatusBadRequest, "invalid_parameter", "level",
				"unknown level "+strconv.Quote(l)+"; levels are near (storage past 80 % or accounts at 80 % of the limit) and over (storage full or accounts over the limit)")
			return
		}
		f.QuotaLevels = append(f.QuotaLevels, level)
	}
	if v := q.Get("after"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			h.apiFail(w, r, http.StatusBadRequest, "invalid_parameter", "after", "after must be a space id (a whole number)")
			return
		}
		f.AfterID = n
	}
	f.Limit = 100
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			h.apiFail(w, r, http.StatusBadRequest, "invalid_parameter", "limit", "limit must be a whole number from 1 to 1000")
			return
		}
		f.Limit = n
	}
	spaces, err := tenants.ListSpaces(r.Context(), h.Pool, f)
	if err != nil {
		h.apiInternal(w, r, err)
		return
	}
	ids := make([]int64, len(spaces))
	for i, s := range spaces {
		ids[i] = s.ID
	}
	usage, err := tenants.UsageOf(r.Context(), h.Pool, ids)
	if err != nil {
		h.apiInternal(w, r, err)
		return
	}
	items := make([]apiSpaceItem, len(spaces))
	for i, s := range spaces {
		items[i].Space = s
		if u, ok := usage[s.ID]; ok && (u.Collected() || u.Stale()) {
			items[i].Usage = &u
		}
	}
	next := int64(0)
	if len(spaces) == f.Limit {
		next = spaces[len(spaces)-1].ID
	}
	h.apiJSON(w, r, http.StatusOK, map[string]any{"spaces": items, "next_after": next})
}

// apiSpaceItem is a space in the list: the space's own fields and its last measured usage
// (null when never measured).
type apiSpaceItem struct {
	tenants.Space
	Usage *tenants.Usage `json:"usage"`
}
