package webui

import (
	"regexp"
	"time"

	"github.com/assospaces/spaces/tenants"
)

// conditionLine is one observed condition of a space as moderators read it: a sentence in their
// language, whether it is good news, since when, and the reconciler's own words as a detail.
type conditionLine struct {
	Tone   string // ok, warn, bad or unknown
	Text   string
	Since  time.Time
	Detail string // the reconciler's message (in English), with its dates written for people
	Code   string // Type · Reason, what operators search logs for
}

// conditionLines words a space's conditions for the page, in their stored order.
func (p page) conditionLines(conds []tenants.Condition) []conditionLine {
	out := make([]conditionLine, 0, len(conds))
	for _, c := range conds {
		l := conditionLine{Tone: conditionTone(c), Since: c.Since, Detail: p.readableDates(c.Message), Code: c.Type}
		if c.Reason != "" {
			l.Code += " · " + c.Reason
		}
		for _, key := range []string{"cond." + c.Type + "." + c.Reason, "cond." + c.Type + "." + c.Status} {
			if _, ok := catalog[key]; ok {
				l.Text = p.T(key)
				break
			}
		}
		if l.Text == "" {
			l.Text = p.T("cond.other", "type", c.Type, "status", p.T("cond.status."+conditionStatus(c.Status)))
		}
		out = append(out, l)
	}
	return out
}

// conditionTone tells whether a condition is good news. Most conditions are good when True;
// Drifted is good when False. A new generation being applied, or storage past a warning
// threshold, is worth a look but not a problem.
func conditionTone(c tenants.Condition) string {
	switch {
	case c.Status != "True" && c.Status != "False":
		return "unknown"
	case c.Type == "Drifted" && c.Reason == "NewGeneration",
		c.Type == "StorageWithinLimit" && (c.Reason == "Above80Percent" || c.Reason == "Above90Percent"):
		return "warn"
	case (c.Status == "True") != (c.Type == "Drifted"):
		return "ok"
	}
	return "bad"
}

// conditionStatus is a condition status as the catalog names it.
func conditionStatus(s string) string {
	if s == "True" || s == "False" {
		return s
	}
	return "Unknown"
}

// rfc3339 finds the timestamps machines write in messages (2026-03-10T14:00:00Z).
var rfc3339 = regexp.MustCompile(`\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})`)

// readableDates writes the timestamps in s as dates in the page's language and time zone.
func (p page) readableDates(s string) string {
	return rfc3339.ReplaceAllStringFunc(s, func(m string) string {
		t, err := time.Parse(time.RFC3339Nano, m)
		if err != nil {
			return m
		}
		return p.DateTime(t)
	})
}
