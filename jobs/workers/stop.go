package workers

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/assospaces/spaces/jobs"
)

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
//
// running, when not nil, is true from the start of the workers until ctx ends: the readiness
// check (/readyz) reports a server whose workers do not run as not ready.
func Run(ctx context.Context, client *jobs.Client, grace time.Duration, running *atomic.Bool) error {
	// The jobs run on a context that ctx does not cancel: River would cancel them all at once when
	// the context given to Start ends, with no grace.
	if err := client.Start(context.WithoutCancel(ctx)); err != nil {
		return fmt.Errorf("start river: %w", err)
	}
	if running != nil {
		running.Store(true)
	}
	<-ctx.Done()
	if running != nil {
		running.Store(false)
	}
	return Stop(context.WithoutCancel(ctx), client, grace)
}

// Stop stops client: it fetches no new job and lets the running ones finish for up to grace,
// then cancels those still running and waits for them to return (up to 15 s more).
func Stop(ctx context.Context, client *jobs.Client, grace time.Duration) error {
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
