// Package workers does the service's durable work: the River workers and periodic jobs of
// package jobs (provisioning, reconcile, usage, mail, purges, exports), registered where the
// client that runs them is built, and the start and stop of that client. Only `spaces serve` and
// tests build it; code that only inserts jobs uses package jobs, without the workers'
// dependencies (the provisioner, Nomad's client).
package workers

import (
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertype"

	"github.com/assospaces/spaces/jobs"
)

// NewClient builds a River client on pool that works: every worker whose dependencies deps has,
// and their periodic jobs, are registered. It is the client of `spaces serve`; start it with Run.
// Code that only inserts jobs builds its client with jobs.NewInsertClient.
func NewClient(pool *pgxpool.Pool, deps Deps) (*jobs.Client, error) {
	workers := river.NewWorkers()
	var periodic []*river.PeriodicJob
	for _, register := range []registration{registerMail, registerStatusLink, registerForward, registerPurge, registerProvisioning, registerReconcile, registerUsage, registerExport} {
		p, err := register(workers, deps)
		if err != nil {
			return nil, err
		}
		periodic = append(periodic, p...)
	}
	cfg := &river.Config{
		Logger:       deps.Logger,
		Workers:      workers,
		PeriodicJobs: periodic,
		Middleware:   []rivertype.Middleware{&stopMiddleware{logger: deps.logger()}},
		// A provisioning pass mostly waits for Nomad to report the space healthy, holding neither
		// a connection nor CPU meanwhile (one event stream serves every pass): a burst of
		// approvals runs at once, so Nomad places them together. The steps that load a shared
		// server bound themselves (the tenant database step runs 8 at a time).
		Queues: map[string]river.QueueConfig{
			jobs.QueueDefault:   {MaxWorkers: 10},
			jobs.QueueProvision: {MaxWorkers: 100},
			jobs.QueueMail:      {MaxWorkers: 5},
			jobs.QueueReconcile: {MaxWorkers: 2},
			jobs.QueueExport:    {MaxWorkers: exportConcurrency},
		},
	}
	if deps.Provisioner != nil {
		// A pass left running by a crashed process is picked up again once it cannot be alive.
		// (River wants it no shorter than its default job timeout of a minute.)
		cfg.RescueStuckJobsAfter = max(ProvisionJobTimeout(deps.Provisioner)+15*time.Second, time.Minute)
	}
	client, err := river.NewClient(riverpgxv5.New(pool), cfg)
	if err != nil {
		return nil, fmt.Errorf("build river client: %w", err)
	}
	if deps.Provisioner != nil {
		wakeReconciler(client, deps.Provisioner, deps.logger())
	}
	return client, nil
}

// registration adds one feature's workers to w and returns its periodic jobs; a feature whose
// dependencies are missing from deps adds nothing.
type registration func(w *river.Workers, deps Deps) ([]*river.PeriodicJob, error)
