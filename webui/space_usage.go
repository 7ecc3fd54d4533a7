package webui

import (
	"context"
	"math"
	"strconv"
	"time"

	"github.com/assospaces/spaces/quota"
	"github.com/assospaces/spaces/tenants"
)

// historyDays is how far back a space's usage history goes, on its page and in the API.
const historyDays = 90

// usageBar is a bar of storage used, drawn as inline SVG: its fill in percent of the width and
// its colour by storage level. The figures it shows are always written beside it.
type usageBar struct {
	Fill  string // 0 to 100, the share of the limit used
	Level string // ok, 80, 90 or full: the CSS class that colours it
}

// newUsageBar draws used of limit at level.
func newUsageBar(used, limit int64, level quota.Level) usageBar {
	fill := min(quota.Percent(used, limit), 100)
	return usageBar{Fill: strconv.FormatFloat(fill, 'f', 1, 64), Level: levelClass(level)}
}

// levelClass names a storage level for CSS.
func levelClass(l quota.Level) string {
	switch l {
	case quota.LevelWarn80:
		return "80"
	case quota.LevelWarn90:
		return "90"
	case quota.LevelFull:
		return "full"
	}
	return "ok"
}

// usageView is what moderators read of a space's usage: every figure already written out in
// the page's language.
type usageView struct {
	Measured bool // figures exist: the space was measured at least once
	Stale    bool // the last measurement failed: the figures are older than they should be
	Bar      usageBar
	Storage  string // 34 GB sur 40 GB (85 %)
	// LevelText names the storage level reached (80 %, 90 %, full); empty below 80 %.
	LevelText       string
	Accounts        string // 12 comptes sur 50 (1 désactivé)
	AccountsAtLimit bool
	Active          string // active users over a day and a month
	When            string // when measured; or since when not reachable and why; or not yet
	Chart           *usageChart
}

// newUsageView words u, the usage of s, for the page.
func (p page) newUsageView(s tenants.Space, u tenants.Usage) usageView {
	v := usageView{Measured: u.Collected(), Stale: u.Stale()}
	switch {
	case u.Collected() && u.Stale():
		v.When = p.T("usage.stale", "when", p.DateTime(u.CollectedAt), "since", p.DateTime(u.StaleSince), "reason", u.StaleReason)
	case u.Stale():
		v.When = p.T("usage.stale.never", "since", p.DateTime(u.StaleSince), "reason", u.StaleReason)
	case u.Collected():
		v.When = p.DateTime(u.CollectedAt)
	default:
		v.When = p.T("usage.never")
	}
	if !u.Collected() {
		return v
	}
	v.Bar = newUsageBar(u.UsedBytes, s.Limits.StorageBytes, u.Level)
	v.Storage = p.T("usage.storage.value", "used", p.Size(u.UsedBytes), "limit", p.Size(s.Limits.StorageBytes),
		"percent", p.percent(u.UsedBytes, s.Limits.StorageBytes))
	if u.Level != quota.LevelOK {
		v.LevelText = p.T("usage.level." + levelClass(u.Level))
	}
	v.Accounts = p.Plural("usage.accounts.value", u.AccountsEnabled, "max", p.Num(s.Limits.Accounts))
	if u.AccountsDisabled > 0 {
		v.Accounts += " " + p.Plural("usage.accounts.disabled", u.AccountsDisabled)
	}
	v.AccountsAtLimit = u.AccountsEnabled >= s.Limits.Accounts
	v.Active = p.T("usage.active.value", "day", u.ActiveUsersDay, "month", u.ActiveUsersMonth)
	return v
}

// percent writes used as a whole percentage of limit, rounded down so that a space shown at
// 80 % has reached the 80 % level.
func (p page) percent(used, limit int64) string {
	return p.T("usage.percent", "n", int64(math.Floor(quota.Percent(used, limit))))
}

// spaceUsage reads what the moderators' page shows of a space's usage: its last figures and its
// history over historyDays, drawn. It is nil for a space that was never measured nor is active,
// which has nothing to show.
func (h *handler) spaceUsage(ctx context.Context, p page, s tenants.Space) (*usageView, error) {
	u, err := tenants.GetUsage(ctx, h.Pool, s.ID)
	if err != nil {
		return nil, err
	}
	if !u.Collected() && !u.Stale() && s.State != tenants.SpaceActive {
		return nil, nil
	}
	v := p.newUsageView(s, u)
	now := timeNow()
	points, err := tenants.UsageHistory(ctx, h.Pool, s.ID, now.Add(-historyDays*24*time.Hour))
	if err != nil {
		return nil, err
	}
	v.Chart = p.newUsageChart(s.Limits.StorageBytes, points)
	return &v, nil
}
