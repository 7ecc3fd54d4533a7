package webui

import (
	"net/http"
	"strconv"

	"github.com/assospaces/spaces/quota"
	"github.com/assospaces/spaces/tenants"
)

// dashboardPage is the data of the moderators' dashboard.
type dashboardPage struct {
	page
	D         tenants.DashboardTotals
	States    []stateCount // the states that have spaces, deleted ones aside
	Storage   *usageBar    // nil when no space is active or suspended
	StoredPc  string       // 46 %
	Stored    string       // 1.2 TB utilisés sur 40 TB attribués
	Accounts  string       // comptes actifs sur 2 500 possibles, beside AccountsN, the number enabled
	AccountsN string
	Near      []nearRow
	NearMore  string // "50 affichés sur 72" when the list is cut
}

// stateCount is one state and how many spaces are in it.
type stateCount struct {
	State string
	Label string
	Count int
}

// nearRow is a space near its limits as the dashboard lists it.
type nearRow struct {
	Name, Slug, URL   string
	State, StateLabel string
	Usage             usageView
}

// dashboard is GET /moderation/dashboard: every space at a glance, from the reconciler's latest
// measurements, and the spaces nearest their limits.
func (h *handler) dashboard(w http.ResponseWriter, r *http.Request) {
	d, err := tenants.Dashboard(r.Context(), h.Pool)
	if err != nil {
		h.serverError(w, r, err)
		return
	}
	p := dashboardPage{page: h.newPage(r), D: d}
	for _, s := range tenants.SpaceStates {
		if n := d.SpacesByState[s]; n > 0 && s != tenants.SpaceDeleted {
			p.States = append(p.States, stateCount{State: string(s), Label: p.T("space.state." + string(s)), Count: n})
		}
	}
	p.Stored = p.T("dash.storage.none")
	if d.StorageAllocatedBytes > 0 {
		bar := newUsageBar(d.StorageUsedBytes, d.StorageAllocatedBytes,
			quota.StorageLevel(quota.LevelOK, d.StorageUsedBytes, d.StorageAllocatedBytes))
		p.Storage = &bar
		p.StoredPc = p.percent(d.StorageUsedBytes, d.StorageAllocatedBytes)
		p.Stored = p.T("dash.storage.value", "used", p.Size(d.StorageUsedBytes),
			"allocated", p.Size(d.StorageAllocatedBytes))
	}
	p.AccountsN = p.Num(int(d.AccountsEnabled))
	p.Accounts = p.Plural("dash.accounts.value", int(d.AccountsEnabled), "max", p.Num(int(d.AccountsAllowed)))
	for _, n := range d.NearLimit {
		row := nearRow{Name: n.AssociationName, Slug: n.Slug, State: string(n.State), StateLabel: p.T("space.state." + string(n.State)),
			Usage: p.newUsageView(tenants.Space{Limits: n.Limits, State: n.State}, n.Usage)}
		if n.ApplicationID != 0 {
			row.URL = "/moderation/applications/" + strconv.FormatInt(n.ApplicationID, 10) + "#space"
		}
		p.Near = append(p.Near, row)
	}
	if d.NearLimitTotal > len(d.NearLimit) {
		p.NearMore = p.T("dash.near.more", "shown", len(d.NearLimit), "total", d.NearLimitTotal)
	}
	h.render(w, r, http.StatusOK, "dashboard", p)
}
