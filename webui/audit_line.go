package webui

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/assospaces/spaces/quota"
	"github.com/assospaces/spaces/tenants"
)

// auditLine is one entry of an application's history as moderators read it: a sentence in the
// page's language, the actor's name in it set apart, and what the sentence leaves out.
type auditLine struct {
	At     time.Time
	Action string // the action's code, kept out of sight in the markup
	Before string // the sentence before the actor's name
	Actor  string // the actor's name; empty when the sentence does not name one
	After  string // the sentence after the actor's name
	Detail string // the entry's other details, written by auditDetail
}

// Text is the whole sentence, for tests and logs.
func (l auditLine) Text() string {
	s := l.Before + l.Actor + l.After
	if l.Detail != "" {
		s += " (" + l.Detail + ")"
	}
	return s
}

// actorNames are the names behind the actors of a history: moderators by id, operators' API
// tokens by id.
type actorNames struct {
	moderators map[int64]string
	tokens     map[int64]string
}

// actorNames finds the names of the people in trail: every moderator, and the names the tokens
// in it were given when created (kept in the tokens' own audit entries).
func (h *handler) actorNames(ctx context.Context, trail []tenants.AuditEntry) (actorNames, error) {
	n := actorNames{moderators: map[int64]string{}, tokens: map[int64]string{}}
	ms, err := tenants.ListModerators(ctx, h.Pool)
	if err != nil {
		return n, err
	}
	for _, m := range ms {
		n.moderators[m.ID] = m.DisplayName
	}
	for _, e := range trail {
		id, ok := actorID(e.Actor, "token:")
		if !ok {
			continue
		}
		if _, seen := n.tokens[id]; seen {
			continue
		}
		n.tokens[id] = ""
		created, err := tenants.AuditTrail(ctx, h.Pool, "token", id)
		if err != nil {
			return n, err
		}
		for _, c := range created {
			if name, ok := c.Detail["name"].(string); ok && c.Action == "token.create" {
				n.tokens[id] = name
			}
		}
	}
	return n, nil
}

// actorID reads the id of an actor written prefix + id.
func actorID(a tenants.Actor, prefix string) (int64, bool) {
	rest, ok := strings.CutPrefix(string(a), prefix)
	if !ok {
		return 0, false
	}
	id, err := strconv.ParseInt(rest, 10, 64)
	return id, err == nil
}

// actorName words an audit actor for people: a moderator's name, the association, the service,
// an operator (with the name of the token or account used when known).
func (p page) actorName(a tenants.Actor, names actorNames) string {
	s := string(a)
	switch {
	case a == tenants.ActorApplicant:
		return p.T("actor.applicant")
	case a == tenants.ActorSystem || strings.HasPrefix(s, "system:"):
		return p.T("actor.system")
	case strings.HasPrefix(s, "moderator:"):
		id, _ := actorID(a, "moderator:")
		if n, ok := names.moderators[id]; ok && n != "" {
			return n
		}
		return p.T("actor.unknown", "id", strings.TrimPrefix(s, "moderator:"))
	case strings.HasPrefix(s, "token:"):
		id, _ := actorID(a, "token:")
		if n := names.tokens[id]; n != "" {
			return p.T("actor.token.named", "name", n)
		}
		return p.T("actor.token")
	case strings.HasPrefix(s, "cli:"):
		if n := strings.TrimPrefix(s, "cli:"); n != "" && n != "unknown" {
			return p.T("actor.cli.named", "name", n)
		}
		return p.T("actor.token")
	}
	return s
}

// actorMark stands for the actor's name in a translated sentence until it is cut around it.
const actorMark = "\x00"

// auditLine words an audit entry for moderators.
func (p page) auditLine(e tenants.AuditEntry, names actorNames) auditLine {
	text, used := p.auditSentence(e)
	l := auditLine{At: e.At, Action: e.Action, Before: text}
	if before, after, ok := strings.Cut(text, actorMark); ok {
		l.Before, l.Actor, l.After = before, p.actorName(e.Actor, names), after
	}
	rest := make(map[string]any, len(e.Detail))
	for k, v := range e.Detail {
		rest[k] = v
	}
	for _, k := range used {
		delete(rest, k)
	}
	if len(rest) > 0 {
		l.Detail = p.auditDetail(e.Action, rest)
	}
	return l
}

// canonicalAction gives the one name of an action written two ways: a space's move recorded
// without an action of its own is named after the state it reaches (space.active), the one the
// code records after the verb (space.activate).
func canonicalAction(action string) string {
	switch action {
	case "space.provisioning":
		return "space.provision"
	case "space.active":
		return "space.activate"
	case "space.failed":
		return "space.fail"
	case "space.suspend":
		return "space.suspended"
	case "space.delete":
		return "space.deleting"
	}
	return action
}

// auditSentence is the sentence of an entry for moderators, with actorMark where the actor's
// name goes, and the detail keys it already says.
func (p page) auditSentence(e tenants.AuditEntry) (string, []string) {
	action := canonicalAction(e.Action)
	actor := []any{"actor", actorMark}
	switch action {
	case "application.claim":
		until, ok := detailTime(e.Detail["until"])
		if !ok {
			break
		}
		if until.In(p.loc).Format(time.DateOnly) == e.At.In(p.loc).Format(time.DateOnly) {
			return p.T("audit.line.application.claim.until", "actor", actorMark, "time", p.Time(until)), []string{"until"}
		}
		return p.T("audit.line.application.claim.until_date", "actor", actorMark, "when", p.DateTime(until)), []string{"until"}
	case "application.reject":
		if r, ok := e.Detail["reason"].(string); ok && r != "" {
			return p.T("audit.line.application.reject.reason", "actor", actorMark, "reason", r), []string{"reason"}
		}
	case "space.activate":
		if e.FromState == string(tenants.SpaceSuspended) {
			return p.T("audit.line.space.resume", actor...), nil
		}
	case "space.fail":
		if r, ok := e.Detail["reason"].(string); ok && r != "" {
			return p.T("audit.line.space.fail.reason", "reason", r), []string{"reason"}
		}
	case "space.storage_level":
		if s, ok := p.storageSentence("audit.line.space.storage_level.", e.Detail); ok {
			return s, []string{"from", "to", "used_bytes", "limit_bytes"}
		}
		return p.T("audit.line.space.storage_level", actor...), nil
	case "space.resize":
		from, okF := detailLimits(e.Detail["from"])
		to, okT := detailLimits(e.Detail["to"])
		if okF && okT {
			if forced, _ := e.Detail["forced"].(bool); forced {
				return p.T("audit.line.space.resize.forced", "actor", actorMark, "from", p.limitsText(from), "to", p.limitsText(to)),
					[]string{"from", "to", "forced"}
			}
			return p.T("audit.line.space.resize.limits", "actor", actorMark, "from", p.limitsText(from), "to", p.limitsText(to)),
				[]string{"from", "to"}
		}
	case "space.suspended", "space.deleting":
		// The reason the association was told, said as the application's rejection says its own.
		if r, ok := e.Detail["reason"].(string); ok && r != "" {
			return p.T("audit.line."+action+".reason", "actor", actorMark, "reason", r), []string{"reason"}
		}
	case "space.restore":
		if e.ToState != "" {
			return p.T("audit.line.space.restore.to", "actor", actorMark, "state", p.stateName("space", e.ToState)), nil
		}
	}
	if _, ok := catalog["audit.line."+action]; ok {
		return p.T("audit.line."+action, actor...), nil
	}
	return p.genericSentence(e), nil
}

// genericSentence words an action the pages do not know: who changed what, and to which state.
func (p page) genericSentence(e tenants.AuditEntry) string {
	subject := "audit.subject.other"
	if _, ok := catalog["audit.subject."+e.SubjectType]; ok {
		subject = "audit.subject." + e.SubjectType
	}
	args := []any{"actor", actorMark, "subject", p.T(subject),
		"from", p.stateName(e.SubjectType, e.FromState), "to", p.stateName(e.SubjectType, e.ToState)}
	switch {
	case e.FromState != "" && e.ToState != "" && e.FromState != e.ToState:
		return p.T("audit.line.generic.states", args...)
	case e.ToState != "":
		return p.T("audit.line.generic.to", args...)
	}
	return p.T("audit.line.generic", args...)
}

// stateName is the translated name of an application's or a space's state, as the pages show it.
func (p page) stateName(subjectType, state string) string {
	key := "state." + state
	if subjectType == "space" {
		key = "space.state." + state
	}
	if _, ok := catalog[key]; ok {
		return p.T(key)
	}
	return state
}

// storageSentence says how a space's storage crossed a level: prefix + up.80, down.ok… with the
// space's figures when the entry has them. False when the entry does not say a crossing.
func (p page) storageSentence(prefix string, d map[string]any) (string, bool) {
	var from, to quota.Level
	fs, okF := d["from"].(string)
	ts, okT := d["to"].(string)
	if !okF || !okT || from.UnmarshalText([]byte(fs)) != nil || to.UnmarshalText([]byte(ts)) != nil || from == to {
		return "", false
	}
	way := "up."
	if to < from {
		way = "down."
	}
	s := p.T(prefix + way + levelClass(to))
	used, okU := d["used_bytes"].(float64)
	limit, okL := d["limit_bytes"].(float64)
	if okU && okL && limit > 0 {
		s += " (" + p.T("audit.storage.figures", "used", p.Size(int64(used)), "limit", p.Size(int64(limit))) + ")"
	}
	return s, true
}

// detailTime reads a time of an audit detail, written as RFC 3339 text.
func detailTime(v any) (time.Time, bool) {
	s, ok := v.(string)
	if !ok {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	return t, err == nil
}

// detailLimits reads limits of an audit detail: {"storage_bytes": …, "accounts": …}.
func detailLimits(v any) (quota.Limits, bool) {
	m, ok := v.(map[string]any)
	if !ok {
		return quota.Limits{}, false
	}
	storage, okS := m["storage_bytes"].(float64)
	accounts, okA := m["accounts"].(float64)
	return quota.Limits{StorageBytes: int64(storage), Accounts: int(accounts)}, okS && okA
}

// limitsText writes limits as the pages do: 40 GB, 50 comptes.
func (p page) limitsText(l quota.Limits) string {
	return p.T("detail.space.limits.value", "storage", p.Size(l.StorageBytes), "accounts", l.Accounts)
}

// historyItem is one line of an application's history as the applicant sees it.
type historyItem struct {
	At   time.Time
	Text string
}

// applicantHidden are the actions the applicant's history leaves out: moderators' bookkeeping.
// An archive of the space is the operators' work for the association, which hears of it from them.
var applicantHidden = map[string]bool{"application.claim": true, "application.release": true,
	"space.export": true, "space.export_download": true}

// applicantLine words an audit entry for the applicant: what happened to the application or the
// space, never who in the team did it nor the internal reason of a failure. False for an entry
// the applicant is not told about (moderators' bookkeeping, an action the pages do not know).
func (p page) applicantLine(e tenants.AuditEntry) (string, bool) {
	action := canonicalAction(e.Action)
	if applicantHidden[action] {
		return "", false
	}
	switch action {
	case "space.activate":
		if e.FromState == string(tenants.SpaceSuspended) {
			return p.T("history.space.resume"), true
		}
	case "space.storage_level":
		return p.storageSentence("history.space.storage_level.", e.Detail)
	case "space.resize":
		if to, ok := detailLimits(e.Detail["to"]); ok {
			return p.T("history.space.resize.limits", "limits", p.limitsText(to)), true
		}
	}
	key := "history." + action
	if _, ok := catalog[key]; !ok {
		return "", false
	}
	return p.T(key), true
}
