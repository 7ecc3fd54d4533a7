package webui

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/assospaces/spaces/tenants"
)

// queuePage is the data of the moderators' queue.
type queuePage struct {
	page
	Counts  map[tenants.ApplicationState]int64
	Total   int64
	States  []tenants.ApplicationState
	Filter  tenants.QueueFilter
	StateQ  string
	Items   []tenants.Application
	NextURL string
	Paged   bool
}

// StateURL is the queue's address for one state, keeping the search.
func (p queuePage) StateURL(state string) string {
	q := url.Values{}
	q.Set("state", state)
	if p.Filter.Query != "" {
		q.Set("q", p.Filter.Query)
	}
	if p.Filter.Claimed != "" {
		q.Set("claimed", p.Filter.Claimed)
	}
	return "/moderation?" + q.Encode()
}

// ClaimLive tells whether a's claim is live now.
func (p queuePage) ClaimLive(a tenants.Application) bool { return a.ClaimLive(timeNow()) }

// queue lists applications: pending ones oldest first by default, with counts per state,
// filters, search and keyset pagination.
func (h *handler) queue(w http.ResponseWriter, r *http.Request) {
	m, _ := moderatorFrom(r.Context())
	q := r.URL.Query()
	stateQ := q.Get("state")
	if stateQ == "" {
		stateQ = string(tenants.AppPending)
	}
	f := tenants.QueueFilter{Query: strings.TrimSpace(q.Get("q")), ModeratorID: m.ID, Limit: 50}
	if len(f.Query) > 200 {
		f.Query = f.Query[:200]
	}
	if st := tenants.ApplicationState(stateQ); st.Valid() {
		f.State = st
	} else {
		stateQ = "all"
	}
	if c := q.Get("claimed"); c == "mine" || c == "unclaimed" {
		f.Claimed = c
	}
	f.After, _ = strconv.ParseInt(q.Get("after"), 10, 64)
	counts, err := tenants.CountApplicationsByState(r.Context(), h.Pool)
	if err != nil {
		h.serverError(w, r, err)
		return
	}
	list, err := tenants.ListApplications(r.Context(), h.Pool, f)
	if err != nil {
		h.serverError(w, r, err)
		return
	}
	p := queuePage{page: h.newPage(r), Counts: counts, States: tenants.ApplicationStates, Filter: f, StateQ: stateQ,
		Items: list.Items, Paged: f.After != 0}
	for _, n := range counts {
		p.Total += n
	}
	if list.Next != 0 {
		nq := url.Values{}
		nq.Set("state", stateQ)
		if f.Query != "" {
			nq.Set("q", f.Query)
		}
		if f.Claimed != "" {
			nq.Set("claimed", f.Claimed)
		}
		nq.Set("after", strconv.FormatInt(list.Next, 10))
		p.NextURL = "/moderation?" + nq.Encode()
	}
	h.render(w, r, http.StatusOK, "queue", p)
}
