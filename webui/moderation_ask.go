package webui

import (
	"context"
	"net/http"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/assospaces/spaces/tenants"
)

// ask sends an application back to its applicant with a question, by mail and on the status page.
func (h *handler) ask(w http.ResponseWriter, r *http.Request) {
	id, ok := h.applicationID(w, r)
	if !ok {
		return
	}
	m, _ := moderatorFrom(r.Context())
	question := strings.TrimSpace(strings.ReplaceAll(r.PostForm.Get("question"), "\r\n", "\n"))
	keep := func(p *detailPage) { p.Question = question }
	if question == "" || len([]rune(question)) > tenants.MaxMessageLength || !cleanText(question, true) {
		h.renderDetail(w, r, http.StatusUnprocessableEntity, id, func(p *detailPage) {
			keep(p)
			p.Error = p.T("err.question")
		})
		return
	}
	_, err := tenants.AskForInformation(r.Context(), h.Pool, id, tenants.Question{Decider: tenants.Decider{ModeratorID: m.ID},
		Text: question, Then: func(ctx context.Context, tx pgx.Tx, a tenants.Application) error {
			return h.enqueueMail(ctx, tx, a, "needs_info", map[string]string{"Question": question}, nil)
		}})
	if err != nil {
		h.decisionFailed(w, r, id, err, keep)
		return
	}
	seeOther(w, r, "/moderation/applications/"+strconv.FormatInt(id, 10)+"?done=ask")
}
