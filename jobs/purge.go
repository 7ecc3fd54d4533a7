package jobs

import (
	"time"

	"github.com/riverqueue/river"
)

// PurgeInterval is how often the purge runs. Retention is counted in days, so hourly is plenty.
const PurgeInterval = time.Hour

// PurgeApplicationsArgs asks for applications left without an answer past SPACES_STALE_AFTER to
// be closed, for rejected and withdrawn applications past the retention to be deleted, leaving
// anonymised counts, and for expired moderator sessions to go.
type PurgeApplicationsArgs struct{}

// Kind names the job type.
func (PurgeApplicationsArgs) Kind() string { return "purge_applications" }

// InsertOpts: one waiting purge is enough.
func (PurgeApplicationsArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueDefault, UniqueOpts: river.UniqueOpts{ByArgs: true, ByPeriod: PurgeInterval}}
}

// PurgeSpacesArgs asks for the deleting spaces whose grace period is over to be purged.
type PurgeSpacesArgs struct{}

// Kind names the job type.
func (PurgeSpacesArgs) Kind() string { return "purge_spaces" }

// InsertOpts: one waiting purge is enough; it shares the reconcile queue, as it works on Nomad
// and the tenant server.
func (PurgeSpacesArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueReconcile, UniqueOpts: river.UniqueOpts{ByArgs: true, ByPeriod: time.Minute}}
}
