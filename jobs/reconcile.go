package jobs

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"

	"github.com/assospaces/spaces/provisioner"
)

// QueueReconcile runs the reconciler's passes, apart from provisioning so that a burst of
// approvals never delays a repair. Two workers: a reconcile pass and a usage pass may run side
// by side; passes of one kind never do (each holds its own advisory lock).
const QueueReconcile = "reconcile"

// ReconcileInterval is how often the leader runs a reconcile pass even when Nomad reports nothing.
const ReconcileInterval = 30 * time.Second

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

// Advisory locks that keep passes of one kind from overlapping across processes.
const (
	reconcileLock = 7_420_031_401
	usageLock     = 7_420_031_402
)

// ReconcileWorker runs reconcile passes.
type ReconcileWorker struct {
	river.WorkerDefaults[ReconcileSpacesArgs]
	Pool        *pgxpool.Pool
	Provisioner *provisioner.Provisioner
	// PublicURL is the service's address, for the mail of a storage level a resize changes.
	PublicURL string
	Logger    *slog.Logger
}

// Timeout bounds a pass: repairs are bounded one by one, a pass never waits for health.
func (w *ReconcileWorker) Timeout(*river.Job[ReconcileSpacesArgs]) time.Duration {
	return 5 * time.Minute
}

// Work runs one pass, alone across every process of the service.
func (w *ReconcileWorker) Work(ctx context.Context, _ *river.Job[ReconcileSpacesArgs]) error {
	return exclusive(ctx, w.Pool, reconcileLock, func(ctx context.Context) error {
		start := time.Now()
		rep, err := w.Provisioner.Reconcile(ctx, levelMail(w.Provisioner, w.PublicURL))
		if err != nil {
			return fmt.Errorf("reconcile pass: %w", err)
		}
		failed := 0
		for _, r := range rep.Repairs {
			if r.Err != nil {
				failed++
			}
		}
		level := slog.LevelDebug
		if len(rep.Repairs) > 0 || len(rep.Orphans) > 0 {
			level = slog.LevelInfo
		}
		w.Logger.Log(ctx, level, "reconcile pass", "spaces", rep.Spaces, "active", rep.Active, "healthy", rep.Healthy,
			"repairs", len(rep.Repairs), "repairs_failed", failed, "backed_off", rep.BackedOff, "orphans", len(rep.Orphans),
			"took", time.Since(start).Round(time.Millisecond))
		return nil
	})
}

// exclusive runs fn holding a transaction-scoped advisory lock, waiting for it: passes of one
// kind take turns, whichever process runs them.
func exclusive(ctx context.Context, pool *pgxpool.Pool, key int64, fn func(context.Context) error) error {
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, key); err != nil {
			return fmt.Errorf("take advisory lock: %w", err)
		}
		return fn(ctx)
	})
}

// wakeReconciler makes Nomad's reports of a changed space job insert a reconcile pass, so that a
// job stopped or purged behind the service's back is repaired in seconds rather than at the
// next period. Inserts coalesce through the job's uniqueness.
func wakeReconciler(client *Client, prov *provisioner.Provisioner, logger *slog.Logger) {
	prov.OnSpaceJobChange(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := client.Insert(ctx, ReconcileSpacesArgs{}, nil); err != nil {
			logger.WarnContext(ctx, "wake the reconciler", "err", err)
		}
	})
}

// KickReconcile enqueues a reconcile pass in tx: call it in the transaction of a decision the
// reconciler applies, so that it is applied now rather than at the next period.
func KickReconcile(ctx context.Context, tx pgx.Tx, client *Client) error {
	if _, err := client.InsertTx(ctx, tx, ReconcileSpacesArgs{}, nil); err != nil {
		return fmt.Errorf("kick the reconciler: %w", err)
	}
	return nil
}

// registerReconcile adds the reconcile worker and its periodic pass.
func registerReconcile(w *river.Workers, deps Deps) ([]*river.PeriodicJob, error) {
	if deps.Provisioner == nil || deps.Pool == nil {
		return nil, nil
	}
	logger := deps.logger()
	if err := river.AddWorkerSafely(w, &ReconcileWorker{Pool: deps.Pool, Provisioner: deps.Provisioner, PublicURL: deps.PublicURL, Logger: logger}); err != nil {
		return nil, err
	}
	return []*river.PeriodicJob{river.NewPeriodicJob(river.PeriodicInterval(ReconcileInterval),
		func() (river.JobArgs, *river.InsertOpts) { return ReconcileSpacesArgs{}, nil },
		&river.PeriodicJobOpts{RunOnStart: true})}, nil
}
