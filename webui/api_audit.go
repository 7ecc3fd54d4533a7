package webui

import (
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/assospaces/spaces/tenants"
)

// apiAuditEntry is an audit entry as the API shows it: the entry as recorded (actor as the log
// writes it, detail as stored) with the names behind its actor and subject, and its detail as
// text for people, written as the moderators' pages write it, in English.
type apiAuditEntry struct {
	ID          int64          `json:"id"`
	At          time.Time      `json:"at"`
	Actor       string         `json:"actor"`
	ActorName   string         `json:"actor_name"`
	Action      string         `json:"action"`
	SubjectType string         `json:"subject_type"`
	SubjectID   int64          `json:"subject_id"`
	SubjectName string         `json:"subject_name"`
	FromState   string         `json:"from_state"`
	ToState     string         `json:"to_state"`
	Detail      map[string]any `json:"detail"`
	DetailText  string         `json:"detail_text"`
}

// auditParameters are the query parameters apiAuditList reads; any other is refused, so that a
// misspelt filter does not list everything.
var auditParameters = []string{"space", "actor", "since", "after", "limit"}

// apiAuditList is GET /api/v1/audit: audit entries newest first, filtered by ?space=SLUG (the
// space and the application it came from), ?actor= (an API token's name, a moderator's email or
// an actor as the log writes it: token:3, moderator:5, applicant, system:reconciler) and ?since=
// (an RFC 3339 time, a date from its midnight in the service's time zone, or an age such as 7d or
// 12h), paged with ?after=<last id> and ?limit= (at most 1000, 50 by default). next_after is 0
// on the last page.
func (h *handler) apiAuditList(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	q := r.URL.Query()
	for k := range q {
		if !slices.Contains(auditParameters, k) {
			h.apiFail(w, r, http.StatusBadRequest, "invalid_parameter", k,
				"unknown parameter "+strconv.Quote(k)+"; the audit log is filtered by "+strings.Join(auditParameters, ", "))
			return
		}
	}
	var f tenants.AuditFilter
	if slug := q.Get("space"); slug != "" {
		s, err := tenants.GetSpaceBySlug(ctx, h.Pool, slug)
		if errors.Is(err, tenants.ErrNotFound) {
			h.apiFail(w, r, http.StatusNotFound, "not_found", "space", "no space named "+slug)
			return
		}
		if err != nil {
			h.apiInternal(w, r, err)
			return
		}
		f.SpaceID = s.ID
	}
	if name := q.Get("actor"); name != "" {
		actors, err := tenants.ResolveActor(ctx, h.Pool, name)
		if errors.Is(err, tenants.ErrNotFound) {
			h.apiFail(w, r, http.StatusNotFound, "not_found", "actor", "no API token, moderator or actor named "+name+
				"; give a token's name, a moderator's email or an actor such as token:3, moderator:5, applicant, system:reconciler")
			return
		}
		if err != nil {
			h.apiInternal(w, r, err)
			return
		}
		f.Actors = actors
	}
	if v := q.Get("since"); v != "" {
		t, err := tenants.ParseSince(v, timeNow(), h.location)
		if err != nil {
			h.apiFail(w, r, http.StatusBadRequest, "invalid_parameter", "since",
				"since "+strconv.Quote(v)+" is "+err.Error())
			return
		}
		f.Since = t
	}
	if v := q.Get("after"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			h.apiFail(w, r, http.StatusBadRequest, "invalid_parameter", "after", "after must be an audit entry id (a whole number)")
			return
		}
		f.AfterID = n
	}
	f.Limit = tenants.DefaultAuditLimit
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > tenants.MaxAuditLimit {
			h.apiFail(w, r, http.StatusBadRequest, "invalid_parameter", "limit",
				"limit must be a whole number from 1 to "+strconv.Itoa(tenants.MaxAuditLimit))
			return
		}
		f.Limit = n
	}
	items, err := tenants.ListAudit(ctx, h.Pool, f)
	if err != nil {
		h.apiInternal(w, r, err)
		return
	}
	entries := h.apiAuditEntries(items)
	next := int64(0)
	if len(items) == f.Limit {
		next = items[len(items)-1].ID
	}
	h.apiJSON(w, r, http.StatusOK, map[string]any{"entries": entries, "next_after": next})
}

// apiAuditEntries writes audit items as the API shows them, their details as English text.
func (h *handler) apiAuditEntries(items []tenants.AuditItem) []apiAuditEntry {
	p := page{Lang: "en", loc: h.location}
	entries := make([]apiAuditEntry, len(items))
	for i, it := range items {
		e := apiAuditEntry{ID: it.ID, At: it.At, Actor: string(it.Actor), ActorName: it.ActorName, Action: it.Action,
			SubjectType: it.SubjectType, SubjectID: it.SubjectID, SubjectName: it.SubjectName,
			FromState: it.FromState, ToState: it.ToState, Detail: it.Detail}
		if len(it.Detail) > 0 {
			// The pages keep "40 GB" on one line with a no-break space; programs and terminals
			// get a plain one.
			e.DetailText = strings.ReplaceAll(p.auditDetail(it.Action, it.Detail), "\u00a0", " ")
		}
		entries[i] = e
	}
	return entries
}
