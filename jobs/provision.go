package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/assospaces/spaces/provisioner"
	"github.com/assospaces/spaces/tenants"
	"github.com/assospaces/spaces/tenants/secretbox"
)

// AdmitSpacesArgs asks for a pass over the spaces that should be provisioning: the queued ones
// that now fit under the capacity ceiling, in approval order, and any provisioning space whose
// job was lost. It runs periodically on the leader and is kicked whenever a space gives its
// place back (it failed, or was deleted).
type AdmitSpacesArgs struct{}

// Kind names the job type.
func (AdmitSpacesArgs) Kind() string { return "admit_spaces" }

// InsertOpts: one waiting pass is enough; a kick while one waits is a no-op.
func (AdmitSpacesArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{
		Queue:       QueueProvision,
		MaxAttempts: 3,
		UniqueOpts: river.UniqueOpts{ByState: []rivertype.JobState{
			rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRunning, rivertype.JobStateScheduled,
		}},
	}
}

// admitInterval is how often the leader looks for spaces to start even without a kick.
const admitInterval = 30 * time.Second

// KickAdmission enqueues an admission pass in tx: call it in the transaction that frees a place
// under the capacity ceiling (a space failed or deleted), so that the next queued space starts.
func KickAdmission(ctx context.Context, tx pgx.Tx, client *Client) error {
	if _, err := client.InsertTx(ctx, tx, AdmitSpacesArgs{}, nil); err != nil {
		return fmt.Errorf("kick admission: %w", err)
	}
	return nil
}

// RetrySpace moves a failed space back to queued and enqueues its provisioning, in one
// transaction audited as actor's decision. Every step resumes from what exists.
func RetrySpace(ctx context.Context, pool *pgxpool.Pool, client *Client, spaceID int64, actor tenants.Actor) (tenants.Space, error) {
	var out tenants.Space
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		s, err := tenants.TransitionSpace(ctx, tx, spaceID, tenants.Transition{To: tenants.SpaceQueued, Actor: actor,
			Action: "space.retry", From: []tenants.SpaceState{tenants.SpaceFailed}})
		if err != nil {
			return err
		}
		out = s
		_, err = client.InsertTx(ctx, tx, ProvisionSpaceArgs{SpaceID: spaceID}, nil)
		return err
	})
	if err != nil {
		return tenants.Space{}, fmt.Errorf("retry space %d: %w", spaceID, err)
	}
	return out, nil
}

// ProvisionWorker runs provisioning passes. A pass that fails is retried with River's backoff;
// after the last attempt, or at once for a failure no retry can fix (a broken template), the
// space goes failed with the reason, and its place under the ceiling goes to the next one.
type ProvisionWorker struct {
	river.WorkerDefaults[ProvisionSpaceArgs]
	Provisioner *provisioner.Provisioner
	Box         *secretbox.Box
	// PublicURL is the service's address, for the mail's signature.
	PublicURL string
	Logger    *slog.Logger
}

// Timeout bounds a pass: the wait for health plus time for the other steps.
func (w *ProvisionWorker) Timeout(*river.Job[ProvisionSpaceArgs]) time.Duration {
	return ProvisionJobTimeout(w.Provisioner)
}

// ProvisionJobTimeout is how long one provisioning pass may run.
func ProvisionJobTimeout(p *provisioner.Provisioner) time.Duration {
	return p.HealthTimeout() + 30*time.Second
}

// Work runs one pass over the job's space.
func (w *ProvisionWorker) Work(ctx context.Context, job *river.Job[ProvisionSpaceArgs]) error {
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
		if _, kerr := client.Insert(fctx, AdmitSpacesArgs{}, nil); kerr != nil {
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
	args, err := SealMail(w.Box, SendMailArgs{
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
	river.WorkerDefaults[AdmitSpacesArgs]
	Pool *pgxpool.Pool
	// Ceiling is the capacity ceiling now (see provisioner.Provisioner.Ceiling).
	Ceiling func(context.Context) (int, error)
}

// Work enqueues a provisioning job for each space to start; spaces with one already are skipped
// by the job's uniqueness.
func (w *AdmitWorker) Work(ctx context.Context, _ *river.Job[AdmitSpacesArgs]) error {
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
		if _, err := client.Insert(ctx, ProvisionSpaceArgs{SpaceID: id}, nil); err != nil {
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
		func() (river.JobArgs, *river.InsertOpts) { return AdmitSpacesArgs{}, nil },
		&river.PeriodicJobOpts{RunOnStart: true})}, nil
}
