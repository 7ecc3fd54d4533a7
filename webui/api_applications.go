package webui

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/assospaces/spaces/tenants"
)

// The moderation queue in the operators' JSON API: the same queue, filters and decisions as the
// moderators' pages (moderation_*.go), acting as the request's token. A token cannot claim an
// application; a decision on one a moderator holds a live claim on is refused (409, code claimed).

// apiApplication is an application as the API shows it.
type apiApplication struct {
	ID               int64                    `json:"id"`
	State            tenants.ApplicationState `json:"state"`
	AssociationName  string                   `json:"association_name"`
	LegalID          string                   `json:"legal_id"`
	Slug             string                   `json:"slug"`
	Address          string                   `json:"address"`
	ContactName      string                   `json:"contact_name"`
	ContactEmail     string                   `json:"contact_email"`
	Purpose          string                   `json:"purpose"`
	Activities       string                   `json:"activities"`
	ExpectedAccounts int                      `json:"expected_accounts"`
	Locale           string                   `json:"locale"`
	// Claim is the moderator's live claim; null when nobody works on it.
	Claim          *apiClaim `json:"claim"`
	DecisionReason string    `json:"decision_reason,omitempty"`
	SpaceID        int64     `json:"space_id,omitempty"`
	CreatedAt      time.Time `json:"created_at"`
	UpdatedAt      time.Time `json:"updated_at"`
	StateChangedAt time.Time `json:"state_changed_at"`
}

// apiClaim is a moderator's live claim on an application.
type apiClaim struct {
	ModeratorID int64     `json:"moderator_id"`
	Moderator   string    `json:"moderator"`
	Until       time.Time `json:"until"`
}

func (h *handler) apiApplicationOf(a tenants.Application) apiApplication {
	v := apiApplication{ID: a.ID, State: a.State, AssociationName: a.AssociationName, LegalID: a.LegalID, Slug: a.Slug,
		Address: h.spaceAddress(a.Slug), ContactName: a.ContactName, ContactEmail: a.ContactEmail, Purpose: a.Purpose,
		Activities: a.Activities, ExpectedAccounts: a.ExpectedAccounts, Locale: a.Locale, DecisionReason: a.DecisionReason,
		SpaceID: a.SpaceID, CreatedAt: a.CreatedAt, UpdatedAt: a.UpdatedAt, StateChangedAt: a.StateChangedAt}
	if a.ClaimLive(timeNow()) {
		v.Claim = &apiClaim{ModeratorID: a.ClaimedBy, Moderator: a.ClaimedByName, Until: a.ClaimExpiresAt}
	}
	return v
}

// apiQueueStates are the values of ?state= on the queue: every state, or all.
func apiQueueStates() string {
	names := make([]string, 0, len(tenants.ApplicationStates)+1)
	for _, s := range tenants.ApplicationStates {
		names = append(names, string(s))
	}
	return strings.Join(append(names, "all"), ", ")
}

// apiApplicationList is GET /api/v1/applications: the moderation queue as the moderators' page
// lists it. ?state= is one state (default pending) or all; open states are listed oldest first,
// the others and all newest first. ?q= searches names, addresses, identifiers and emails as the
// page does. Keyset pages: ?after=<next_after of the previous page>, ?limit= up to 200 (50).
// counts has the number of applications in each state, whatever the filters.
func (h *handler) apiApplicationList(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := tenants.QueueFilter{State: tenants.AppPending, Query: strings.TrimSpace(q.Get("q")), Limit: 50}
	switch s := q.Get("state"); {
	case s == "all":
		f.State = ""
	case s == "":
	case tenants.ApplicationState(s).Valid():
		f.State = tenants.ApplicationState(s)
	default:
		h.apiFail(w, r, http.StatusBadRequest, "invalid_parameter", "state",
			"unknown state "+strconv.Quote(s)+"; states are "+apiQueueStates())
		return
	}
	if len([]rune(f.Query)) > 200 {
		h.apiFail(w, r, http.StatusBadRequest, "invalid_parameter", "q", "the search is at most 200 characters")
		return
	}
	if v := q.Get("after"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			h.apiFail(w, r, http.StatusBadRequest, "invalid_parameter", "after", "after must be an application id (a whole number)")
			return
		}
		f.After = n
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 200 {
			h.apiFail(w, r, http.StatusBadRequest, "invalid_parameter", "limit", "limit must be a whole number from 1 to 200")
			return
		}
		f.Limit = n
	}
	counts, err := tenants.CountApplicationsByState(r.Context(), h.Pool)
	if err != nil {
		h.apiInternal(w, r, err)
		return
	}
	page, err := tenants.ListApplications(r.Context(), h.Pool, f)
	if err != nil {
		h.apiInternal(w, r, err)
		return
	}
	items := make([]apiApplication, len(page.Items))
	for i, a := range page.Items {
		items[i] = h.apiApplicationOf(a)
	}
	h.apiJSON(w, r, http.StatusOK, map[string]any{"applications": items, "counts": counts, "next_after": page.Next})
}

// apiApplicationID reads the {id} of the path; false means the response is written.
func (h *handler) apiApplicationID(w http.ResponseWriter, r *http.Request) (int64, bool) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		h.apiFail(w, r, http.StatusBadRequest, "invalid_parameter", "id",
			"application id "+strconv.Quote(r.PathValue("id"))+" is not a whole number")
		return 0, false
	}
	return id, true
}

// apiGetApplication reads the application of the path; false means the response is written
// (404 for an unknown one).
func (h *handler) apiGetApplication(w http.ResponseWriter, r *http.Request) (tenants.Application, bool) {
	id, ok := h.apiApplicationID(w, r)
	if !ok {
		return tenants.Application{}, false
	}
	a, err := tenants.GetApplication(r.Context(), h.Pool, id)
	if errors.Is(err, tenants.ErrNotFound) {
		h.apiFail(w, r, http.StatusNotFound, "not_found", "id", "no application #"+strconv.FormatInt(id, 10))
		return a, false
	}
	if err != nil {
		h.apiInternal(w, r, err)
		return a, false
	}
	return a, true
}

// apiMessageText checks a text an operator sends to an applicant: the form's text rules (NFC,
// no control or invisible characters) and the conversation's length. The text as stored, or an
// API error with its status.
func apiMessageText(field, s string, required bool) (string, int, apiError) {
	if strings.TrimSpace(s) == "" {
		if required {
			return "", http.StatusBadRequest, apiError{Code: "missing_field", Field: field, Message: field + " is required"}
		}
		return "", 0, apiError{}
	}
	text, err := tenants.NormalizeText(s, true)
	if err != nil {
		msg := field + " holds a character that cannot be sent"
		if rv := (*tenants.RuleViolation)(nil); errors.As(err, &rv) && rv.Detail != "" {
			msg = field + " holds the character " + rv.Detail + ", which cannot be sent (a control or invisible character)"
		}
		return "", http.StatusUnprocessableEntity, apiError{Code: "invalid_field", Field: field, Message: msg}
	}
	if n := len([]rune(text)); n > tenants.MaxMessageLength {
		return "", http.StatusUnprocessableEntity, apiError{Code: "invalid_field", Field: field,
			Message: field + " is " + strconv.Itoa(n) + " characters long; at most " + strconv.Itoa(tenants.MaxMessageLength)}
	}
	return text, 0, apiError{}
}

// apiDecisionFailed answers why a decision (verb: approved, rejected…) moving application a (as
// read before it) to state to was refused: a moderator's claim, a state that does not allow it or
// a taken address 409, an application gone meanwhile 404; anything else is an internal error.
func (h *handler) apiDecisionFailed(w http.ResponseWriter, r *http.Request, a tenants.Application, to tenants.ApplicationState, verb string, err error) {
	ref := "application #" + strconv.FormatInt(a.ID, 10)
	var claimed *tenants.ClaimedError
	switch {
	case errors.As(err, &claimed):
		h.apiFail(w, r, http.StatusConflict, "claimed", "", ref+" is claimed by moderator "+claimed.By+" until "+
			claimed.Until.In(h.location).Format("2006-01-02 15:04 MST")+"; it cannot be "+verb+" through the API while a moderator works on it")
	case errors.Is(err, tenants.ErrInvalidApplicationTransition):
		// The state that refused the move, which may be newer than a's.
		cur, gerr := tenants.GetApplication(r.Context(), h.Pool, a.ID)
		if gerr != nil {
			h.apiInternal(w, r, gerr)
			return
		}
		h.apiFail(w, r, http.StatusConflict, "invalid_state", "", ref+" is "+string(cur.State)+"; only "+statesThatCanBecome(to)+
			" applications can be "+verb)
	case errors.Is(err, tenants.ErrSlugTaken):
		h.apiFail(w, r, http.StatusConflict, "slug_taken", "", ref+" asks for the address "+strconv.Quote(a.Slug)+
			", which another space has meanwhile; it cannot be approved")
	case errors.Is(err, tenants.ErrNotFound):
		h.apiFail(w, r, http.StatusNotFound, "not_found", "id", "no "+ref)
	default:
		h.apiInternal(w, r, err)
	}
}

// statesThatCanBecome names the states an application can move to state to from, from the
// state machine: "pending or needs_info".
func statesThatCanBecome(to tenants.ApplicationState) string {
	var from []string
	for _, s := range tenants.ApplicationStates {
		if s.CanBecome(to) {
			from = append(from, string(s))
		}
	}
	if len(from) <= 1 {
		return strings.Join(from, "")
	}
	return strings.Join(from[:len(from)-1], ", ") + " or " + from[len(from)-1]
}
