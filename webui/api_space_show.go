package webui

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/assospaces/spaces/tenants"
)

// apiSpaceView is one space as the API shows it: the space (state, failure reason, conditions,
// generation and observed generation, limits), while it is queued its place in the queue, its
// last measured usage (null when never measured), its usage per day over historyDays, and its
// last decisions (newest first, at most spaceViewDecisions).
type apiSpaceView struct {
	Space     tenants.Space              `json:"space"`
	Queue     *tenants.WaitingListStatus `json:"waiting_list,omitempty"`
	Usage     *tenants.Usage             `json:"usage"`
	History   []tenants.UsagePoint       `json:"history"`
	Decisions []apiAuditEntry            `json:"decisions"`
}

// spaceViewDecisions is how many of a space's audit entries its view carries.
const spaceViewDecisions = 20

// spaceView reads a space by slug with its queue status and usage; ErrNotFound when there is none.
func (h *handler) spaceView(r *http.Request, slug string) (apiSpaceView, error) {
	ctx := r.Context()
	s, err := tenants.GetSpaceBySlug(ctx, h.Pool, slug)
	if err != nil {
		return apiSpaceView{}, err
	}
	v := apiSpaceView{Space: s}
	if v.Queue, err = h.waitingListStatus(ctx, s); err != nil {
		return v, err
	}
	u, err := tenants.GetUsage(ctx, h.Pool, s.ID)
	if err != nil {
		return v, err
	}
	if u.Collected() || u.Stale() {
		v.Usage = &u
	}
	v.History, err = tenants.UsageHistory(ctx, h.Pool, s.ID, timeNow().Add(-historyDays*24*time.Hour))
	if err != nil {
		return v, err
	}
	if v.History == nil {
		v.History = []tenants.UsagePoint{}
	}
	items, err := tenants.ListAudit(ctx, h.Pool, tenants.AuditFilter{SpaceID: s.ID, Limit: spaceViewDecisions})
	v.Decisions = h.apiAuditEntries(items)
	return v, err
}

// applicationRecord is what the moderators' page and the applicant's status page both show of an
// application: its audit trail followed by its space's, and its space (nil before approval) with
// the space's address and place in the queue.
type applicationRecord struct {
	Trail    []tenants.AuditEntry
	Space    *tenants.Space
	SpaceURL string
	Queue    *tenants.WaitingListStatus
}

func (h *handler) applicationRecord(ctx context.Context, a tenants.Application) (applicationRecord, error) {
	var rec applicationRecord
	var err error
	if rec.Trail, err = tenants.AuditTrail(ctx, h.Pool, "application", a.ID); err != nil || a.SpaceID == 0 {
		return rec, err
	}
	s, err := tenants.GetSpace(ctx, h.Pool, a.SpaceID)
	if err != nil {
		return rec, err
	}
	rec.Space, rec.SpaceURL = &s, h.spaceAddress(s.Slug)
	if rec.Queue, err = h.waitingListStatus(ctx, s); err != nil {
		return rec, err
	}
	more, err := tenants.AuditTrail(ctx, h.Pool, "space", s.ID)
	rec.Trail = append(rec.Trail, more...)
	return rec, err
}

// waitingListStatus is a queued space's place in the queue under the capacity ceiling; nil for a space
// in any other state. The API, the moderators' page and the applicant's status page share it.
func (h *handler) waitingListStatus(ctx context.Context, s tenants.Space) (*tenants.WaitingListStatus, error) {
	if s.State != tenants.SpaceQueued {
		return nil, nil
	}
	ceiling := 0
	if h.Ceiling != nil {
		c, err := h.Ceiling(ctx)
		if err != nil {
			return nil, err
		}
		ceiling = c
	}
	st, err := tenants.SpaceWaitingListStatus(ctx, h.Pool, s.ID, ceiling)
	if err != nil {
		return nil, err
	}
	return &st, nil
}

// apiSpaceShow is GET /api/v1/spaces/{slug}.
func (h *handler) apiSpaceShow(w http.ResponseWriter, r *http.Request) {
	v, err := h.spaceView(r, r.PathValue("slug"))
	if errors.Is(err, tenants.ErrNotFound) {
		h.apiFail(w, r, http.StatusNotFound, "not_found", "slug", "no space named "+r.PathValue("slug"))
		return
	}
	if err != nil {
		h.apiInternal(w, r, err)
		return
	}
	h.apiJSON(w, r, http.StatusOK, v)
}
