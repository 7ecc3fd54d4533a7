package jobs

import (
	"fmt"

	"github.com/riverqueue/river"

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

// OpenStatusLinkRequest returns the address a lost-link request was made for.
func OpenStatusLinkRequest(box *secretbox.Box, args StatusLinkRequestArgs) (string, error) {
	plain, err := box.Open(args.Sealed, statusLinkSealContext)
	if err != nil {
		return "", fmt.Errorf("open lost-link request: %w", err)
	}
	return string(plain), nil
}
