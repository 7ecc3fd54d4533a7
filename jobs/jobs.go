// Package jobs runs the service's durable work on River, in the same PostgreSQL database as the
// data it acts on: a job is enqueued in the transaction that decides it, survives crashes and
// restarts, and is retried with backoff. Periodic work runs on the elected leader only, so several
// `spaces serve` processes on one database cooperate.
package jobs

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

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

	// Provisioner runs the provisioning steps; nil disables the provisioning and admission
	// workers (they also need Pool, and Box to seal the first account's password).
	Provisioner *provisioner.Provisioner
	// PublicURL is the service's address, used in the mail a space is ready.
	PublicURL string
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
		for _, register := range registrations {
			p, err := register(workers, deps)
			if err != nil {
				return nil, err
			}
			periodic = append(periodic, p...)
		}
		cfg.Workers = workers
		cfg.PeriodicJobs = periodic
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

// registration adds one feature's workers and returns its periodic jobs. Each feature's file
// appends its registration in an init function, so features do not edit one shared list.
type registration func(w *river.Workers, deps Deps) ([]*river.PeriodicJob, error)

var registrations []registration

// Run starts client's workers and stops them when ctx ends, letting running jobs finish.
func Run(ctx context.Context, client *Client) error {
	if err := client.Start(ctx); err != nil {
		return fmt.Errorf("start river: %w", err)
	}
	<-ctx.Done()
	return client.Stop(context.WithoutCancel(ctx))
}
