package jobs

import (
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
)

// SendMailArgs asks for one mail to be composed from a template and sent. Values that are secrets
// (a status link with its token, a one-time password) go in Sealed, encrypted with the service's
// secret key (tenants/secretbox), because job arguments are stored in clear in river_job.
type SendMailArgs struct {
	To       string            `json:"to"`
	Locale   string            `json:"locale"`   // fr or en
	Template string            `json:"template"` // e.g. application_received, space_ready
	Data     map[string]string `json:"data,omitempty"`
	Sealed   string            `json:"sealed,omitempty"` // secretbox-sealed JSON object of more template data
}

// Kind names the job type.
func (SendMailArgs) Kind() string { return "send_mail" }

// InsertOpts: mail is retried for about a day of SMTP outage before it is given up.
func (SendMailArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueMail, MaxAttempts: 20}
}

// ProvisionSpaceArgs asks for one space to be brought to its desired state.
type ProvisionSpaceArgs struct {
	SpaceID int64 `json:"space_id"`
}

// Kind names the job type.
func (ProvisionSpaceArgs) Kind() string { return "provision_space" }

// InsertOpts: at most one unfinished provisioning job per space; inserting another while one waits,
// runs or retries is a no-op, while a finished one does not block the next.
func (ProvisionSpaceArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{
		Queue:       QueueProvision,
		MaxAttempts: 10,
		UniqueOpts: river.UniqueOpts{
			ByArgs: true,
			ByState: []rivertype.JobState{
				rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRunning,
				rivertype.JobStateRetryable, rivertype.JobStateScheduled,
			},
		},
	}
}
