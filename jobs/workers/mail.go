package workers

import (
	"context"
	"errors"
	"log/slog"
	"maps"
	"time"

	"github.com/riverqueue/river"

	"github.com/assospaces/spaces/jobs"
	"github.com/assospaces/spaces/tenants"
	"github.com/assospaces/spaces/tenants/notify"
	"github.com/assospaces/spaces/tenants/secretbox"
)

// MailWorker composes and sends one mail per job. A failed delivery returns its error, and River
// retries with backoff for about a day; a mail that cannot be composed is cancelled at once. A
// mail given up, after its last attempt or cancelled, is logged at error level (recipient masked,
// template, error; never its data) and counted in mail_drops (tenants.RecordMailDrop), which the
// dashboard shows.
type MailWorker struct {
	river.WorkerDefaults[jobs.SendMailArgs]
	Mailer *notify.Mailer
	Box    *secretbox.Box
	// Pool is where dropped mail is counted; nil only logs it.
	Pool   tenants.DB
	Logger *slog.Logger
}

// Timeout bounds one delivery attempt.
func (w *MailWorker) Timeout(*river.Job[jobs.SendMailArgs]) time.Duration { return time.Minute }

// Work sends the mail the job describes, and records it when River is about to give it up.
func (w *MailWorker) Work(ctx context.Context, job *river.Job[jobs.SendMailArgs]) error {
	err := w.send(ctx, job)
	if err == nil {
		return nil
	}
	var cancelled *river.JobCancelError
	if (errors.As(err, &cancelled) || job.Attempt >= job.MaxAttempts) && !interrupted(ctx) {
		w.dropped(ctx, job, err)
	}
	return err
}

// dropped logs and counts a mail River discards or cancels. The count is written on a context of
// its own: the job's may have ended with its timeout.
func (w *MailWorker) dropped(ctx context.Context, job *river.Job[jobs.SendMailArgs], cause error) {
	logger := w.Logger
	if logger == nil {
		logger = slog.Default()
	}
	a := job.Args
	logger.ErrorContext(ctx, "mail given up: it will not be sent", "to", notify.MaskAddress(a.To),
		"template", a.Template, "job_id", job.ID, "attempt", job.Attempt, "max_attempts", job.MaxAttempts, "err", cause)
	if w.Pool == nil {
		return
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := tenants.RecordMailDrop(rctx, w.Pool, a.Template, time.Now()); err != nil {
		logger.ErrorContext(ctx, "dropped mail not counted", "template", a.Template, "job_id", job.ID, "err", err)
	}
}

// send composes and delivers one mail.
func (w *MailWorker) send(ctx context.Context, job *river.Job[jobs.SendMailArgs]) error {
	a := job.Args
	data := maps.Clone(a.Data)
	if data == nil {
		data = map[string]string{}
	}
	if a.Sealed != "" {
		if w.Box == nil {
			return river.JobCancel(errors.New("mail has sealed data but no secret box is configured"))
		}
		secret, err := jobs.OpenMail(w.Box, a)
		if err != nil {
			// Sealed with another key: retrying will not help.
			return river.JobCancel(err)
		}
		maps.Copy(data, secret)
	}
	msg, err := w.Mailer.Templates.Compose(a.To, a.Template, a.Locale, data)
	if err != nil {
		return river.JobCancel(err)
	}
	if err := w.Mailer.Sender.Send(ctx, msg); err != nil {
		return err
	}
	return nil
}

// registerMail adds the mail worker (when there is a mailer).
func registerMail(w *river.Workers, deps Deps) ([]*river.PeriodicJob, error) {
	if deps.Mailer == nil {
		return nil, nil
	}
	mw := &MailWorker{Mailer: deps.Mailer, Box: deps.Box, Logger: deps.logger()}
	if deps.Pool != nil {
		mw.Pool = deps.Pool
	}
	return nil, river.AddWorkerSafely(w, mw)
}
