package webui

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/assospaces/spaces/jobs"
	"github.com/assospaces/spaces/quota"
	"github.com/assospaces/spaces/tenants"
)

// spacePage is the data of one space's page for moderators: what it is, what it uses, what the
// reconciler sees, what was decided, and for operators the forms that act on it.
type spacePage struct {
	page
	Space      tenants.Space
	Address    string
	Queue      *tenants.WaitingListStatus // its place in the queue, while it is queued
	Limits     string                     // 40 GB, 50 comptes
	Usage      *usageView                 // nil before it could be measured
	Conditions []conditionLine
	History    []auditLine
	// AppURL is its application's page; empty when none is left (erased, or never one).
	AppURL string
	AppID  int64

	// What the state says, in words: when a deleting space is purged, what a restore brings back.
	PurgeAt      string
	PurgeDue     bool   // the grace period is over: the purge is under way
	RestoreTo    string // the state a restore brings back, named
	RestoreQueue bool   // a restore puts it back in the queue
	PurgedAt     string
	ContactGone  bool // erased with the space's personal data

	// The actions its state allows; only operators get the forms.
	CanResize, CanSuspend, CanResume, CanDelete, CanRestore bool
	// The deletion's grace period and what it means: in days, and the day it would end now.
	GraceDays  int
	GraceUntil string
	// Mailed tells whether the association hears of a deletion now (not for a space never prepared).
	Mailed bool
	// UsedNow is the last measured usage, said in the resize form; empty when never measured.
	UsedNow string

	// The forms as typed, and what stopped them: Error at the top (role=alert) and at its field.
	Storage, Accounts           string
	Force                       bool
	SuspendReason, DeleteReason string
	Error                       string
	ErrorField                  string // the id of the field Error is about, without f-
	// DeleteOpen keeps the deletion's disclosure open when it was typed in.
	DeleteOpen bool
}

// FieldError is Error when it is about the field named, for the field itself.
func (p spacePage) FieldError(name string) string {
	if p.ErrorField == name {
		return p.Error
	}
	return ""
}

// spaceShow is GET /moderation/spaces/{slug}.
func (h *handler) spaceShow(w http.ResponseWriter, r *http.Request) {
	h.renderSpace(w, r, http.StatusOK, nil)
}

// renderSpace renders the page of the space named in the path with status; fill, if any, sets
// what a refused form needs shown (typed values, the error).
func (h *handler) renderSpace(w http.ResponseWriter, r *http.Request, status int, fill func(*spacePage)) {
	ctx := r.Context()
	s, err := tenants.GetSpaceBySlug(ctx, h.Pool, r.PathValue("slug"))
	if errors.Is(err, tenants.ErrNotFound) {
		h.notFound(w, r)
		return
	}
	if err != nil {
		h.serverError(w, r, err)
		return
	}
	p := spacePage{page: h.newPage(r), Space: s, Address: h.spaceAddress(s.Slug),
		Storage: quota.FormatSize(s.Limits.StorageBytes), Accounts: strconv.Itoa(s.Limits.Accounts)}
	p.Limits = p.limitsText(s.Limits)
	if err := h.fillSpacePage(ctx, &p); err != nil {
		h.serverError(w, r, err)
		return
	}
	switch done := r.URL.Query().Get("done"); done {
	case "resize":
		p.Notice = p.T("spaces.done.resize", "limits", p.Limits)
	case "resize_same", "suspend", "resume", "restore_queued":
		p.Notice = p.T("spaces.done." + done)
	case "delete", "delete_quiet":
		p.Notice = p.T("spaces.done."+done, "when", p.PurgeAt)
	case "restore":
		p.Notice = p.T("spaces.done.restore", "state", p.T("space.state."+string(s.State)))
	}
	if fill != nil {
		fill(&p)
	}
	h.render(w, r, status, "space", p)
}

// fillSpacePage reads what the page shows besides the space itself.
func (h *handler) fillSpacePage(ctx context.Context, p *spacePage) error {
	s := p.Space
	var err error
	if p.Queue, err = h.waitingListStatus(ctx, s); err != nil {
		return err
	}
	u, err := tenants.GetUsage(ctx, h.Pool, s.ID)
	if err != nil {
		return err
	}
	// As spaceUsage, with the level of the current limit.
	if u.Collected() || u.Stale() || s.State == tenants.SpaceActive {
		v := p.newUsageView(s, levelAtLimit(s, u))
		points, err := tenants.UsageHistory(ctx, h.Pool, s.ID, timeNow().Add(-historyDays*24*time.Hour))
		if err != nil {
			return err
		}
		v.Chart = p.newUsageChart(s.Limits.StorageBytes, points)
		p.Usage = &v
	}
	p.Conditions = p.conditionLines(s.Conditions)
	trail, err := tenants.AuditTrail(ctx, h.Pool, "space", s.ID)
	if err != nil {
		return err
	}
	names, err := h.actorNames(ctx, trail)
	if err != nil {
		return err
	}
	for i := len(trail) - 1; i >= 0; i-- {
		p.History = append(p.History, p.auditLine(trail[i], names))
	}
	if p.AppID, err = tenants.ApplicationOfSpace(ctx, h.Pool, s.ID); err != nil {
		return err
	}
	if p.AppID != 0 {
		p.AppURL = "/moderation/applications/" + strconv.FormatInt(p.AppID, 10)
	}

	now := timeNow()
	switch s.State {
	case tenants.SpaceDeleting:
		if s.DeleteAfter != nil {
			p.PurgeAt = p.DateTime(*s.DeleteAfter)
			p.PurgeDue = !now.Before(*s.DeleteAfter)
		}
		p.RestoreTo = p.T("space.state." + string(s.RestoreState))
		p.RestoreQueue = s.RestoreState == tenants.SpaceQueued
	case tenants.SpaceDeleted:
		if s.PurgedAt != nil {
			p.PurgedAt = p.DateTime(*s.PurgedAt)
		}
		p.ContactGone = s.ContactEmail == tenants.PurgedContact
	}
	changeable := s.State != tenants.SpaceDeleting && s.State != tenants.SpaceDeleted
	p.CanResize, p.CanDelete = changeable, changeable
	p.CanSuspend = s.State == tenants.SpaceActive
	p.CanResume = s.State == tenants.SpaceSuspended
	p.CanRestore = s.State == tenants.SpaceDeleting && !p.PurgeDue
	grace := h.DeleteGrace
	if grace <= 0 {
		grace = jobs.DefaultDeleteGrace
	}
	p.GraceDays = int(grace / (24 * time.Hour))
	p.GraceUntil = p.Date(now.Add(grace))
	p.Mailed = s.State != tenants.SpaceQueued
	if u.Collected() {
		p.UsedNow = p.T("spaces.used.value", "storage", p.Size(u.UsedBytes), "accounts", p.Num(u.AccountsEnabled))
	}
	return nil
}
