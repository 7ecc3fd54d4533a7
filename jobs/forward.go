package jobs

import "github.com/riverqueue/river"

// ForwardApplicationArgs asks for one forward (tenants.QueueForward) to be sent to its partner
// host's JSON API. The application itself stays in the forwards table, not in the job's
// arguments, so that it is cleared from one place once the forward is done.
type ForwardApplicationArgs struct {
	ForwardID int64 `json:"forward_id"`
}

// Kind names the job type.
func (ForwardApplicationArgs) Kind() string { return "forward_application" }

// InsertOpts: a partner that cannot be reached is tried again with River's backoff for about
// four hours (10 attempts) before the forward is given up and the applicant told.
func (ForwardApplicationArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueDefault, MaxAttempts: ForwardMaxAttempts}
}

// ForwardMaxAttempts is how many times a forward is tried.
const ForwardMaxAttempts = 10
