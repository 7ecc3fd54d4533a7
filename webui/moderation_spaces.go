package webui

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode"

	"golang.org/x/text/runes"
	"golang.org/x/text/transform"
	"golang.org/x/text/unicode/norm"

	"github.com/assospaces/spaces/quota"
	"github.com/assospaces/spaces/tenants"
)

// spacesPerPage is how many spaces the spaces page lists at a time.
const spacesPerPage = 50

// spacesScanBatch is how many spaces are read at a time while looking for those a search or a
// usage filter keeps.
const spacesScanBatch = 500

// Usage filters of the spaces page.
const (
	usageNear = "near" // storage at 80 % or more, or every account used
	usageOver = "over" // storage full, or more enabled accounts than allowed
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
// page (0 on the last). The state is filtered by the query; a search and a usage filter are
// applied to the spaces read in batches, in id order, until a page is full.
func (h *handler) findSpaces(ctx context.Context, f spacesFilter) ([]tenants.Space, map[int64]tenants.Usage, int64, error) {
	sf := tenants.SpaceFilter{AfterID: f.After, Limit: spacesPerPage + 1}
	if f.State == "all" {
		for _, s := range tenants.SpaceStates {
			if s != tenants.SpaceDeleted {
				sf.States = append(sf.States, s)
			}
		}
	} else {
		sf.States = []tenants.SpaceState{tenants.SpaceState(f.State)}
	}
	filtered := f.Query != "" || f.Usage != ""
	if filtered {
		sf.Limit = spacesScanBatch
	}
	query := foldText(f.Query)
	var out []tenants.Space
	usage := map[int64]tenants.Usage{}
	for {
		batch, err := tenants.ListSpaces(ctx, h.Pool, sf)
		if err != nil {
			return nil, nil, 0, err
		}
		ids := make([]int64, len(batch))
		for i, s := range batch {
			ids[i] = s.ID
		}
		u, err := tenants.UsageOf(ctx, h.Pool, ids)
		if err != nil {
			return nil, nil, 0, err
		}
		for _, s := range batch {
			if !matchesSearch(s, query) || !matchesUsage(s, u[s.ID], f.Usage) {
				continue
			}
			if len(out) == spacesPerPage {
				return out, usage, out[len(out)-1].ID, nil
			}
			out = append(out, s)
			usage[s.ID] = u[s.ID]
		}
		if !filtered || len(batch) < sf.Limit {
			return out, usage, 0, nil
		}
		sf.AfterID = batch[len(batch)-1].ID
	}
}

// matchesSearch tells whether the association's name or the address holds query (folded).
func matchesSearch(s tenants.Space, query string) bool {
	return query == "" || strings.Contains(s.Slug, query) || strings.Contains(foldText(s.AssociationName), query)
}

// matchesUsage tells whether a space's last measured usage u is what filter keeps: near its
// limits (the dashboard's "near": a storage level of 80 % or more, or every account used) or
// over them (storage full, or more enabled accounts than allowed). A space never measured is
// near nothing.
func matchesUsage(s tenants.Space, u tenants.Usage, filter string) bool {
	switch filter {
	case usageNear:
		return u.Collected() && (u.Level != quota.LevelOK || u.AccountsEnabled >= s.Limits.Accounts)
	case usageOver:
		return u.Collected() && (u.Level == quota.LevelFull || u.AccountsEnabled > s.Limits.Accounts)
	}
	return true
}

// levelAtLimit gives u the storage level the next usage pass records for the space's current
// limit: right after a resize, the stored level is still the old limit's.
func levelAtLimit(s tenants.Space, u tenants.Usage) tenants.Usage {
	if u.Collected() {
		u.Level = quota.StorageLevel(u.Level, u.UsedBytes, s.Limits.StorageBytes)
	}
	return u
}

// foldText writes s as a search compares it: lowercase, without accents.
func foldText(s string) string {
	t := transform.Chain(norm.NFD, runes.Remove(runes.In(unicode.Mn)), norm.NFC)
	out, _, err := transform.String(t, strings.ToLower(s))
	if err != nil {
		return strings.ToLower(s)
	}
	return out
}
