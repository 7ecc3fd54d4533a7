package webui

import (
	"context"
	"net/http"

	"github.com/jackc/pgx/v5"

	"github.com/assospaces/spaces/tenants"
)

// apiApplicationAsk is POST /api/v1/applications/{id}/ask with {"message": "…"}: what the
// moderators' "ask for more information" form does, as the token. The application waits for
// the applicant's answer (needs_info); the question is on their status page and mailed.
func (h *handler) apiApplicationAsk(w http.ResponseWriter, r *http.Request) {
	a, ok := h.apiGetApplication(w, r)
	if !ok {
		return
	}
	var body struct {
		Message string `json:"message"`
	}
	if !h.apiDecodeBody(w, r, &body, `{"message": "…"}`) {
		return
	}
	question, status, apiErr := apiMessageText("message", body.Message, true)
	if status != 0 {
		h.apiFail(w, r, status, apiErr.Code, apiErr.Field, apiErr.Message)
		return
	}
	actor := apiActor(r.Context())
	_, err := tenants.AskForInformation(r.Context(), h.Pool, a.ID, tenants.Question{Decider: tenants.Decider{Actor: actor},
		Text: question, Then: func(ctx context.Context, tx pgx.Tx, a tenants.Application) error {
			return h.enqueueMail(ctx, tx, a, "needs_info", map[string]string{"Question": question}, nil)
		}})
	if err != nil {
		h.apiDecisionFailed(w, r, a, tenants.AppNeedsInfo, "asked for more information", err)
		return
	}
	h.Logger.InfoContext(r.Context(), "application asked for information", "application", a.ID, "actor", actor)
	h.apiDecided(w, r, a.ID, http.StatusOK)
}
