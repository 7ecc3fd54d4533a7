package jobs

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"

	"github.com/assospaces/spaces/provisioner"
	"github.com/assospaces/spaces/quota"
	"github.com/assospaces/spaces/tenants"
)

// UsageTick is how often the leader looks for spaces whose usage is due; each space is measured
// every provisioner.Config.UsageInterval.
const UsageTick = 30 * time.Second

// usageBatch is the most spaces one usage pass measures; the rest wait for the next tick.
const usageBatch = 2000

// CollectUsageArgs asks for a usage pass over the spaces that are due (provisioner.CollectUsage).
type CollectUsageArgs struct{}

// Kind names the job type.
func (CollectUsageArgs) Kind() string { return "collect_usage" }

// InsertOpts: as ReconcileSpacesArgs's.
func (CollectUsageArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueReconcile, MaxAttempts: 3, UniqueOpts: river.UniqueOpts{ByPeriod: passEvery}}
}

// CollectUsageWorker runs usage passes and mails the associations whose storage crossed a
// threshold; the mail is enqueued in the transaction that records the crossing.
type CollectUsageWorker struct {
	river.WorkerDefaults[CollectUsageArgs]
	Pool        *pgxpool.Pool
	Provisioner *provisioner.Provisioner
	PublicURL   string
	Logger      *slog.Logger
}

// Timeout bounds a pass; each space is bounded on its own.
func (w *CollectUsageWorker) Timeout(*river.Job[CollectUsageArgs]) time.Duration {
	return 10 * time.Minute
}

// Work runs one usage pass, alone across every process, then compacts the usage history.
func (w *CollectUsageWorker) Work(ctx context.Context, _ *river.Job[CollectUsageArgs]) error {
	return exclusive(ctx, w.Pool, usageLock, func(ctx context.Context) error {
		start := time.Now()
		rep, err := w.Provisioner.CollectUsage(ctx, usageBatch, levelMail(w.Provisioner, w.PublicURL))
		if err != nil {
			return fmt.Errorf("usage pass: %w", err)
		}
		if rep.Collected+rep.Failed > 0 {
			w.Logger.DebugContext(ctx, "usage pass", "collected", rep.Collected, "failed", rep.Failed,
				"quota_writes", rep.QuotaWrites, "level_changes", len(rep.Changes), "took", time.Since(start).Round(time.Millisecond))
		}
		if _, err := tenants.CompactUsageHistory(ctx, w.Pool, time.Now()); err != nil {
			return err
		}
		return nil
	})
}

// levelMail enqueues the mail for a storage level change: a warning when 80 % or 90 % is
// reached, a notice when the space is full, and one when a full space can grow again. Going
// down between warning levels sends nothing.
func levelMail(prov *provisioner.Provisioner, publicURL string) provisioner.LevelFunc {
	return func(ctx context.Context, tx pgx.Tx, c provisioner.LevelChange) error {
		return sendLevelMail(ctx, tx, prov, publicURL, c)
	}
}

func sendLevelMail(ctx context.Context, tx pgx.Tx, prov *provisioner.Provisioner, publicURL string, c provisioner.LevelChange) error {
	var template string
	switch up, _ := quota.Crossing(c.From, c.To); {
	case up && c.To == quota.LevelFull:
		template = "storage_full"
	case up:
		template = "storage_warning"
	case c.From == quota.LevelFull:
		template = "storage_available"
	default:
		return nil
	}
	s := c.Space
	fr := s.Locale == "fr"
	threshold := map[quota.Level]float64{quota.LevelWarn80: 80, quota.LevelWarn90: 90, quota.LevelFull: 100}[c.To]
	args := SendMailArgs{To: s.ContactEmail, Locale: s.Locale, Template: template, Data: map[string]string{
		"AssociationName": s.AssociationName, "Address": "https://" + prov.Domain(s.Slug),
		"Used": localSize(c.Used, fr), "Limit": localSize(s.Limits.StorageBytes, fr),
		"Percent":   localPercent(quota.Percent(c.Used, s.Limits.StorageBytes), fr),
		"Threshold": localPercent(threshold, fr), "PublicURL": publicURL,
	}}
	_, err := river.ClientFromContext[pgx.Tx](ctx).InsertTx(ctx, tx, args, nil)
	return err
}

// localSize writes a size as its reader expects it: "32.5 GB" in English, "32,5 Go" in French.
func localSize(b int64, fr bool) string {
	s := quota.FormatSize(b)
	if !fr {
		return s
	}
	num, unit, _ := strings.Cut(s, " ")
	unit = map[string]string{"B": "o", "KB": "Ko", "MB": "Mo", "GB": "Go", "TB": "To"}[unit]
	return strings.ReplaceAll(num, ".", ",") + "\u00a0" + unit
}

// localPercent writes a percentage: "85%" in English, "85 %" in French (with a no-break space).
func localPercent(p float64, fr bool) string {
	n := strconv.FormatFloat(float64(int64(p)), 'f', -1, 64)
	if fr {
		return n + "\u00a0%"
	}
	return n + "%"
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
		func() (river.JobArgs, *river.InsertOpts) { return CollectUsageArgs{}, nil },
		&river.PeriodicJobOpts{RunOnStart: true})}, nil
}
