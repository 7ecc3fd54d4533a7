package jobs

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"

	"github.com/assospaces/spaces/tenants"
)

// ExportMaxAttempts is how many attempts an export gets, whatever ended them.
const ExportMaxAttempts = 3

// ExportSpaceArgs asks for one export to be made.
type ExportSpaceArgs struct {
	ExportID int64 `json:"export_id"`
}

// Kind names the job type.
func (ExportSpaceArgs) Kind() string { return "export_space" }

// InsertOpts: exports have their own queue, whose workers bound how many one server runs at once,
// so that they never hold the default queue's workers.
func (ExportSpaceArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueExport, MaxAttempts: ExportMaxAttempts}
}

// RequestExport asks for an export of a space: the export and its job in one transaction, audited
// as actor's decision (space.export). While one is queued or running, that one is returned with
// created false.
func RequestExport(ctx context.Context, pool *pgxpool.Pool, client *Client, spaceID int64, actor tenants.Actor) (tenants.Export, bool, error) {
	var e tenants.Export
	var created bool
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		var err error
		if e, created, err = tenants.RequestExport(ctx, tx, spaceID, actor); err != nil || !created {
			return err
		}
		_, err = client.InsertTx(ctx, tx, ExportSpaceArgs{ExportID: e.ID}, nil)
		return err
	})
	if err != nil {
		return tenants.Export{}, false, fmt.Errorf("request export of space %d: %w", spaceID, err)
	}
	return e, created, nil
}

// Exportable tells whether a space can be exported: its files are read from its running
// Nextcloud, which active spaces have, and suspended ones too (in maintenance mode, their data
// untouched, which makes their export a consistent one).
func Exportable(s tenants.Space) bool {
	return s.State == tenants.SpaceActive || s.State == tenants.SpaceSuspended
}

// NotExportableReason says why a space cannot be exported now.
func NotExportableReason(s tenants.Space) string {
	return "space " + s.Slug + " is " + string(s.State) +
		"; only an active or suspended space can be exported (its files are read from its running Nextcloud)"
}

// SweepExportsArgs asks for the export directory to be kept: exports whose server died are taken
// over, archives past their retention removed, leftovers of dead attempts deleted.
type SweepExportsArgs struct{}

// Kind names the job type.
func (SweepExportsArgs) Kind() string { return "sweep_exports" }

// InsertOpts: sweeps asked for in the same second are one; a sweep changes nothing when run again.
func (SweepExportsArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueDefault, MaxAttempts: 3, UniqueOpts: river.UniqueOpts{ByPeriod: time.Second}}
}
