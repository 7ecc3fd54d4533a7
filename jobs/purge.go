package jobs

import (
	"context"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"

	"github.com/assospaces/spaces/tenants"
)

// PurgeInterval is how often the purge runs. Retention is counted in days, so hourly is plenty.
const PurgeInterval = time.Hour

// PurgeApplicationsArgs asks for rejected and withdrawn applications past the retention to be
// deleted, leaving anonymised counts, and for expired moderator sessions to go.
type PurgeApplicationsArgs struct{}

// Kind names the job type.
func (PurgeApplicationsArgs) Kind() string { return "purge_applications" }

// InsertOpts: one waiting purge is enough.
func (PurgeApplicationsArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueDefault, UniqueOpts: river.UniqueOpts{ByArgs: true, ByPeriod: PurgeInterval}}
}

// PurgeWorker runs the purge.
type PurgeWorker struct {
	river.WorkerDefaults[PurgeApplicationsArgs]
	Pool      *pgxpool.Pool
	Retention time.Duration
	Logger    *slog.Logger
	// Now is the clock; tests set it.
	Now func() time.Time
}

// Work deletes what is past the retention.
func (w *PurgeWorker) Work(ctx context.Context, _ *river.Job[PurgeApplicationsArgs]) error {
	now := time.Now
	if w.Now != nil {
		now = w.Now
	}
	n, err := tenants.PurgeApplications(ctx, w.Pool, now().Add(-w.Retention))
	if err != nil {
		return err
	}
	sessions, err := tenants.DeleteExpiredSessions(ctx, w.Pool)
	if err != nil {
		return err
	}
	if w.Logger != nil && (n > 0 || sessions > 0) {
		w.Logger.InfoContext(ctx, "purged old applications", "applications", n, "sessions", sessions,
			"retention", w.Retention.String())
	}
	return nil
}

// registerPurge adds the purge worker and its hourly run (when a retention is set).
func registerPurge(w *river.Workers, deps Deps) ([]*river.PeriodicJob, error) {
	if deps.Pool == nil || deps.Retention <= 0 {
		return nil, nil
	}
	if err := river.AddWorkerSafely(w, &PurgeWorker{Pool: deps.Pool, Retention: deps.Retention, Logger: deps.Logger}); err != nil {
		return nil, err
	}
	return []*river.PeriodicJob{river.NewPeriodicJob(river.PeriodicInterval(PurgeInterval),
		func() (river.JobArgs, *river.InsertOpts) { return PurgeApplicationsArgs{}, nil },
		&river.PeriodicJobOpts{RunOnStart: true})}, nil
}
