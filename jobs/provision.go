package jobs

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/assospaces/spaces/tenants"
)

// AdmitSpacesArgs asks for a pass over the spaces that should be provisioning: the queued ones
// that now fit under the capacity ceiling, in approval order, and any provisioning space whose
// job was lost. It runs periodically on the leader and is kicked whenever a space gives its
// place back (it failed, or was deleted).
type AdmitSpacesArgs struct{}

// Kind names the job type.
func (AdmitSpacesArgs) Kind() string { return "admit_spaces" }

// InsertOpts: one waiting pass is enough; a kick while one waits is a no-op.
func (AdmitSpacesArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{
		Queue:       QueueProvision,
		MaxAttempts: 3,
		UniqueOpts: river.UniqueOpts{ByState: []rivertype.JobState{
			rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRunning, rivertype.JobStateScheduled,
		}},
	}
}

// KickAdmission enqueues an admission pass in tx: call it in the transaction that frees a place
// under the capacity ceiling (a space failed or deleted), so that the next queued space starts.
func KickAdmission(ctx context.Context, tx pgx.Tx, client *Client) error {
	if _, err := client.InsertTx(ctx, tx, AdmitSpacesArgs{}, nil); err != nil {
		return fmt.Errorf("kick admission: %w", err)
	}
	return nil
}

// RetrySpace moves a failed space back to queued and enqueues its provisioning, in one
// transaction audited as actor's decision. Every step resumes from what exists.
func RetrySpace(ctx context.Context, pool *pgxpool.Pool, client *Client, spaceID int64, actor tenants.Actor) (tenants.Space, error) {
	var out tenants.Space
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		s, err := tenants.TransitionSpace(ctx, tx, spaceID, tenants.Transition{To: tenants.SpaceQueued, Actor: actor,
			Action: "space.retry", From: []tenants.SpaceState{tenants.SpaceFailed}})
		if err != nil {
			return err
		}
		out = s
		_, err = client.InsertTx(ctx, tx, ProvisionSpaceArgs{SpaceID: spaceID}, nil)
		return err
	})
	if err != nil {
		return tenants.Space{}, fmt.Errorf("retry space %d: %w", spaceID, err)
	}
	return out, nil
}
