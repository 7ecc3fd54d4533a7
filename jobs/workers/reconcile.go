package workers

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"

	"github.com/assospaces/spaces/jobs"
	"github.com/assospaces/spaces/provisioner"
)

// ReconcileInterval is how often the leader runs a reconcile pass even when Nomad reports nothing.
const ReconcileInterval = 30 * time.Second

// Advisory locks that keep passes of one kind from overlapping across processes.
const (
	reconcileLock = 7_420_031_401
	usageLock     = 7_420_031_402
)

// ReconcileWorker runs reconcile passes.
type ReconcileWorker struct {
	river.WorkerDefaults[jobs.ReconcileSpacesArgs]
	Pool        *pgxpool.Pool
	Provisioner *provisioner.Provisioner
	// PublicURL is the service's address, for the mail of a storage level a resize changes.
	PublicURL string
	Logger    *slog.Logger
}

// Timeout bounds a pass: repairs are bounded one by one, a pass never waits for health.
func (w *ReconcileWorker) Timeout(*river.Job[jobs.ReconcileSpacesArgs]) time.Duration {
	return 5 * time.Minute
}

// Work runs one pass, alone across every process of the service.
func (w *ReconcileWorker) Work(ctx context.Context, _ *river.Job[jobs.ReconcileSpacesArgs]) error {
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
func wakeReconciler(client *jobs.Client, prov *provisioner.Provisioner, logger *slog.Logger) {
	prov.OnSpaceJobChange(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := client.Insert(ctx, jobs.ReconcileSpacesArgs{}, nil); err != nil {
			logger.WarnContext(ctx, "wake the reconciler", "err", err)
		}
	})
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
		func() (river.JobArgs, *river.InsertOpts) { return jobs.ReconcileSpacesArgs{}, nil },
		&river.PeriodicJobOpts{RunOnStart: true})}, nil
}
