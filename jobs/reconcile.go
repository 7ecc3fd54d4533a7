package jobs

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
)

// QueueReconcile runs the reconciler's passes, apart from provisioning so that a burst of
// approvals never delays a repair. Two workers: a reconcile pass and a usage pass may run side
// by side; passes of one kind never do (each holds its own advisory lock).
const QueueReconcile = "reconcile"

// passEvery is the period within which inserting a pass again is a no-op.
const passEvery = time.Second

// ReconcileSpacesArgs asks for a reconcile pass over every space (provisioner.Reconcile).
type ReconcileSpacesArgs struct{}

// Kind names the job type.
func (ReconcileSpacesArgs) Kind() string { return "reconcile_spaces" }

// InsertOpts: at most one pass per second is inserted, however many changes Nomad reports; a pass
// running does not stop the next from being inserted (a change reported during a pass may have
// been read before it happened), and the advisory lock makes it wait for the running one.
func (ReconcileSpacesArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueReconcile, MaxAttempts: 3, UniqueOpts: river.UniqueOpts{ByPeriod: passEvery}}
}

// KickReconcile enqueues a reconcile pass in tx: call it in the transaction of a decision the
// reconciler applies, so that it is applied now rather than at the next period.
func KickReconcile(ctx context.Context, tx pgx.Tx, client *Client) error {
	if _, err := client.InsertTx(ctx, tx, ReconcileSpacesArgs{}, nil); err != nil {
		return fmt.Errorf("kick the reconciler: %w", err)
	}
	return nil
}
