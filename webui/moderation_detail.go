package webui

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/assospaces/spaces/tenants"
)

// timeNow is the clock claims are read against.
var timeNow = time.Now

// detailPage is the data of one application's page for moderators.
type detailPage struct {
	page
	App            tenants.Application
	Space          *tenants.Space
	SpaceURL       string
	SpaceQueue     *tenants.WaitingListStatus // the space's place in the queue, while it is queued
	Usage          *usageView                 // the space's usage; nil before it could be measured
	Conditions     []conditionLine
	Duplicates     []tenants.Duplicate
	History        []auditLine
	Messages       []tenants.Message
	Reasons        []tenants.RejectionReason
	Limits         string
	Error          string
	Question       string
	Note           string
	ReasonID       int64
	ClaimedByMe    bool
	ClaimedByOther bool
}

// applicationID reads the {id} of the path; false means the response is written.
func (h *handler) applicationID(w http.ResponseWriter, r *http.Request) (int64, bool) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		h.notFound(w, r)
		return 0, false
	}
	return id, true
}

// applicationDetail shows every field of an application, possible duplicates, its history and
// the decision forms.
func (h *handler) applicationDetail(w http.ResponseWriter, r *http.Request) {
	id, ok := h.applicationID(w, r)
	if !ok {
		return
	}
	h.renderDetail(w, r, http.StatusOK, id, nil)
}

func (h *handler) renderDetail(w http.ResponseWriter, r *http.Request, status int, id int64, fill func(*detailPage)) {
	ctx := r.Context()
	a, err := tenants.GetApplication(ctx, h.Pool, id)
	if errors.Is(err, tenants.ErrNotFound) {
		h.notFound(w, r)
		return
	}
	if err != nil {
		h.serverError(w, r, err)
		return
	}
	m, _ := moderatorFrom(ctx)
	now := timeNow()
	p := detailPage{page: h.newPage(r), App: a, ClaimedByMe: a.ClaimLive(now) && a.ClaimedBy == m.ID,
		ClaimedByOther: a.ClaimedByOther(m.ID, now)}
	p.Limits = p.T("action.approve.help", "address", h.spaceAddress(a.Slug), "storage", p.Size(h.DefaultLimits.StorageBytes),
		"accounts", h.DefaultLimits.Accounts)
	if done := r.URL.Query().Get("done"); done != "" {
		if _, ok := catalog["done."+done]; ok {
			p.Notice = p.T("done." + done)
		}
	}
	if p.Duplicates, err = tenants.PossibleDuplicates(ctx, h.Pool, a); err != nil {
		h.serverError(w, r, err)
		return
	}
	if p.Messages, err = tenants.ApplicationMessages(ctx, h.Pool, a.ID); err != nil {
		h.serverError(w, r, err)
		return
	}
	if p.Reasons, err = tenants.ListRejectionReasons(ctx, h.Pool, false); err != nil {
		h.serverError(w, r, err)
		return
	}
	rec, err := h.applicationRecord(ctx, a)
	if err != nil {
		h.serverError(w, r, err)
		return
	}
	trail := rec.Trail
	p.Space, p.SpaceURL, p.SpaceQueue = rec.Space, rec.SpaceURL, rec.Queue
	if p.Space != nil {
		if p.Usage, err = h.spaceUsage(ctx, p.page, *p.Space); err != nil {
			h.serverError(w, r, err)
			return
		}
		p.Conditions = p.conditionLines(p.Space.Conditions)
	}
	names, err := h.actorNames(ctx, trail)
	if err != nil {
		h.serverError(w, r, err)
		return
	}
	for _, e := range trail {
		p.History = append(p.History, p.auditLine(e, names))
	}
	if fill != nil {
		fill(&p)
	}
	h.render(w, r, status, "detail", p)
}

// decisionFailed re-renders the application with what stopped a decision, or logs a real error.
func (h *handler) decisionFailed(w http.ResponseWriter, r *http.Request, id int64, err error, fill func(*detailPage)) {
	var claimed *tenants.ClaimedError
	key, args := "", []any{}
	switch {
	case errors.As(err, &claimed):
		key, args = "err.claimed", []any{"name", claimed.By, "time", claimed.Until.In(h.location).Format("15:04")}
	case errors.Is(err, tenants.ErrInvalidApplicationTransition):
		a, gerr := tenants.GetApplication(r.Context(), h.Pool, id)
		if gerr != nil {
			h.serverError(w, r, gerr)
			return
		}
		key, args = "err.decided", []any{"state", translate(langFrom(r.Context()), "state."+string(a.State))}
	case errors.Is(err, tenants.ErrSlugTaken):
		key = "err.slug_in_use"
	case errors.Is(err, tenants.ErrNotFound):
		h.notFound(w, r)
		return
	default:
		h.serverError(w, r, err)
		return
	}
	h.renderDetail(w, r, http.StatusConflict, id, func(p *detailPage) {
		if key == "err.slug_in_use" {
			args = []any{"slug", p.App.Slug}
		}
		p.Error = p.T(key, args...)
		if fill != nil {
			fill(p)
		}
	})
}
