package quota

import (
	"cmp"
	"fmt"
	"math"
	"math/bits"
	"slices"
)

// reserveDivisor sets the share of the room kept for accounts created between two passes:
// 1/5 = 20 %, enough for a few new members to start while most goes to those already there.
const reserveDivisor = 5

// freedDivisor sets how much freed space is worth a new plan when the old one left little room:
// 1/100 of the limit, so that a full space opens again after a real clean-up, not after every
// deleted file.
const freedDivisor = 100

// Account is one Nextcloud account of a space as the reconciler observed it.
type Account struct {
	// ID is the Nextcloud user id, the key of the plan's maps.
	ID string `json:"id"`
	// Used is the size of the account's files, as Nextcloud reports it.
	Used int64 `json:"used"`
	// Quota is the account's quota in bytes as Nextcloud reports it, negative when unlimited.
	Quota int64 `json:"quota"`
	// Service marks the service's own account: it is given no room to grow and does not take
	// one of the association's account slots.
	Service bool `json:"service,omitempty"`
}

// PlanInput is what a storage plan is made from.
type PlanInput struct {
	// Limits are the space's: StorageBytes is the limit shared by all accounts, Accounts the
	// number of association accounts it may have (service accounts are not counted).
	Limits Limits
	// Accounts are all the space's accounts now, enabled or disabled.
	Accounts []Account
	// Previous is the plan last applied, nil when none was.
	Previous *Plan
}

// Plan is the quotas the service gives a space's accounts so that, together, they cannot pass
// the space's storage limit. It is stored as JSON between passes, so that the next pass can
// tell whether it still holds (NeedsReplan).
type Plan struct {
	// Quotas is the quota of each account, in bytes, already rounded with NextcloudRoundDown.
	Quotas map[string]int64 `json:"quotas"`
	// DefaultQuota is for files/default_quota: what an account created before the next pass
	// gets, so that new accounts cannot eat the room given to the others.
	DefaultQuota int64 `json:"default_quota"`
	// MaxQuota is for files/max_quota: Nextcloud refuses a larger quota from any caller, so an
	// association's sub-admin cannot give one account more than the whole space.
	MaxQuota int64 `json:"max_quota"`
	// Limits are those the plan was made for; other limits need a new plan.
	Limits Limits `json:"limits"`
	// Used is each account's usage when the plan was made, against which growth is measured.
	Used map[string]int64 `json:"used"`
}

// QuotaChange is one quota write: account ID's quota goes From (observed, negative when
// unlimited) To (planned).
type QuotaChange struct {
	ID   string `json:"id"`
	From int64  `json:"from"`
	To   int64  `json:"to"`
}

// PlanStorage shares the space's remaining room among its accounts as the package doc
// describes: service accounts get none, a fifth is kept for the free account slots as
// DefaultQuota, and the association's accounts share the rest, half evenly and half in
// proportion to their usage. Every quota and DefaultQuota is rounded down, so the quotas plus
// DefaultQuota for each free slot never exceed the limit, and once usage reaches the limit
// every quota is the account's usage rounded down (at most MaxQuota) and DefaultQuota is 0.
func PlanStorage(in PlanInput) Plan {
	limit := max(in.Limits.StorageBytes, 0)
	var total, assocTotal int64
	assoc := 0
	for _, a := range in.Accounts {
		u := max(a.Used, 0)
		total = addSat(total, u)
		if !a.Service {
			assoc++
			assocTotal = addSat(assocTotal, u)
		}
	}
	room := max(limit-total, 0)

	p := Plan{
		Quotas:   make(map[string]int64, len(in.Accounts)),
		Used:     make(map[string]int64, len(in.Accounts)),
		MaxQuota: NextcloudRoundDown(limit),
		Limits:   in.Limits,
	}
	free := max(in.Limits.Accounts-assoc, 0)
	var reserve int64
	if free > 0 {
		reserve = room / reserveDivisor
		p.DefaultQuota = NextcloudRoundDown(reserve / int64(free))
	}
	rest := room - reserve

	var evenEach, byUse int64
	if assoc > 0 {
		if assocTotal == 0 {
			evenEach = rest / int64(assoc)
		} else {
			evenEach = rest / 2 / int64(assoc)
			byUse = rest - rest/2
		}
	}
	for _, a := range in.Accounts {
		u := max(a.Used, 0)
		p.Used[a.ID] = u
		var share int64
		if !a.Service {
			share = evenEach
			if byUse > 0 {
				share += mulDiv(byUse, u, assocTotal)
			}
		}
		// Only an account using more than the whole limit meets the cap; MaxQuota still stops
		// its growth, and Nextcloud would refuse a quota above it, even from an admin.
		p.Quotas[a.ID] = min(NextcloudRoundDown(addSat(u, share)), p.MaxQuota)
	}
	return p
}

// Changes lists the quota writes that make the observed accounts match the plan: those whose
// quota differs, lowered quotas first so that the space's total never rises above what either
// plan allows while the writes are under way. Accounts the plan does not know are left alone.
func (p Plan) Changes(accounts []Account) []QuotaChange {
	var out []QuotaChange
	for _, a := range accounts {
		q, ok := p.Quotas[a.ID]
		if ok && a.Quota != q {
			out = append(out, QuotaChange{ID: a.ID, From: a.Quota, To: q})
		}
	}
	slices.SortFunc(out, func(x, y QuotaChange) int {
		if xu, yu := x.raises(), y.raises(); xu != yu {
			if xu {
				return 1
			}
			return -1
		}
		return cmp.Compare(x.ID, y.ID)
	})
	return out
}

// raises tells whether the change gives the account more room (unlimited is more than any).
func (c QuotaChange) raises() bool { return c.From >= 0 && c.To > c.From }

// NeedsReplan tells whether in.Previous no longer holds, and why, in words for the logs: no plan
// yet, other limits, an account new, gone or whose quota was changed behind our back, an
// association account that used more than half the room the plan gave it, or space freed that
// others may need. Otherwise the plan still holds and a steady space gets no writes.
func NeedsReplan(in PlanInput) (bool, string) {
	prev := in.Previous
	if prev == nil {
		return true, "no plan yet"
	}
	if l := in.Limits; l != prev.Limits {
		if l.StorageBytes != prev.Limits.StorageBytes {
			return true, fmt.Sprintf("limit changed: storage %s, planned for %s",
				FormatSize(l.StorageBytes), FormatSize(prev.Limits.StorageBytes))
		}
		return true, fmt.Sprintf("limit changed: %d accounts, planned for %d", l.Accounts, prev.Limits.Accounts)
	}
	seen := make(map[string]bool, len(in.Accounts))
	for _, a := range in.Accounts {
		seen[a.ID] = true
		q, ok := prev.Quotas[a.ID]
		if !ok {
			return true, "new account " + a.ID
		}
		if a.Quota != q {
			return true, fmt.Sprintf("account %s changed behind our back: quota %s, planned %s",
				a.ID, quotaText(a.Quota), quotaText(q))
		}
	}
	var gone []string
	for id := range prev.Quotas {
		if !seen[id] {
			gone = append(gone, id)
		}
	}
	if len(gone) > 0 {
		slices.Sort(gone)
		return true, "account " + gone[0] + " is gone"
	}

	var usedThen, usedNow int64
	for _, a := range in.Accounts {
		then, ok := prev.Used[a.ID]
		if !ok {
			return true, "the plan does not say what account " + a.ID + " used"
		}
		now := max(a.Used, 0)
		usedThen, usedNow = addSat(usedThen, then), addSat(usedNow, now)
		if a.Service {
			continue
		}
		// Only positive room can be half used: a quota at or below the usage already stops
		// growth, and replanning it at every pass would write the same quotas again.
		if room := prev.Quotas[a.ID] - then; room > 0 && now-then > room/2 {
			return true, fmt.Sprintf("%s used half its room: %s of %s since the plan",
				a.ID, FormatSize(now-then), FormatSize(room))
		}
	}
	// Space freed stays in the quotas of those who freed it; hand it out again once it is worth
	// it, which matters most in a full space where no account has room left to half use.
	roomThen := max(prev.Limits.StorageBytes-usedThen, 0)
	if freed := usedThen - usedNow; freed > 0 && freed > roomThen/2 && freed >= prev.Limits.StorageBytes/freedDivisor {
		return true, fmt.Sprintf("space freed: %s since the plan", FormatSize(freed))
	}
	return false, ""
}

func quotaText(b int64) string {
	if b < 0 {
		return "unlimited"
	}
	return FormatSize(b)
}

// addSat adds two non-negative sizes, stopping at the largest int64 rather than wrapping.
func addSat(a, b int64) int64 {
	if a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}

// mulDiv is ⌊a·b/c⌋ for 0 ≤ b ≤ c and a ≥ 0, exact where a·b overflows int64.
func mulDiv(a, b, c int64) int64 {
	hi, lo := bits.Mul64(uint64(a), uint64(b))
	q, _ := bits.Div64(hi, lo, uint64(c))
	return int64(q)
}
