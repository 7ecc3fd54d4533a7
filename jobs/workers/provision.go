package workers

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"

	"github.com/assospaces/spaces/jobs"
	"github.com/assospaces/spaces/provisioner"
	"github.com/assospaces/spaces/tenants"
	"github.com/assospaces/spaces/tenants/secretbox"
)

// admitInterval is how often the leader looks for spaces to start even without a kick.
const admitInterval = 30 * time.Second

// ProvisionWorker runs provisioning passes. A pass that fails is retried with River's backoff;
// after the last attempt, or at once for a failure no retry can fix (a broken template), the
// space goes failed with the reason, and its place under the ceiling goes to the next one.
type ProvisionWorker struct {
	river.WorkerDefaults[jobs.ProvisionSpaceArgs]
	Provisioner *provisioner.Provisioner
	Box         *secretbox.Box
	// PublicURL is the service's address, for the mail's signature.
	PublicURL string
	Logger    *slog.Logger
}

// Timeout bounds a pass: the wait for health plus time for the other steps.
func (w *ProvisionWorker) Timeout(*river.Job[jobs.ProvisionSpaceArgs]) time.Duration {
	return ProvisionJobTimeout(w.Provisioner)
}

// ProvisionJobTimeout is how long one provisioning pass may run.
func ProvisionJobTimeout(p *provisioner.Provisioner) time.Duration {
	return p.HealthTimeout() + 30*time.Second
}

// Work runs one pass over the job's space.
func (w *ProvisionWorker) Work(ctx context.Context, job *river.Job[jobs.ProvisionSpaceArgs]) error {
	id := job.Args.SpaceID
	out, err := w.Provisioner.Provision(ctx, id, w.ready)
	if err == nil {
		w.Logger.DebugContext(ctx, "provisioning pass", "space_id", id, "outcome", out.String())
		return nil
	}
	if errors.Is(err, tenants.ErrNotFound) {
		return river.JobCancel(err)
	}
	if interrupted(ctx) {
		return err // the service stops: not a failure (stopMiddleware gives the attempt back)
	}
	permanent := provisioner.IsPermanent(err)
	if !permanent && job.Attempt < job.MaxAttempts {
		w.Logger.WarnContext(ctx, "provisioning pass failed; will retry", "space_id", id, "attempt", job.Attempt,
			"max_attempts", job.MaxAttempts, "err", err)
		return err
	}
	// The pass's own context may be what ran out: record the failure on a fresh one.
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	reason := provisioner.Reason(err)
	if ferr := w.Provisioner.Fail(fctx, id, reason); ferr != nil {
		return fmt.Errorf("%w (and recording the failure: %v)", err, ferr)
	}
	w.Logger.ErrorContext(ctx, "space failed", "space_id", id, "attempt", job.Attempt, "reason", reason)
	if client := river.ClientFromContext[pgx.Tx](ctx); client != nil {
		if _, kerr := client.Insert(fctx, jobs.AdmitSpacesArgs{}, nil); kerr != nil {
			w.Logger.WarnContext(ctx, "kick admission", "err", kerr)
		}
	}
	if permanent {
		return river.JobCancel(err)
	}
	return err
}

// ready enqueues the space_ready mail in the transaction that makes the space active.
func (w *ProvisionWorker) ready(ctx context.Context, tx pgx.Tx, r provisioner.Ready) error {
	if w.Box == nil {
		return errors.New("no secret box: the first account's password cannot be mailed")
	}
	guide, err := w.Provisioner.FirstSteps(r.Space)
	if err != nil {
		return err
	}
	args, err := jobs.SealMail(w.Box, jobs.SendMailArgs{
		To: r.Space.ContactEmail, Locale: r.Space.Locale, Template: "space_ready",
		Data: map[string]string{"AssociationName": r.Space.AssociationName, "Address": r.URL, "Login": r.Login,
			"PublicURL": w.PublicURL, "Guide": guide.Body, "GuideFile": guide.FileName},
	}, map[string]string{"Password": r.Password})
	if err != nil {
		return err
	}
	_, err = river.ClientFromContext[pgx.Tx](ctx).InsertTx(ctx, tx, args, nil)
	return err
}

// AdmitWorker starts the spaces that should be provisioning (see AdmitSpacesArgs).
type AdmitWorker struct {
	river.WorkerDefaults[jobs.AdmitSpacesArgs]
	Pool *pgxpool.Pool
	// Ceiling is the capacity ceiling now (see provisioner.Provisioner.Ceiling).
	Ceiling func(context.Context) (int, error)
}

// Work enqueues a provisioning job for each space to start; spaces with one already are skipped
// by the job's uniqueness.
func (w *AdmitWorker) Work(ctx context.Context, _ *river.Job[jobs.AdmitSpacesArgs]) error {
	ceiling, err := w.Ceiling(ctx)
	if err != nil {
		return err
	}
	ids, err := tenants.SpacesToStart(ctx, w.Pool, ceiling, 1000)
	if err != nil {
		return err
	}
	client := river.ClientFromContext[pgx.Tx](ctx)
	for _, id := range ids {
		if _, err := client.Insert(ctx, jobs.ProvisionSpaceArgs{SpaceID: id}, nil); err != nil {
			return fmt.Errorf("enqueue provisioning of space %d: %w", id, err)
		}
	}
	return nil
}

// registerProvisioning adds the provisioning and admission workers and the periodic admission.
func registerProvisioning(w *river.Workers, deps Deps) ([]*river.PeriodicJob, error) {
	if deps.Provisioner == nil || deps.Pool == nil {
		return nil, nil
	}
	logger := deps.logger()
	if err := river.AddWorkerSafely(w, &ProvisionWorker{Provisioner: deps.Provisioner, Box: deps.Box,
		PublicURL: deps.PublicURL, Logger: logger}); err != nil {
		return nil, err
	}
	if err := river.AddWorkerSafely(w, &AdmitWorker{Pool: deps.Pool, Ceiling: deps.Provisioner.Ceiling}); err != nil {
		return nil, err
	}
	return []*river.PeriodicJob{river.NewPeriodicJob(river.PeriodicInterval(admitInterval),
		func() (river.JobArgs, *river.InsertOpts) { return jobs.AdmitSpacesArgs{}, nil },
		&river.PeriodicJobOpts{RunOnStart: true})}, nil
}
