package webui

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/assospaces/spaces/quota"
	"github.com/assospaces/spaces/tenants"
)

// spacesPerPage is how many spaces the spaces page lists at a time.
const spacesPerPage = 50

// Usage filters of the spaces page.
const (
	usageNear = string(tenants.QuotaNear) // storage at 80 % or more, or accounts at 80 % of the limit
	usageOver = string(tenants.QuotaOver) // storage full, or more enabled accounts than allowed
)

// spacesFilter is what the spaces page was asked for.
type spacesFilter struct {
	State string // a space state, or "all" for every state but deleted
	Usage string // "", usageNear or usageOver
	Query string // searched in association names and slugs
	After int64  // keyset pagination: spaces with a larger id
}

// values are the filter's query parameters, without the page.
func (f spacesFilter) values() url.Values {
	q := url.Values{}
	q.Set("state", f.State)
	if f.Usage != "" {
		q.Set("usage", f.Usage)
	}
	if f.Query != "" {
		q.Set("q", f.Query)
	}
	return q
}

// spacesPage is the data of the moderators' spaces page.
type spacesPage struct {
	page
	Filter  spacesFilter
	States  []stateCount // every state, with how many spaces are in it
	Total   int          // spaces that are not deleted
	Rows    []spaceRow
	NextURL string
	Paged   bool
}

// StateURL is the spaces page's address for one state, keeping the other filters.
func (p spacesPage) StateURL(state string) string {
	f := p.Filter
	f.State = state
	return "/moderation/spaces?" + f.values().Encode()
}

// spaceRow is one space as the spaces page lists it.
type spaceRow struct {
	Slug, Name        string
	State, StateLabel string
	Since             string
	Usage             *usageView // nil for a space never measured
	UsageNote         string     // why there are no figures, or since when they are old
}

// spacesList is GET /moderation/spaces: every space with its state and usage, filtered by state,
// by how near its limits it is and by a search on the association's name and the address, by
// ascending id with keyset pagination. Everyone who moderates sees it; operators act from each
// space's page.
func (h *handler) spacesList(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	q := r.URL.Query()
	f := spacesFilter{State: q.Get("state"), Usage: q.Get("usage"), Query: strings.TrimSpace(q.Get("q"))}
	if !tenants.SpaceState(f.State).Valid() {
		f.State = "all"
	}
	if f.Usage != usageNear && f.Usage != usageOver {
		f.Usage = ""
	}
	if len(f.Query) > 200 {
		f.Query = f.Query[:200]
	}
	f.After, _ = strconv.ParseInt(q.Get("after"), 10, 64)

	d, err := tenants.Dashboard(ctx, h.Pool)
	if err != nil {
		h.serverError(w, r, err)
		return
	}
	p := spacesPage{page: h.newPage(r), Filter: f, Total: d.Spaces(), Paged: f.After > 0}
	for _, s := range tenants.SpaceStates {
		p.States = append(p.States, stateCount{State: string(s), Label: p.T("space.state." + string(s)), Count: d.SpacesByState[s]})
	}
	spaces, usage, next, err := h.findSpaces(ctx, f)
	if err != nil {
		h.serverError(w, r, err)
		return
	}
	for _, s := range spaces {
		row := spaceRow{Slug: s.Slug, Name: s.AssociationName, State: string(s.State),
			StateLabel: p.T("space.state." + string(s.State)), Since: p.Date(s.StateChangedAt)}
		switch u, ok := usage[s.ID]; {
		case ok && u.Collected():
			v := p.newUsageView(s, levelAtLimit(s, u))
			row.Usage = &v
			if u.Stale() {
				row.UsageNote = p.T("spaces.usage.stale", "since", p.Date(u.StaleSince))
			}
		case s.State == tenants.SpaceActive:
			row.UsageNote = p.T("spaces.usage.none")
		}
		p.Rows = append(p.Rows, row)
	}
	if next != 0 {
		nq := f.values()
		nq.Set("after", strconv.FormatInt(next, 10))
		p.NextURL = "/moderation/spaces?" + nq.Encode()
	}
	h.render(w, r, http.StatusOK, "spaces", p)
}

// findSpaces reads the page of spaces f asks for with their usage, and the After of the next
// page (0 on the last).
func (h *handler) findSpaces(ctx context.Context, f spacesFilter) ([]tenants.Space, map[int64]tenants.Usage, int64, error) {
	sf := tenants.SpaceFilter{AfterID: f.After, Limit: spacesPerPage + 1, Search: f.Query}
	if f.State == "all" {
		for _, s := range tenants.SpaceStates {
			if s != tenants.SpaceDeleted {
				sf.States = append(sf.States, s)
			}
		}
	} else {
		sf.States = []tenants.SpaceState{tenants.SpaceState(f.State)}
	}
	if f.Usage != "" {
		sf.QuotaLevels = []tenants.QuotaLevel{tenants.QuotaLevel(f.Usage)}
	}
	list, err := tenants.ListSpaces(ctx, h.Pool, sf)
	if err != nil {
		return nil, nil, 0, err
	}
	next := int64(0)
	if len(list) > spacesPerPage {
		list = list[:spacesPerPage]
		next = list[len(list)-1].ID
	}
	ids := make([]int64, len(list))
	for i, s := range list {
		ids[i] = s.ID
	}
	usage, err := tenants.UsageOf(ctx, h.Pool, ids)
	if err != nil {
		return nil, nil, 0, err
	}
	return list, usage, next, nil
}

// levelAtLimit gives u the storage level the next usage pass records for the space's current
// limit: right after a resize, the stored level is still the old limit's.
func levelAtLimit(s tenants.Space, u tenants.Usage) tenants.Usage {
	if u.Collected() {
		u.Level = quota.StorageLevel(u.Level, u.UsedBytes, s.Limits.StorageBytes)
	}
	return u
}
