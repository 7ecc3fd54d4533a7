package webui

import (
	"net/http"
	"strings"
	"time"

	"github.com/assospaces/spaces/jobs"
	"github.com/assospaces/spaces/tenants"
)

// lostPage is the data of the lost-link page.
type lostPage struct {
	page
	Email string
	Error string
	Sent  bool
}

// statusLostShow asks for the email address an application was made with.
func (h *handler) statusLostShow(w http.ResponseWriter, r *http.Request) {
	h.render(w, r, http.StatusOK, "lost", lostPage{page: h.newPage(r), Sent: r.URL.Query().Get("sent") == "1"})
}

// statusLostSubmit asks for a new status link to be mailed to that address if an application uses
// it. The request does the same work whether or not one does: it counts against the client's
// network (tenants.LostLinkNetworkRule, in Postgres) and enqueues one job, whose worker decides
// (workers.StatusLinkWorker); the answer is the same redirect. The link the application has keeps
// working until the new one is opened, so a stranger typing someone's address cuts nobody off.
func (h *handler) statusLostSubmit(w http.ResponseWriter, r *http.Request) {
	email := strings.TrimSpace(r.PostForm.Get("email"))
	if email == "" || len(email) > 254 || !plainEmail(email) || formValidator().Var(email, "email") != nil {
		p := h.newPage(r)
		h.render(w, r, http.StatusUnprocessableEntity, "lost", lostPage{page: p, Email: email, Error: p.T("err.email")})
		return
	}
	network := clientNetwork(h.clientAddr(r))
	key := tenants.ThrottleKey{Rule: tenants.LostLinkNetworkRule, Key: network.String()}
	until, err := tenants.ThrottleLockedUntil(r.Context(), h.Pool, key)
	if err != nil {
		h.serverError(w, r, err)
		return
	}
	if !until.IsZero() {
		h.Logger.WarnContext(r.Context(), "lost-link request refused: too many from this network", "network", network.String())
		retryAfter(w, time.Until(until))
		p := h.newPage(r)
		h.showError(w, r, http.StatusTooManyRequests, "error.ratelimited", p.T("lost.ratelimited"))
		return
	}
	if _, err := tenants.ThrottleFailure(r.Context(), h.Pool, key); err != nil {
		h.serverError(w, r, err)
		return
	}
	if _, err := h.Jobs.Insert(r.Context(), jobs.NewStatusLinkRequest(h.box, email), nil); err != nil {
		h.serverError(w, r, err)
		return
	}
	seeOther(w, r, "/status/lost?sent=1")
}
