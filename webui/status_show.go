package webui

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/assospaces/spaces/tenants"
)

// statusPage is the data of the applicant's status page.
type statusPage struct {
	page
	Token      string
	App        tenants.Application
	Space      *tenants.Space
	SpaceURL   string
	SpaceText  string // where the space is, in plain words; never its internal failure reason
	History    []historyItem
	Messages   []tenants.Message
	ErasedOn   time.Time
	Reply      string
	ReplyError string
	// Partners are the partner hosts offered while the space waits for room and the intake is closed.
	Partners []tenants.Partner
}

// loadStatus finds the application of the token in the path, answering a bad link itself.
func (h *handler) loadStatus(w http.ResponseWriter, r *http.Request) (tenants.Application, string, bool) {
	token := r.PathValue("token")
	if !strings.HasPrefix(token, statusTokenPrefix) || len(token) > 100 {
		h.badStatusLink(w, r)
		return tenants.Application{}, "", false
	}
	a, err := tenants.GetApplicationByToken(r.Context(), h.Pool, token)
	if errors.Is(err, tenants.ErrNotFound) {
		h.badStatusLink(w, r)
		return tenants.Application{}, "", false
	}
	if err != nil {
		h.serverError(w, r, err)
		return tenants.Application{}, "", false
	}
	return a, token, true
}

func (h *handler) badStatusLink(w http.ResponseWriter, r *http.Request) {
	p := h.newPage(r)
	h.showError(w, r, http.StatusNotFound, "error.badlink", p.T("error.badlink.text", "days", int(h.Retention.Hours()/24)))
}

// statusShow shows an application's state, history and conversation to its applicant, with the
// forms to answer a question or withdraw.
func (h *handler) statusShow(w http.ResponseWriter, r *http.Request) {
	a, token, ok := h.loadStatus(w, r)
	if !ok {
		return
	}
	h.renderStatus(w, r, http.StatusOK, a, token, nil)
}

func (h *handler) renderStatus(w http.ResponseWriter, r *http.Request, status int, a tenants.Application, token string, fill func(*statusPage)) {
	ctx := r.Context()
	p := statusPage{page: h.newPage(r), Token: token, App: a}
	w.Header().Set("X-Robots-Tag", "noindex, nofollow")
	switch done := r.URL.Query().Get("done"); done {
	case "submitted":
		p.Notice = p.T("done.submitted", "email", a.ContactEmail)
	case "reply", "withdraw":
		p.Notice = p.T("done." + done)
	case "moved":
		p.Notice = p.T("status.moved")
	}
	rec, err := h.applicationRecord(ctx, a)
	if err != nil {
		h.serverError(w, r, err)
		return
	}
	p.Space, p.SpaceURL = rec.Space, rec.SpaceURL
	if rec.Space != nil {
		p.SpaceText = spaceText(p.page, *rec.Space, rec.Queue)
	}
	p.Partners = h.partnersForWaiting(ctx, rec.Space, rec.Queue)
	for _, e := range rec.Trail {
		if text, ok := p.applicantLine(e); ok {
			p.History = append(p.History, historyItem{At: e.At, Text: text})
		}
	}
	if p.Messages, err = tenants.ApplicationMessages(ctx, h.Pool, a.ID); err != nil {
		h.serverError(w, r, err)
		return
	}
	if a.State == tenants.AppRejected || a.State == tenants.AppWithdrawn {
		p.ErasedOn = a.StateChangedAt.Add(h.Retention)
	}
	if fill != nil {
		fill(&p)
	}
	h.render(w, r, status, "status", p)
}

// spaceText says where an approved application's space is, for its applicant: how many spaces
// wait before it when the capacity ceiling holds it back, or that it is being prepared, ready,
// suspended… A failure is told as a problem the team will fix, without its internal reason.
func spaceText(p page, s tenants.Space, q *tenants.WaitingListStatus) string {
	switch s.State {
	case tenants.SpaceQueued:
		switch {
		case q == nil || !q.WaitingForRoom:
			return p.T("status.space.queued.soon")
		case q.Position <= 1:
			return p.T("status.space.queued.next")
		default:
			return p.T("status.space.queued.waiting", "n", q.Position-1)
		}
	case tenants.SpaceProvisioning, tenants.SpaceActive, tenants.SpaceSuspended, tenants.SpaceDeleting,
		tenants.SpaceDeleted, tenants.SpaceFailed:
		return p.T("status.space." + string(s.State) + ".text")
	}
	return ""
}
