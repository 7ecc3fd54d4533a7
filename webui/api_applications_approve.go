package webui

import (
	"context"
	"net/http"
	"strconv"

	"github.com/jackc/pgx/v5"

	"github.com/assospaces/spaces/jobs"
	"github.com/assospaces/spaces/quota"
	"github.com/assospaces/spaces/tenants"
)

// apiApplicationApprove is POST /api/v1/applications/{id}/approve: what the moderators' Approve
// button does, as the token. The space is created queued with the default limits (the page
// offers no others, so neither does the API: the body is empty or {}), and its provisioning job
// and the applicant's mail are enqueued in the same transaction. 202: provisioning follows.
func (h *handler) apiApplicationApprove(w http.ResponseWriter, r *http.Request) {
	a, ok := h.apiGetApplication(w, r)
	if !ok {
		return
	}
	var body struct{}
	if !h.apiDecodeBody(w, r, &body, "empty: the space gets the default limits ("+
		quota.FormatSize(h.DefaultLimits.StorageBytes)+", "+strconv.Itoa(h.DefaultLimits.Accounts)+" accounts), as on the moderators' page") {
		return
	}
	actor := apiActor(r.Context())
	_, _, err := tenants.ApproveApplication(r.Context(), h.Pool, a.ID, tenants.Approval{Decider: tenants.Decider{Actor: actor},
		Limits: h.DefaultLimits, Then: func(ctx context.Context, tx pgx.Tx, a tenants.Application, s tenants.Space) error {
			if _, err := h.Jobs.InsertTx(ctx, tx, jobs.ProvisionSpaceArgs{SpaceID: s.ID}, nil); err != nil {
				return err
			}
			return h.enqueueMail(ctx, tx, a, "approved", nil, nil)
		}})
	if err != nil {
		h.apiDecisionFailed(w, r, a, tenants.AppApproved, "approved", err)
		return
	}
	h.Logger.InfoContext(r.Context(), "application approved", "application", a.ID, "slug", a.Slug, "actor", actor)
	h.apiDecided(w, r, a.ID, http.StatusAccepted)
}

// apiDecided answers a decision on application id with what show answers, read after it.
func (h *handler) apiDecided(w http.ResponseWriter, r *http.Request, id int64, status int) {
	a, err := tenants.GetApplication(r.Context(), h.Pool, id)
	if err != nil {
		h.apiInternal(w, r, err)
		return
	}
	v, err := h.apiApplicationView(r, a)
	if err != nil {
		h.apiInternal(w, r, err)
		return
	}
	h.apiJSON(w, r, status, v)
}
