package workers

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"

	"github.com/assospaces/spaces/jobs"
	"github.com/assospaces/spaces/provisioner"
	"github.com/assospaces/spaces/tenants"
)

// UsageTick is how often the leader looks for spaces whose usage is due; each space is measured
// every provisioner.Config.UsageInterval.
const UsageTick = 30 * time.Second

// usageBatch is the most spaces one usage pass measures; the rest wait for the next tick.
const usageBatch = 2000

// CollectUsageWorker runs usage passes and mails the associations whose storage crossed a
// threshold; the mail is enqueued in the transaction that records the crossing.
type CollectUsageWorker struct {
	river.WorkerDefaults[jobs.CollectUsageArgs]
	Pool        *pgxpool.Pool
	Provisioner *provisioner.Provisioner
	PublicURL   string
	Logger      *slog.Logger
}

// Timeout bounds a pass; each space is bounded on its own.
func (w *CollectUsageWorker) Timeout(*river.Job[jobs.CollectUsageArgs]) time.Duration {
	return 10 * time.Minute
}

// Work runs one usage pass, alone across every process, then compacts the usage history.
func (w *CollectUsageWorker) Work(ctx context.Context, _ *river.Job[jobs.CollectUsageArgs]) error {
	return exclusive(ctx, w.Pool, usageLock, func(ctx context.Context) error {
		start := time.Now()
		rep, err := w.Provisioner.CollectUsage(ctx, usageBatch, levelMail(w.Provisioner, w.PublicURL))
		if err != nil {
			return fmt.Errorf("usage pass: %w", err)
		}
		if rep.Collected+rep.Failed > 0 {
			w.Logger.DebugContext(ctx, "usage pass", "collected", rep.Collected, "failed", rep.Failed,
				"quota_writes", rep.QuotaWrites, "settings_put_back", rep.SettingsPutBack, "level_changes", len(rep.Changes), "took", time.Since(start).Round(time.Millisecond))
		}
		if _, err := tenants.CompactUsageHistory(ctx, w.Pool, time.Now()); err != nil {
			return err
		}
		return nil
	})
}

// registerUsage adds the usage worker and its periodic pass.
func registerUsage(w *river.Workers, deps Deps) ([]*river.PeriodicJob, error) {
	if deps.Provisioner == nil || deps.Pool == nil {
		return nil, nil
	}
	logger := deps.logger()
	if err := river.AddWorkerSafely(w, &CollectUsageWorker{Pool: deps.Pool, Provisioner: deps.Provisioner,
		PublicURL: deps.PublicURL, Logger: logger}); err != nil {
		return nil, err
	}
	return []*river.PeriodicJob{river.NewPeriodicJob(river.PeriodicInterval(UsageTick),
		func() (river.JobArgs, *river.InsertOpts) { return jobs.CollectUsageArgs{}, nil },
		&river.PeriodicJobOpts{RunOnStart: true})}, nil
}
