package jobs

import "github.com/riverqueue/river"

// CollectUsageArgs asks for a usage pass over the spaces that are due (provisioner.CollectUsage).
type CollectUsageArgs struct{}

// Kind names the job type.
func (CollectUsageArgs) Kind() string { return "collect_usage" }

// InsertOpts: as ReconcileSpacesArgs's.
func (CollectUsageArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueReconcile, MaxAttempts: 3, UniqueOpts: river.UniqueOpts{ByPeriod: passEvery}}
}
