package tenants

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// ExportState is where an export of a space stands.
type ExportState string

// Export states: queued → running → done → expired (the archive removed after the retention), or
// failed with the reason. A running export whose attempt died goes back to queued.
const (
	ExportQueued  ExportState = "queued"
	ExportRunning ExportState = "running"
	ExportDone    ExportState = "done"
	ExportFailed  ExportState = "failed"
	ExportExpired ExportState = "expired"
)

// Finished tells whether nothing more happens to an export but its expiry.
func (s ExportState) Finished() bool {
	return s == ExportDone || s == ExportFailed || s == ExportExpired
}

// Export is one archive of a space's files and database dump, asked for by an operator.
type Export struct {
	ID          int64       `json:"id"`
	SpaceID     int64       `json:"space_id"`
	Slug        string      `json:"slug"`
	RequestedBy Actor       `json:"requested_by"`
	State       ExportState `json:"state"`
	// BytesWritten is the size of the archive so far, or in all once done.
	BytesWritten int64 `json:"bytes_written"`
	// Files and FilesBytes count the regular files in the archive and their size before
	// compression; DatabaseBytes is the size of the database dump. Known once done.
	Files         int64  `json:"files"`
	FilesBytes    int64  `json:"files_bytes"`
	DatabaseBytes int64  `json:"database_bytes"`
	FileName      string `json:"file_name,omitempty"`
	// Path is where the archive is on the servers; never shown.
	Path         string     `json:"-"`
	SHA256       string     `json:"sha256,omitempty"`
	Error        string     `json:"error,omitempty"`
	Warning      string     `json:"warning,omitempty"`
	Attempts     int        `json:"attempts"`
	Runner       string     `json:"-"`
	HeartbeatAt  *time.Time `json:"-"`
	CreatedAt    time.Time  `json:"created_at"`
	StartedAt    *time.Time `json:"started_at,omitempty"`
	FinishedAt   *time.Time `json:"finished_at,omitempty"`
	ExpiresAt    *time.Time `json:"expires_at,omitempty"`
	DownloadedAt *time.Time `json:"downloaded_at,omitempty"`
}

// Errors of the export functions, matched with errors.Is.
var (
	// ErrExportLost: another attempt holds the export now (this one was taken for dead).
	ErrExportLost = errors.New("export: held by another attempt")
	// ErrExportBusy: a live attempt runs the export already.
	ErrExportBusy = errors.New("export: running in another attempt")
	// ErrExportFinished: the export is done, failed or expired; nothing is left to run.
	ErrExportFinished = errors.New("export: finished already")
)

const exportColumns = `e.id, e.space_id, s.slug, e.requested_by, e.state, e.bytes_written, e.files, e.files_bytes,
	e.database_bytes, coalesce(e.file_name, ''), coalesce(e.path, ''), coalesce(e.sha256, ''), coalesce(e.error, ''),
	coalesce(e.warning, ''), e.attempts, coalesce(e.runner, ''), e.heartbeat_at, e.created_at, e.started_at,
	e.finished_at, e.expires_at, e.downloaded_at`

const exportFrom = ` FROM space_exports e JOIN spaces s ON s.id = e.space_id `

func scanExport(row pgx.Row) (Export, error) {
	var e Export
	var actor, state string
	err := row.Scan(&e.ID, &e.SpaceID, &e.Slug, &actor, &state, &e.BytesWritten, &e.Files, &e.FilesBytes,
		&e.DatabaseBytes, &e.FileName, &e.Path, &e.SHA256, &e.Error, &e.Warning, &e.Attempts, &e.Runner,
		&e.HeartbeatAt, &e.CreatedAt, &e.StartedAt, &e.FinishedAt, &e.ExpiresAt, &e.DownloadedAt)
	e.RequestedBy, e.State = Actor(actor), ExportState(state)
	return e, err
}

// RequestExport asks for an export of a space, audited as actor's decision (space.export). A
// space has one export queued or running at a time: while there is one, it is returned with
// created false and nothing is written. Call it in the transaction that enqueues the export's job.
func RequestExport(ctx context.Context, db DB, spaceID int64, actor Actor) (e Export, created bool, err error) {
	err = pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		var id int64
		err := tx.QueryRow(ctx, `
			INSERT INTO space_exports (space_id, requested_by) VALUES ($1, $2)
			ON CONFLICT (space_id) WHERE state IN ('queued', 'running') DO NOTHING
			RETURNING id`, spaceID, string(actor)).Scan(&id)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			e, err = scanExport(tx.QueryRow(ctx, `SELECT `+exportColumns+exportFrom+`
				WHERE e.space_id = $1 AND e.state IN ('queued', 'running')`, spaceID))
			return err
		case err != nil:
			return err
		}
		created = true
		if e, err = scanExport(tx.QueryRow(ctx, `SELECT `+exportColumns+exportFrom+` WHERE e.id = $1`, id)); err != nil {
			return err
		}
		return RecordAudit(ctx, tx, AuditEntry{Actor: actor, Action: "space.export", SubjectType: "space",
			SubjectID: spaceID, Detail: map[string]any{"export_id": id}})
	})
	if err != nil {
		return Export{}, false, fmt.Errorf("request export of space %d: %w", spaceID, err)
	}
	return e, created, nil
}

// GetExport reads one export; ErrNotFound when there is none.
func GetExport(ctx context.Context, db DB, id int64) (Export, error) {
	e, err := scanExport(db.QueryRow(ctx, `SELECT `+exportColumns+exportFrom+` WHERE e.id = $1`, id))
	if err != nil {
		return Export{}, fmt.Errorf("get export %d: %w", id, notFound(err))
	}
	return e, nil
}

// ListExports lists a space's exports, newest first, at most limit (default 20).
func ListExports(ctx context.Context, db DB, spaceID int64, limit int) ([]Export, error) {
	if limit <= 0 || limit > 100 {
		limit = 20
	}
	rows, err := db.Query(ctx, `SELECT `+exportColumns+exportFrom+` WHERE e.space_id = $1 ORDER BY e.id DESC LIMIT $2`,
		spaceID, limit)
	if err != nil {
		return nil, fmt.Errorf("list exports of space %d: %w", spaceID, err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Export, error) { return scanExport(r) })
	if err != nil {
		return nil, fmt.Errorf("list exports of space %d: %w", spaceID, err)
	}
	return out, nil
}

// ClaimExport makes runner the attempt running an export: a queued one, or a running one whose
// attempt gave no sign of life for staleAfter (its server died). It counts the attempt and
// starts the progress afresh. ErrExportBusy when a live attempt holds it, ErrExportFinished when
// there is nothing left to run.
func ClaimExport(ctx context.Context, db DB, id int64, runner string, staleAfter time.Duration) (Export, error) {
	var claimed int64
	err := db.QueryRow(ctx, `
		UPDATE space_exports SET state = 'running', runner = $2, heartbeat_at = now(), attempts = attempts + 1,
			started_at = coalesce(started_at, now()), bytes_written = 0
		WHERE id = $1 AND (state = 'queued' OR state = 'running'
			AND (runner IS NULL OR heartbeat_at < now() - make_interval(secs => $3)))
		RETURNING id`, id, runner, staleAfter.Seconds()).Scan(&claimed)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return Export{}, fmt.Errorf("claim export %d: %w", id, err)
	}
	e, gerr := GetExport(ctx, db, id)
	if gerr != nil || err == nil {
		return e, gerr
	}
	if e.State.Finished() {
		return e, fmt.Errorf("claim export %d: %w", id, ErrExportFinished)
	}
	return e, fmt.Errorf("claim export %d: %w", id, ErrExportBusy)
}

// runnerUpdate runs an update of a running export held by runner; ErrExportLost when runner no
// longer holds it.
func runnerUpdate(ctx context.Context, db DB, what string, id int64, runner, sql string, args ...any) error {
	tag, err := db.Exec(ctx, sql, append([]any{id, runner}, args...)...)
	if err != nil {
		return fmt.Errorf("%s of export %d: %w", what, id, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("%s of export %d: %w", what, id, ErrExportLost)
	}
	return nil
}

// SetExportFile records the name and path of the archive an export writes.
func SetExportFile(ctx context.Context, db DB, id int64, runner, fileName, path string) error {
	return runnerUpdate(ctx, db, "record the file", id, runner, `
		UPDATE space_exports SET file_name = $3, path = $4, heartbeat_at = now()
		WHERE id = $1 AND runner = $2 AND state = 'running'`, fileName, path)
}

// RecordExportProgress records the archive's size so far, which is also the attempt's sign of
// life; ErrExportLost when another attempt took the export over.
func RecordExportProgress(ctx context.Context, db DB, id int64, runner string, bytesWritten int64) error {
	return runnerUpdate(ctx, db, "record the progress", id, runner, `
		UPDATE space_exports SET bytes_written = $3, heartbeat_at = now()
		WHERE id = $1 AND runner = $2 AND state = 'running'`, bytesWritten)
}

// ExportResult is what a finished archive holds.
type ExportResult struct {
	BytesWritten  int64
	SHA256        string
	Files         int64
	FilesBytes    int64
	DatabaseBytes int64
	Warning       string
}

// FinishExport records an export done, its archive kept until expiresAt.
func FinishExport(ctx context.Context, db DB, id int64, runner string, r ExportResult, expiresAt time.Time) error {
	return runnerUpdate(ctx, db, "finish", id, runner, `
		UPDATE space_exports SET state = 'done', bytes_written = $3, sha256 = $4, files = $5, files_bytes = $6,
			database_bytes = $7, warning = NULLIF($8, ''), error = NULL, finished_at = now(), expires_at = $9,
			runner = NULL, heartbeat_at = NULL
		WHERE id = $1 AND runner = $2 AND state = 'running'`,
		r.BytesWritten, r.SHA256, r.Files, r.FilesBytes, r.DatabaseBytes, r.Warning, expiresAt)
}

// FailExport records an export failed with reason. With runner empty, it fails the export
// whatever attempt holds it (one not yet started, or whose job ended without a word).
func FailExport(ctx context.Context, db DB, id int64, runner, reason string) error {
	return runnerUpdate(ctx, db, "fail", id, runner, `
		UPDATE space_exports SET state = 'failed', error = $3, finished_at = now(), path = NULL,
			runner = NULL, heartbeat_at = NULL
		WHERE id = $1 AND ($2 = '' OR runner = $2) AND state IN ('queued', 'running')`, reason)
}

// ReleaseExport puts an export that runner holds back in the queue for another attempt, with
// note (why this one stopped) as its error until then.
func ReleaseExport(ctx context.Context, db DB, id int64, runner, note string) error {
	return runnerUpdate(ctx, db, "release", id, runner, `
		UPDATE space_exports SET state = 'queued', error = NULLIF($3, ''), bytes_written = 0, path = NULL,
			runner = NULL, heartbeat_at = NULL
		WHERE id = $1 AND runner = $2 AND state = 'running'`, note)
}

// RequeueDeadExports finds the running exports whose attempt gave no sign of life for
// staleAfter (its server died or was killed): those with attempts left go back to the queue and
// are returned, for their jobs to be enqueued again; the others fail.
func RequeueDeadExports(ctx context.Context, db DB, staleAfter time.Duration, maxAttempts int) ([]int64, error) {
	rows, err := db.Query(ctx, `
		UPDATE space_exports SET
			state = CASE WHEN attempts < $2 THEN 'queued' ELSE 'failed' END,
			error = CASE WHEN attempts < $2 THEN 'the server running attempt ' || attempts || ' stopped; trying again'
				ELSE 'the server running it stopped during each of ' || attempts || ' attempts' END,
			finished_at = CASE WHEN attempts < $2 THEN NULL ELSE now() END,
			bytes_written = 0, path = NULL, runner = NULL, heartbeat_at = NULL
		WHERE state = 'running' AND heartbeat_at < now() - make_interval(secs => $1)
		RETURNING id, state`, staleAfter.Seconds(), maxAttempts)
	if err != nil {
		return nil, fmt.Errorf("requeue dead exports: %w", err)
	}
	var queued []int64
	for rows.Next() {
		var id int64
		var state string
		if err := rows.Scan(&id, &state); err != nil {
			return nil, fmt.Errorf("requeue dead exports: %w", err)
		}
		if state == string(ExportQueued) {
			queued = append(queued, id)
		}
	}
	return queued, rows.Err()
}

// RecordExportDownload notes that actor downloads an export's archive, in the audit log too
// (space.export_download).
func RecordExportDownload(ctx context.Context, db DB, e Export, actor Actor) error {
	err := pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `UPDATE space_exports SET downloaded_at = now() WHERE id = $1`, e.ID); err != nil {
			return err
		}
		return RecordAudit(ctx, tx, AuditEntry{Actor: actor, Action: "space.export_download", SubjectType: "space",
			SubjectID: e.SpaceID, Detail: map[string]any{"export_id": e.ID}})
	})
	if err != nil {
		return fmt.Errorf("record download of export %d: %w", e.ID, err)
	}
	return nil
}

// ExportsToExpire lists the done exports whose archive is past its retention at now.
func ExportsToExpire(ctx context.Context, db DB, now time.Time) ([]Export, error) {
	rows, err := db.Query(ctx, `SELECT `+exportColumns+exportFrom+`
		WHERE e.state = 'done' AND e.expires_at <= $1 ORDER BY e.expires_at LIMIT 1000`, now)
	if err != nil {
		return nil, fmt.Errorf("list exports to expire: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Export, error) { return scanExport(r) })
	if err != nil {
		return nil, fmt.Errorf("list exports to expire: %w", err)
	}
	return out, nil
}

// ExpireExport records that a done export's archive was removed.
func ExpireExport(ctx context.Context, db DB, id int64) error {
	if _, err := db.Exec(ctx, `UPDATE space_exports SET state = 'expired', path = NULL WHERE id = $1 AND state = 'done'`, id); err != nil {
		return fmt.Errorf("expire export %d: %w", id, err)
	}
	return nil
}
