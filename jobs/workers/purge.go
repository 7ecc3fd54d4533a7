package workers

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"

	"github.com/assospaces/spaces/jobs"
	"github.com/assospaces/spaces/provisioner"
	"github.com/assospaces/spaces/tenants"
)

// PurgeWorker runs the purge.
type PurgeWorker struct {
	river.WorkerDefaults[jobs.PurgeApplicationsArgs]
	Pool      *pgxpool.Pool
	Retention time.Duration
	// StaleAfter is how long an application waits for its applicant's answer before it is
	// closed, with a mail (application_expired); 0 never closes one.
	StaleAfter time.Duration
	// PublicURL is the service's address, named in that mail.
	PublicURL string
	Logger    *slog.Logger
	// Now is the clock; tests set it.
	Now func() time.Time
}

// Work closes the applications left without an answer, then deletes what is past the retention.
func (w *PurgeWorker) Work(ctx context.Context, _ *river.Job[jobs.PurgeApplicationsArgs]) error {
	now := time.Now
	if w.Now != nil {
		now = w.Now
	}
	if w.StaleAfter > 0 {
		client, err := river.ClientFromContextSafely[pgx.Tx](ctx)
		if err != nil {
			return fmt.Errorf("close stale applications: %w", err)
		}
		data := map[string]string{
			"PublicURL":     strings.TrimSuffix(w.PublicURL, "/"),
			"RetentionDays": strconv.Itoa(int(w.Retention.Hours() / 24)),
			"StaleDays":     strconv.Itoa(int(w.StaleAfter.Hours() / 24)),
		}
		closed, err := tenants.ExpireStaleApplications(ctx, w.Pool, now().Add(-w.StaleAfter),
			func(ctx context.Context, tx pgx.Tx, a tenants.Application) error {
				d := maps.Clone(data)
				d["Reference"] = strconv.FormatInt(a.ID, 10)
				_, err := client.InsertTx(ctx, tx, jobs.SendMailArgs{To: a.ContactEmail, Locale: a.Locale,
					Template: "application_expired", Data: d}, nil)
				return err
			})
		if closed > 0 && w.Logger != nil {
			w.Logger.InfoContext(ctx, "closed applications left without an answer", "applications", closed,
				"stale_after", w.StaleAfter.String())
		}
		if err != nil {
			return err
		}
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

// registerPurge adds the purge of applications and its hourly run (when a retention is set),
// and the purge of deleted spaces and its hourly run (when there is a provisioner).
func registerPurge(w *river.Workers, deps Deps) ([]*river.PeriodicJob, error) {
	var periodic []*river.PeriodicJob
	if deps.Pool != nil && deps.Retention > 0 {
		if err := river.AddWorkerSafely(w, &PurgeWorker{Pool: deps.Pool, Retention: deps.Retention, StaleAfter: deps.StaleAfter,
			PublicURL: deps.PublicURL, Logger: deps.Logger}); err != nil {
			return nil, err
		}
		periodic = append(periodic, river.NewPeriodicJob(river.PeriodicInterval(jobs.PurgeInterval),
			func() (river.JobArgs, *river.InsertOpts) { return jobs.PurgeApplicationsArgs{}, nil },
			&river.PeriodicJobOpts{RunOnStart: true}))
	}
	if deps.Pool != nil && deps.Provisioner != nil {
		if err := river.AddWorkerSafely(w, &PurgeSpacesWorker{Pool: deps.Pool, Provisioner: deps.Provisioner, Logger: deps.logger()}); err != nil {
			return nil, err
		}
		periodic = append(periodic, river.NewPeriodicJob(river.PeriodicInterval(jobs.PurgeInterval),
			func() (river.JobArgs, *river.InsertOpts) { return jobs.PurgeSpacesArgs{}, nil },
			&river.PeriodicJobOpts{RunOnStart: true}))
	}
	return periodic, nil
}

// purgeSpacesBatch bounds one pass; the rest wait for the next.
const purgeSpacesBatch = 50

// PurgeSpacesWorker purges the spaces whose grace period is over: everything they have in
// Nomad and on the tenant server, then their personal data here.
type PurgeSpacesWorker struct {
	river.WorkerDefaults[jobs.PurgeSpacesArgs]
	Pool        *pgxpool.Pool
	Provisioner *provisioner.Provisioner
	Logger      *slog.Logger
	// Now is the clock; tests set it.
	Now func() time.Time
}

// Timeout bounds a pass.
func (w *PurgeSpacesWorker) Timeout(*river.Job[jobs.PurgeSpacesArgs]) time.Duration {
	return 10 * time.Minute
}

// Work purges each due space, one at a time; a space that fails is logged and left deleting for
// the next pass, and the pass reports the failure so that River retries it.
func (w *PurgeSpacesWorker) Work(ctx context.Context, _ *river.Job[jobs.PurgeSpacesArgs]) error {
	now := time.Now
	if w.Now != nil {
		now = w.Now
	}
	spaces, err := tenants.SpacesToPurge(ctx, w.Pool, now(), purgeSpacesBatch)
	if err != nil {
		return err
	}
	var failed []string
	for _, s := range spaces {
		// The space stays locked while it is purged: a restore at the last moment waits, then
		// finds it deleted.
		purged := false
		err := pgx.BeginFunc(ctx, w.Pool, func(tx pgx.Tx) error {
			cur, due, err := tenants.LockSpaceToPurge(ctx, tx, s.ID, now())
			if err != nil || !due {
				return err
			}
			if err := w.Provisioner.Purge(ctx, cur); err != nil {
				return err
			}
			_, err = tenants.MarkSpacePurged(ctx, tx, s.ID)
			purged = err == nil
			return err
		})
		if err != nil {
			w.Logger.ErrorContext(ctx, "purge space failed; it stays deleting and is tried again", "space", s.Slug, "err", err)
			failed = append(failed, s.Slug)
			continue
		}
		if purged {
			w.Logger.InfoContext(ctx, "space purged: job, database, role and secrets removed, personal data forgotten", "space", s.Slug)
		}
	}
	if len(failed) > 0 {
		return fmt.Errorf("purge of %d space(s) failed: %s", len(failed), strings.Join(failed, ", "))
	}
	return nil
}
