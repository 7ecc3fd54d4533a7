package jobs

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"

	"github.com/assospaces/spaces/tenants"
	"github.com/assospaces/spaces/tenants/secretbox"
)

// statusLinkSealContext binds the sealed address of a lost-link request to these jobs.
const statusLinkSealContext = "status-link-request"

// StatusLinkRequestArgs is a request made at /status/lost: mail a new status link to the address
// if an application uses it. The page enqueues one for every request, known address or not, so
// that it does the same work and takes the same time either way; the worker decides. The address
// is sealed (it may be anyone's, typed by anyone).
type StatusLinkRequestArgs struct {
	Sealed string `json:"sealed"`
}

// Kind names the job type.
func (StatusLinkRequestArgs) Kind() string { return "status_link_request" }

// InsertOpts: on the mail queue, retried like mail.
func (StatusLinkRequestArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueMail, MaxAttempts: 20}
}

// NewStatusLinkRequest seals email into a lost-link request.
func NewStatusLinkRequest(box *secretbox.Box, email string) StatusLinkRequestArgs {
	return StatusLinkRequestArgs{Sealed: box.Seal([]byte(email), statusLinkSealContext)}
}

// StatusLinkWorker answers lost-link requests: when an application uses the address, it gets one
// more status link (tenants.AddStatusLink: the old one keeps working until the new one is opened),
// mailed to its contact with template status_link_new in the same transaction; otherwise nothing.
type StatusLinkWorker struct {
	river.WorkerDefaults[StatusLinkRequestArgs]
	Pool      *pgxpool.Pool
	Box       *secretbox.Box
	PublicURL string
}

// Timeout bounds one request.
func (w *StatusLinkWorker) Timeout(*river.Job[StatusLinkRequestArgs]) time.Duration {
	return time.Minute
}

// Work mails a new link if an application uses the address.
func (w *StatusLinkWorker) Work(ctx context.Context, job *river.Job[StatusLinkRequestArgs]) error {
	plain, err := w.Box.Open(job.Args.Sealed, statusLinkSealContext)
	if err != nil {
		return river.JobCancel(fmt.Errorf("open lost-link request: %w", err))
	}
	token := tenants.NewSecret(StatusTokenPrefix)
	base := strings.TrimSuffix(w.PublicURL, "/")
	_, err = tenants.AddStatusLink(ctx, w.Pool, string(plain), token, func(ctx context.Context, tx pgx.Tx, a tenants.Application) error {
		args, err := SealMail(w.Box, SendMailArgs{To: a.ContactEmail, Locale: a.Locale, Template: "status_link_new",
			// Only what the service wrote: the address may be anyone's (notify's unconfirmed mails).
			Data: map[string]string{"Reference": strconv.FormatInt(a.ID, 10), "PublicURL": base}},
			map[string]string{"StatusURL": base + "/status/" + token})
		if err != nil {
			return err
		}
		client := river.ClientFromContext[pgx.Tx](ctx)
		if client == nil {
			return errors.New("no river client in context")
		}
		_, err = client.InsertTx(ctx, tx, args, nil)
		return err
	})
	return err
}

// StatusTokenPrefix marks status page tokens.
const StatusTokenPrefix = "st_"

// registerStatusLink adds the lost-link worker (it needs Pool and Box).
func registerStatusLink(w *river.Workers, deps Deps) ([]*river.PeriodicJob, error) {
	if deps.Pool == nil || deps.Box == nil {
		return nil, nil
	}
	return nil, river.AddWorkerSafely(w, &StatusLinkWorker{Pool: deps.Pool, Box: deps.Box, PublicURL: deps.PublicURL})
}
