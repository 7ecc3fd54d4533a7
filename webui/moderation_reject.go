package webui

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/assospaces/spaces/tenants"
)

// reject refuses an application with a reason picked from the templates and an optional note;
// the applicant is mailed the reason in their language.
func (h *handler) reject(w http.ResponseWriter, r *http.Request) {
	id, ok := h.applicationID(w, r)
	if !ok {
		return
	}
	m, _ := moderatorFrom(r.Context())
	reasonID, _ := strconv.ParseInt(r.PostForm.Get("reason_id"), 10, 64)
	note := strings.TrimSpace(strings.ReplaceAll(r.PostForm.Get("note"), "\r\n", "\n"))
	keep := func(p *detailPage) { p.Note, p.ReasonID = note, reasonID }
	if reasonID <= 0 || len([]rune(note)) > tenants.MaxMessageLength || !cleanText(note, true) {
		h.renderDetail(w, r, http.StatusUnprocessableEntity, id, func(p *detailPage) {
			keep(p)
			p.Error = p.T("err.reason")
		})
		return
	}
	_, err := tenants.RejectApplication(r.Context(), h.Pool, id, tenants.Rejection{
		Decider: tenants.Decider{ModeratorID: m.ID}, ReasonID: reasonID, Note: note,
		Then: func(ctx context.Context, tx pgx.Tx, a tenants.Application) error {
			return h.enqueueMail(ctx, tx, a, "rejected", map[string]string{"Reason": a.DecisionReason}, nil)
		},
	})
	if errors.Is(err, tenants.ErrNotFound) {
		// The reason was archived meanwhile.
		h.renderDetail(w, r, http.StatusUnprocessableEntity, id, func(p *detailPage) {
			keep(p)
			p.Error = p.T("err.reason")
		})
		return
	}
	if err != nil {
		h.decisionFailed(w, r, id, err, keep)
		return
	}
	seeOther(w, r, "/moderation/applications/"+strconv.FormatInt(id, 10)+"?done=reject")
}
