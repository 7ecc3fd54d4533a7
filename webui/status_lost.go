package webui

import (
	"context"
	"net/http"
	"strings"

	"github.com/jackc/pgx/v5"

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

// statusLostSubmit mails a new status link to that address if an application uses it. The answer
// is the same either way, so that the page does not tell who applied.
func (h *handler) statusLostSubmit(w http.ResponseWriter, r *http.Request) {
	email := strings.TrimSpace(r.PostForm.Get("email"))
	if email == "" || len(email) > 254 || !plainEmail(email) || formValidator().Var(email, "email") != nil {
		p := h.newPage(r)
		h.render(w, r, http.StatusUnprocessableEntity, "lost", lostPage{page: p, Email: email, Error: p.T("err.email")})
		return
	}
	if !h.applyLimit.allow(h.clientAddr(r)) {
		p := h.newPage(r)
		h.showError(w, r, http.StatusTooManyRequests, "error.ratelimited", p.T("apply.ratelimited"))
		return
	}
	token := h.statusToken(tenants.NewSecret(submissionPrefix))
	_, err := tenants.RenewStatusLink(r.Context(), h.Pool, email, token, func(ctx context.Context, tx pgx.Tx, a tenants.Application) error {
		return h.enqueueMail(ctx, tx, a, "status_link", nil, map[string]string{"StatusURL": h.statusURL(token)})
	})
	if err != nil {
		h.serverError(w, r, err)
		return
	}
	seeOther(w, r, "/status/lost?sent=1")
}
