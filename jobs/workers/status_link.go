package workers

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"

	"github.com/assospaces/spaces/jobs"
	"github.com/assospaces/spaces/tenants"
	"github.com/assospaces/spaces/tenants/secretbox"
)

// StatusLinkWorker answers lost-link requests: when an application uses the address, it gets one
// more status link (tenants.AddStatusLink: the old one keeps working until the new one is opened),
// mailed to its contact with template status_link_new in the same transaction; otherwise nothing.
type StatusLinkWorker struct {
	river.WorkerDefaults[jobs.StatusLinkRequestArgs]
	Pool      *pgxpool.Pool
	Box       *secretbox.Box
	PublicURL string
}

// Timeout bounds one request.
func (w *StatusLinkWorker) Timeout(*river.Job[jobs.StatusLinkRequestArgs]) time.Duration {
	return time.Minute
}

// Work mails a new link if an application uses the address.
func (w *StatusLinkWorker) Work(ctx context.Context, job *river.Job[jobs.StatusLinkRequestArgs]) error {
	email, err := jobs.OpenStatusLinkRequest(w.Box, job.Args)
	if err != nil {
		return river.JobCancel(err)
	}
	token := tenants.NewSecret(StatusTokenPrefix)
	base := strings.TrimSuffix(w.PublicURL, "/")
	_, err = tenants.AddStatusLink(ctx, w.Pool, email, token, func(ctx context.Context, tx pgx.Tx, a tenants.Application) error {
		args, err := jobs.SealMail(w.Box, jobs.SendMailArgs{To: a.ContactEmail, Locale: a.Locale, Template: "status_link_new",
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
