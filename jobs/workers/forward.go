package workers

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/assospaces/spaces/jobs"
	"github.com/assospaces/spaces/tenants"
	"github.com/assospaces/spaces/tenants/secretbox"
)

// ForwardWorker sends a forward (tenants.QueueForward) to its partner host's JSON API, POST
// {forward_url}/api/v1/applications with the partner's token, and records how it ended:
//   - 202: delivered (the partner mailed the applicant its own status link);
//   - 422 or 409, or 503 intake_closed: refused, with the partner's message;
//   - another 4xx (our token refused, a wrong address): failed at once, as retrying cannot help;
//   - a network error, 429 or another 5xx: River tries again with backoff, and after the last
//     attempt the forward is failed.
//
// A refused or failed forward mails the applicant (forward_refused) that the partner could not
// take it and where to apply there directly. Every end clears the payload and is audited.
type ForwardWorker struct {
	river.WorkerDefaults[jobs.ForwardApplicationArgs]
	Pool tenants.DB
	Box  *secretbox.Box
	// HTTP sends the requests; nil uses a client with ForwardRequestTimeout.
	HTTP *http.Client
	// PublicURL is this service's address, named in the mail.
	PublicURL string
	Logger    *slog.Logger
}

// ForwardRequestTimeout bounds one request to a partner.
const ForwardRequestTimeout = 30 * time.Second

// Timeout bounds one attempt.
func (w *ForwardWorker) Timeout(*river.Job[jobs.ForwardApplicationArgs]) time.Duration {
	return ForwardRequestTimeout + 30*time.Second
}

// forwardOutcome is what a partner's answer means.
type forwardOutcome struct {
	state  tenants.ForwardState // "" to try again
	answer string
}

// Work sends the forward once and records the outcome.
func (w *ForwardWorker) Work(ctx context.Context, job *river.Job[jobs.ForwardApplicationArgs]) error {
	f, err := tenants.GetForward(ctx, w.Pool, job.Args.ForwardID)
	if errors.Is(err, tenants.ErrNotFound) {
		return river.JobCancel(err)
	}
	if err != nil {
		return err
	}
	if f.State != tenants.ForwardQueued || f.Payload == nil || f.PartnerID == nil {
		if f.State == tenants.ForwardQueued {
			// The partner was removed: nowhere to send it.
			return w.finish(ctx, f, tenants.ForwardFailed, "the partner host was removed")
		}
		return nil // done already: a repeated job changes nothing
	}
	target, err := tenants.GetForwardTarget(ctx, w.Pool, w.Box, *f.PartnerID)
	if errors.Is(err, tenants.ErrNoForwarding) {
		return w.finish(ctx, f, tenants.ForwardFailed, "the partner host takes no forwarded application any more")
	}
	if err != nil {
		return err
	}
	out, err := w.send(ctx, target, *f.Payload)
	if err != nil {
		if job.Attempt < job.MaxAttempts {
			return err
		}
		w.logger().WarnContext(ctx, "forward given up after its last attempt", "forward_id", f.ID, "partner", target.Partner.Name,
			"attempt", job.Attempt, "err", err)
		return w.finish(ctx, f, tenants.ForwardFailed, "not reached after "+strconv.Itoa(job.Attempt)+" attempts: "+err.Error())
	}
	return w.finish(ctx, f, out.state, out.answer)
}

// send posts the payload and reads the partner's answer; an error is worth another attempt.
func (w *ForwardWorker) send(ctx context.Context, target tenants.ForwardTarget, payload tenants.ForwardPayload) (forwardOutcome, error) {
	body, err := json.Marshal(payload)
	if err != nil {
		return forwardOutcome{}, err
	}
	endpoint := strings.TrimSuffix(target.Partner.ForwardURL, "/") + "/api/v1/applications"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader(body))
	if err != nil {
		return forwardOutcome{state: tenants.ForwardFailed, answer: "the partner's address is not usable: " + err.Error()}, nil
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Authorization", "Bearer "+target.Token)
	req.Header.Set("User-Agent", "spaces-forward")
	client := w.HTTP
	if client == nil {
		// No redirect is followed: a POST turned into a GET elsewhere would say nothing true (a 3xx
		// fails the forward, naming it, for an operator to correct the address).
		client = &http.Client{Timeout: ForwardRequestTimeout, CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		}}
	}
	resp, err := client.Do(req)
	if err != nil {
		// The error names the address, never the token (it is in a header).
		return forwardOutcome{}, fmt.Errorf("send to %s: %w", target.Partner.Name, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var answer struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
			Field   string `json:"field"`
		} `json:"error"`
	}
	_ = json.Unmarshal(raw, &answer)
	said := strconv.Itoa(resp.StatusCode)
	if e := answer.Error; e.Code != "" {
		said += " " + e.Code
		if e.Field != "" {
			said += " (" + e.Field + ")"
		}
		if e.Message != "" {
			said += ": " + e.Message
		}
	}
	switch {
	case resp.StatusCode == http.StatusAccepted:
		return forwardOutcome{state: tenants.ForwardDelivered}, nil
	case resp.StatusCode == http.StatusUnprocessableEntity, resp.StatusCode == http.StatusConflict,
		resp.StatusCode == http.StatusServiceUnavailable && answer.Error.Code == "intake_closed":
		return forwardOutcome{state: tenants.ForwardRefused, answer: said}, nil
	case resp.StatusCode == http.StatusTooManyRequests, resp.StatusCode >= 500:
		return forwardOutcome{}, fmt.Errorf("%s answered %s", target.Partner.Name, said)
	default:
		return forwardOutcome{state: tenants.ForwardFailed, answer: "the partner answered " + said}, nil
	}
}

// finish records the outcome and, unless the partner took it, mails the applicant in the same
// transaction. A forward finished meanwhile (a repeated job) changes nothing.
func (w *ForwardWorker) finish(ctx context.Context, f tenants.Forward, state tenants.ForwardState, answer string) error {
	_, err := tenants.FinishForward(ctx, w.Pool, f.ID, state, answer, func(ctx context.Context, tx pgx.Tx, was tenants.Forward) error {
		if state == tenants.ForwardDelivered {
			return nil
		}
		partnerURL := ""
		if was.PartnerID != nil {
			if p, err := tenants.GetPartner(ctx, tx, *was.PartnerID); err == nil {
				partnerURL = p.URL
			}
		}
		client, err := river.ClientFromContextSafely[pgx.Tx](ctx)
		if err != nil {
			return err
		}
		// Only what the service and its operators wrote: the address was typed by anyone.
		_, err = client.InsertTx(ctx, tx, jobs.SendMailArgs{To: was.Payload.ContactEmail, Locale: was.Payload.Locale,
			Template: "forward_refused", Data: map[string]string{"PartnerName": was.PartnerName, "PartnerURL": partnerURL,
				"PublicURL": strings.TrimSuffix(w.PublicURL, "/"), "Reference": strconv.FormatInt(was.ID, 10)}}, nil)
		return err
	})
	if errors.Is(err, tenants.ErrForwardFinished) {
		return nil
	}
	if err == nil {
		w.logger().InfoContext(ctx, "forward finished", "forward_id", f.ID, "partner", f.PartnerName, "state", string(state))
	}
	return err
}

func (w *ForwardWorker) logger() *slog.Logger {
	if w.Logger == nil {
		return slog.Default()
	}
	return w.Logger
}

// registerForward adds the forward worker (it needs Pool and Box).
func registerForward(w *river.Workers, deps Deps) ([]*river.PeriodicJob, error) {
	if deps.Pool == nil || deps.Box == nil {
		return nil, nil
	}
	return nil, river.AddWorkerSafely(w, &ForwardWorker{Pool: deps.Pool, Box: deps.Box, PublicURL: deps.PublicURL, Logger: deps.logger()})
}
