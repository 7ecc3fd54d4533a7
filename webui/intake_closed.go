package webui

import (
	"context"
	"net/http"

	"github.com/assospaces/spaces/tenants"
)

// intakeClosedPage is the page the form's address shows while the intake is closed: why, the
// operators' message, and the partner hosts that take associations now.
type intakeClosedPage struct {
	page
	ClosedBy string // tenants.IntakePaused or tenants.IntakeWaitingList
	Message  string // the operators' message in the page's language, or ""
	Partners []tenants.Partner
	// Typed is the form a person sent while it was closed: nothing was recorded, and the page
	// gives back what they typed.
	Typed *applicationForm
}

// intakeClosed answers r with the closed page when the intake is closed, with status, and the
// form typed when one was sent (nil for the empty form); false when the form is open. When the
// intake cannot be read the form stays open: sending it is what reaches the database, and it
// fails there on its own terms.
func (h *handler) intakeClosed(w http.ResponseWriter, r *http.Request, status int, typed *applicationForm) bool {
	st, err := tenants.GetIntake(r.Context(), h.Pool)
	if err != nil {
		h.Logger.WarnContext(r.Context(), "read the intake: the form is shown", "err", err)
		return false
	}
	if !st.Closed {
		return false
	}
	p := intakeClosedPage{page: h.newPage(r), ClosedBy: st.ClosedBy, Typed: typed}
	p.Message = st.Message(p.Lang)
	p.Partners = h.openPartners(r.Context())
	h.render(w, r, status, "intake_closed", p)
	return true
}

// openPartners lists the open partner hosts to offer an applicant; none when they cannot be
// read (the page says the rest).
func (h *handler) openPartners(ctx context.Context) []tenants.Partner {
	ps, err := tenants.ListPartners(ctx, h.Pool, true)
	if err != nil {
		h.Logger.WarnContext(ctx, "list partner hosts: none offered", "err", err)
		return nil
	}
	return ps
}

// partnersForWaiting are the open partner hosts offered to an applicant whose space waits for
// room, while the intake is closed (paused, or the waiting list at its threshold); none otherwise.
func (h *handler) partnersForWaiting(ctx context.Context, s *tenants.Space, q *tenants.WaitingListStatus) []tenants.Partner {
	if s == nil || s.State != tenants.SpaceQueued || q == nil || !q.WaitingForRoom {
		return nil
	}
	st, err := tenants.GetIntake(ctx, h.Pool)
	if err != nil {
		h.Logger.WarnContext(ctx, "read the intake: no partner host offered", "err", err)
		return nil
	}
	if !st.Closed {
		return nil
	}
	return h.openPartners(ctx)
}
