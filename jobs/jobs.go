// Package jobs runs the service's durable work on River, in the same PostgreSQL database as the
// data it acts on: a job is enqueued in the transaction that decides it, survives crashes and
// restarts, and is retried with backoff. Periodic work runs on the elected leader only, so several
// `spaces serve` processes on one database cooperate.
package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertype"

	"github.com/assospaces/spaces/provisioner"
	"github.com/assospaces/spaces/tenants/notify"
	"github.com/assospaces/spaces/tenants/secretbox"
)

// Client is the River client type used across the service.
type Client = river.Client[pgx.Tx]

// Queues the service uses. Provisioning is slow and talks to Nomad, so it has its own queue and
// cannot starve mail.
const (
	QueueDefault   = river.QueueDefault
	QueueProvision = "provision"
	QueueMail      = "mail"
	QueueExport    = "export"
)

// Deps are what the workers need. Fields left nil disable the workers that need them, which lets
// commands that only enqueue (and tests) build a client without every dependency.
type Deps struct {
	Logger *slog.Logger

	// Pool is the service's database, for workers that read or write it (purge).
	Pool *pgxpool.Pool
	// Mailer composes and sends mail; nil disables the mail worker.
	Mailer *notify.Mailer
	// Box opens the sealed part of mail jobs.
	Box *secretbox.Box
	// Retention is how long rejected and withdrawn applications are kept; 0 disables the purge.
	Retention time.Duration
	// StaleAfter is how long an application waits for its applicant's answer before the purge
	// closes it (SPACES_STALE_AFTER); 0 never closes one.
	StaleAfter time.Duration

	// Provisioner runs the provisioning steps; nil disables the provisioning and admission
	// workers (they also need Pool, and Box to seal the first account's password).
	Provisioner *provisioner.Provisioner
	// PublicURL is the service's address, used in the mail a space is ready.
	PublicURL string

	// ExportDir is where the archives of space exports are written (SPACES_EXPORT_DIR); empty
	// disables the export workers (they also need Pool and Provisioner).
	ExportDir string
	// ExportRetention is how long a finished archive is kept (DefaultExportRetention when 0).
	ExportRetention time.Duration
}

// logger is the workers' logger: Logger, or slog's default.
func (d Deps) logger() *slog.Logger {
	if d.Logger == nil {
		return slog.Default()
	}
	return d.Logger
}

// NewClient builds a River client on pool with every worker and periodic job registered.
// A client built with work=false only inserts jobs (for CLI commands and tests).
func NewClient(pool *pgxpool.Pool, deps Deps, work bool) (*Client, error) {
	cfg := &river.Config{Logger: deps.Logger}
	if work {
		workers := river.NewWorkers()
		var periodic []*river.PeriodicJob
		for _, register := range []registration{registerMail, registerStatusLink, registerPurge, registerProvisioning, registerReconcile, registerUsage, registerExport} {
			p, err := register(workers, deps)
			if err != nil {
				return nil, err
			}
			periodic = append(periodic, p...)
		}
		cfg.Workers = workers
		cfg.PeriodicJobs = periodic
		cfg.Middleware = []rivertype.Middleware{&stopMiddleware{logger: deps.logger()}}
		if deps.Provisioner != nil {
			// A pass left running by a crashed process is picked up again once it cannot be alive.
			// (River wants it no shorter than its default job timeout of a minute.)
			cfg.RescueStuckJobsAfter = max(ProvisionJobTimeout(deps.Provisioner)+15*time.Second, time.Minute)
		}
		// A provisioning pass mostly waits for Nomad to report the space healthy, holding neither
		// a connection nor CPU meanwhile (one event stream serves every pass): a burst of
		// approvals runs at once, so Nomad places them together. The steps that load a shared
		// server bound themselves (the tenant database step runs 8 at a time).
		cfg.Queues = map[string]river.QueueConfig{
			QueueDefault:   {MaxWorkers: 10},
			QueueProvision: {MaxWorkers: 100},
			QueueMail:      {MaxWorkers: 5},
			QueueReconcile: {MaxWorkers: 2},
			QueueExport:    {MaxWorkers: exportConcurrency},
		}
	}
	client, err := river.NewClient(riverpgxv5.New(pool), cfg)
	if err != nil {
		return nil, fmt.Errorf("build river client: %w", err)
	}
	if work && deps.Provisioner != nil {
		logger := deps.logger()
		wakeReconciler(client, deps.Provisioner, logger)
	}
	return client, nil
}

// registration adds one feature's workers to w and returns its periodic jobs; a feature whose
// dependencies are missing from deps adds nothing.
type registration func(w *river.Workers, deps Deps) ([]*river.PeriodicJob, error)

// StopGrace is how long `spaces serve` lets running jobs finish once told to stop; what still
// runs then is cancelled (see Run).
const StopGrace = 20 * time.Second

// hardStopTimeout bounds the wait, after a grace, for the cancelled jobs to return and record
// their outcome.
const hardStopTimeout = 15 * time.Second

// Run starts client's workers and stops them when ctx ends: the running jobs get grace to finish,
// then those still running are cancelled. A job cancelled because the service stops is not a
// failed attempt (see stopMiddleware): it runs again at once on a client still running, or on the
// next one to start, and resumes from what exists.
func Run(ctx context.Context, client *Client, grace time.Duration) error {
	// The jobs run on a context that ctx does not cancel: River would cancel them all at once when
	// the context given to Start ends, with no grace.
	if err := client.Start(context.WithoutCancel(ctx)); err != nil {
		return fmt.Errorf("start river: %w", err)
	}
	<-ctx.Done()
	return Stop(context.WithoutCancel(ctx), client, grace)
}

// Stop stops client: it fetches no new job and lets the running ones finish for up to grace,
// then cancels those still running and waits for them to return (up to 15 s more).
func Stop(ctx context.Context, client *Client, grace time.Duration) error {
	soft, cancel := context.WithTimeout(ctx, grace)
	defer cancel()
	err := client.Stop(soft)
	if err == nil || ctx.Err() != nil {
		return err
	}
	hard, cancelHard := context.WithTimeout(ctx, hardStopTimeout)
	defer cancelHard()
	if err := client.StopAndCancel(hard); err != nil {
		return fmt.Errorf("stop river: jobs still running %s after they were cancelled: %w", hardStopTimeout, err)
	}
	return nil
}

// stopMiddleware keeps a job that the client's stop cancels from counting as a failed attempt: the
// job is snoozed for no time instead (River then gives the attempt back), so that it runs again at
// once, on this client if it still works or on the next one to start. A job's context ends only
// when the client stops, or when the job is cancelled remotely; its timeout applies inside. A
// worker that records a final failure on its last attempt (ProvisionWorker) asks interrupted
// first, so that a stop is never taken for that failure.
type stopMiddleware struct {
	river.MiddlewareDefaults
	logger *slog.Logger
}

func (m *stopMiddleware) Work(ctx context.Context, job *rivertype.JobRow, doInner func(context.Context) error) error {
	inner, cancel := context.WithCancelCause(context.WithoutCancel(ctx))
	defer cancel(nil)
	var stopping atomic.Bool
	unwatch := context.AfterFunc(ctx, func() {
		cause := context.Cause(ctx)
		if !errors.Is(cause, rivertype.ErrJobCancelledRemotely) {
			stopping.Store(true)
		}
		cancel(cause)
	})
	defer unwatch()
	err := doInner(inner)
	if err == nil || !stopping.Load() {
		return err
	}
	var cancelled *rivertype.JobCancelError
	var snoozed *rivertype.JobSnoozeError
	if errors.As(err, &cancelled) || errors.As(err, &snoozed) {
		return err
	}
	m.logger.InfoContext(inner, "job interrupted by the stop; it runs again, not as a new attempt",
		"job_id", job.ID, "kind", job.Kind, "attempt", job.Attempt, "err", err)
	return river.JobSnooze(0)
}

// interrupted tells whether a job's context ended because the service stops: neither the job's
// own timeout nor a remote cancellation.
func interrupted(ctx context.Context) bool {
	if ctx.Err() == nil {
		return false
	}
	cause := context.Cause(ctx)
	return !errors.Is(cause, context.DeadlineExceeded) && !errors.Is(cause, rivertype.ErrJobCancelledRemotely)
}
