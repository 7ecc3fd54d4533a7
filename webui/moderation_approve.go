package webui

import (
	"context"
	"net/http"
	"strconv"

	"github.com/jackc/pgx/v5"

	"github.com/assospaces/spaces/jobs"
	"github.com/assospaces/spaces/tenants"
)

// approve accepts an application: the space is created as queued with the default limits, and
// its provisioning job and the applicant's mail are enqueued in the same transaction.
func (h *handler) approve(w http.ResponseWriter, r *http.Request) {
	id, ok := h.applicationID(w, r)
	if !ok {
		return
	}
	m, _ := moderatorFrom(r.Context())
	_, _, err := tenants.ApproveApplication(r.Context(), h.Pool, id, tenants.Approval{
		Decider: tenants.Decider{ModeratorID: m.ID},
		Limits:  h.DefaultLimits,
		Then: func(ctx context.Context, tx pgx.Tx, a tenants.Application, s tenants.Space) error {
			if _, err := h.Jobs.InsertTx(ctx, tx, jobs.ProvisionSpaceArgs{SpaceID: s.ID}, nil); err != nil {
				return err
			}
			return h.enqueueMail(ctx, tx, a, "approved", nil, nil)
		},
	})
	if err != nil {
		h.decisionFailed(w, r, id, err, nil)
		return
	}
	seeOther(w, r, "/moderation/applications/"+strconv.FormatInt(id, 10)+"?done=approve")
}
