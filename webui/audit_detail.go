package webui

import (
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/assospaces/spaces/quota"
)

// auditDetail writes the detail of an audit entry for people, keys in a fixed order: sizes with
// their unit, limits as "40 GB, 50 comptes", dates in the page's language, storage levels by
// name. The detail comes back from JSON, so numbers are float64 and structs are maps: neither is
// ever shown as Go prints them.
func (p page) auditDetail(action string, detail map[string]any) string {
	keys := make([]string, 0, len(detail))
	for k := range detail {
		keys = append(keys, k)
	}
	// A change reads before → after; the rest alphabetically.
	rank := func(k string) int {
		switch k {
		case "from":
			return 0
		case "to":
			return 1
		}
		return 2
	}
	slices.SortFunc(keys, func(a, b string) int {
		if c := rank(a) - rank(b); c != 0 {
			return c
		}
		return strings.Compare(a, b)
	})
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, p.T("audit.pair", "key", p.auditKey(k), "value", p.auditValue(action, k, detail[k])))
	}
	return strings.Join(parts, ", ")
}

// auditKey names a detail key in the page's language when the catalog knows it.
func (p page) auditKey(k string) string {
	if _, ok := catalog["audit.key."+k]; ok {
		return p.T("audit.key." + k)
	}
	return k
}

func (p page) auditValue(action, key string, v any) string {
	switch x := v.(type) {
	case nil:
		return "—"
	case bool:
		if x {
			return p.T("audit.yes")
		}
		return p.T("audit.no")
	case float64:
		if strings.HasSuffix(key, "_bytes") {
			return p.Size(int64(x))
		}
		if x == math.Trunc(x) && math.Abs(x) < 1<<53 {
			return strconv.FormatInt(int64(x), 10)
		}
		return strconv.FormatFloat(x, 'f', -1, 64)
	case string:
		if action == "space.storage_level" && (key == "from" || key == "to") {
			var l quota.Level
			if l.UnmarshalText([]byte(x)) == nil {
				return p.T("usage.level.name." + levelClass(l))
			}
		}
		if t, err := time.Parse(time.RFC3339Nano, x); err == nil {
			return p.DateTime(t)
		}
		return x
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = p.auditValue(action, key, e)
		}
		return strings.Join(parts, ", ")
	case map[string]any:
		storage, okS := x["storage_bytes"].(float64)
		accounts, okA := x["accounts"].(float64)
		if okS && okA && len(x) == 2 {
			return p.T("detail.space.limits.value", "storage", p.Size(int64(storage)), "accounts", int64(accounts))
		}
		return "(" + p.auditDetail(action, x) + ")"
	}
	return "?"
}
