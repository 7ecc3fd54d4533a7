// Package jobs is the service's durable work as those who ask for it see it: the River jobs'
// arguments and queues, and what inserts them in the transaction that decides them (the
// operators' decisions, a retry, an export). River keeps them in the same PostgreSQL database as
// the data they act on, so a job survives crashes and restarts and is retried with backoff.
// The workers that do the jobs are in jobs/workers, with their dependencies (the provisioner,
// Nomad's client): code that only inserts jobs never imports them.
package jobs

import (
	"fmt"
	"log/slog"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
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

// NewInsertClient builds a River client on pool that only inserts jobs: it runs none, so it needs
// none of the workers' dependencies (for the web UI's handlers, and tests). The client that works
// is built by workers.NewClient.
func NewInsertClient(pool *pgxpool.Pool, logger *slog.Logger) (*Client, error) {
	client, err := river.NewClient(riverpgxv5.New(pool), &river.Config{Logger: logger})
	if err != nil {
		return nil, fmt.Errorf("build river client: %w", err)
	}
	return client, nil
}
