package workers

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"

	"github.com/assospaces/spaces/jobs"
	"github.com/assospaces/spaces/provisioner"
	"github.com/assospaces/spaces/tenants"
)

// Exports of a space (provisioner.Export) run as export_space jobs, written to the export
// directory. An export's row (space_exports) says which attempt holds it; the attempt beats
// every second with its progress, so an export whose server died is taken over by the sweep once
// its heartbeat is old, well before River would give up on the job (after ExportTimeout).
const (
	// DefaultExportRetention is how long a finished archive is kept when SPACES_EXPORT_RETENTION is not set.
	DefaultExportRetention = 7 * 24 * time.Hour
	// ExportTimeout bounds one attempt: tens of gigabytes at disk speed, with room to spare.
	ExportTimeout = 6 * time.Hour
	// exportConcurrency is how many exports one server runs at once: each reads a space's whole
	// data directory and writes as much, on disks the spaces share.
	exportConcurrency = 2
	// exportStaleAfter: an attempt silent for this long is taken for dead.
	exportStaleAfter = 2 * time.Minute
	// exportProgressEvery is how often an attempt records its progress (and proves it is alive).
	exportProgressEvery = time.Second
	// exportSweepInterval is how often the leader looks for dead attempts and archives past their retention.
	exportSweepInterval = time.Minute
)

// ExportWorker makes exports: it writes the archive to a hidden file of the export directory and
// renames it to its name once whole, so that a half archive never looks finished.
type ExportWorker struct {
	river.WorkerDefaults[jobs.ExportSpaceArgs]
	Pool        *pgxpool.Pool
	Provisioner *provisioner.Provisioner
	// Dir is the export directory; Retention how long a finished archive stays there.
	Dir       string
	Retention time.Duration
	Logger    *slog.Logger
	// Now is the clock; tests set it.
	Now func() time.Time
}

// Timeout bounds one attempt.
func (w *ExportWorker) Timeout(*river.Job[jobs.ExportSpaceArgs]) time.Duration { return ExportTimeout }

// NextRetry leaves time for what failed to come back (a restarting allocation, Nomad, the
// tenant server): 30 s, then 2 min.
func (w *ExportWorker) NextRetry(job *river.Job[jobs.ExportSpaceArgs]) time.Time {
	return time.Now().Add(time.Duration(job.Attempt*job.Attempt) * 30 * time.Second)
}

func (w *ExportWorker) logger() *slog.Logger {
	if w.Logger == nil {
		return slog.Default()
	}
	return w.Logger
}

func (w *ExportWorker) now() time.Time {
	if w.Now != nil {
		return w.Now()
	}
	return time.Now()
}

// Work runs one attempt of an export. A failure no retry can fix (a space neither active nor
// suspended, no pg_dump), or the last attempt's, fails the export with the reason; another is
// retried.
func (w *ExportWorker) Work(ctx context.Context, job *river.Job[jobs.ExportSpaceArgs]) error {
	id := job.Args.ExportID
	e, err := tenants.GetExport(ctx, w.Pool, id)
	if errors.Is(err, tenants.ErrNotFound) || err == nil && e.State.Finished() {
		return nil
	}
	if err != nil {
		return err
	}
	runner := strconv.FormatInt(job.ID, 10) + "-" + randomHex(4)
	e, err = tenants.ClaimExport(ctx, w.Pool, id, runner, exportStaleAfter)
	if errors.Is(err, tenants.ErrExportFinished) || errors.Is(err, tenants.ErrExportBusy) {
		// Done meanwhile, or a live attempt holds it (it is the sweep's to take over if it dies).
		return nil
	}
	if err != nil {
		return err
	}
	log := w.logger().With("export_id", id, "space", e.Slug, "attempt", e.Attempts, "runner", runner)
	start := time.Now()
	res, err := w.run(ctx, e, runner)
	if err == nil {
		mbps := float64(res.FilesBytes+res.DatabaseBytes) / 1e6 / max(time.Since(start).Seconds(), 1e-3)
		log.InfoContext(ctx, "space exported", "bytes", res.BytesWritten, "files", res.Files, "files_bytes", res.FilesBytes,
			"database_bytes", res.DatabaseBytes, "took", time.Since(start).Round(time.Millisecond), "mb_per_s", fmt.Sprintf("%.1f", mbps))
		return nil
	}
	bg := context.WithoutCancel(ctx)
	switch {
	case errors.Is(err, tenants.ErrExportLost):
		log.WarnContext(ctx, "export taken over by another attempt; this one stops", "err", err)
		return nil
	case interrupted(ctx):
		if rerr := tenants.ReleaseExport(bg, w.Pool, id, runner, ""); rerr != nil {
			log.WarnContext(ctx, "release an interrupted export", "err", rerr)
		}
		return err
	}
	reason := provisioner.Reason(err)
	if provisioner.IsPermanent(err) || e.Attempts >= jobs.ExportMaxAttempts || job.Attempt >= job.MaxAttempts {
		if ferr := tenants.FailExport(bg, w.Pool, id, runner, reason); ferr != nil {
			return errors.Join(err, ferr)
		}
		log.WarnContext(ctx, "export failed", "reason", reason)
		return river.JobCancel(err)
	}
	note := fmt.Sprintf("attempt %d failed: %s; trying again", e.Attempts, reason)
	if rerr := tenants.ReleaseExport(bg, w.Pool, id, runner, note); rerr != nil {
		return errors.Join(err, rerr)
	}
	log.InfoContext(ctx, "export attempt failed; it is retried", "err", err)
	return err
}

// run writes the archive of export e, held by runner, and records it done.
func (w *ExportWorker) run(ctx context.Context, e tenants.Export, runner string) (tenants.ExportResult, error) {
	var res tenants.ExportResult
	s, err := tenants.GetSpace(ctx, w.Pool, e.SpaceID)
	if err != nil {
		return res, err
	}
	if !jobs.Exportable(s) {
		return res, &provisioner.PermanentError{Reason: jobs.NotExportableReason(s), Err: errors.New("space not exportable")}
	}
	if err := prepareExportDir(w.Dir); err != nil {
		return res, err
	}
	// What earlier attempts of this export left: they are dead, since this one holds the export.
	if old, _ := filepath.Glob(filepath.Join(w.Dir, fmt.Sprintf(".export-%d-*.part", e.ID))); len(old) > 0 {
		for _, f := range old {
			os.Remove(f) //nolint:errcheck // the sweep removes what is left
		}
	}
	now := w.now().UTC()
	name := s.Slug + "-" + now.Format("20060102T150405Z") + ".tar.gz"
	if _, err := os.Lstat(filepath.Join(w.Dir, name)); err == nil {
		// An export of this space finished in the same second (one runs at a time per space).
		name = fmt.Sprintf("%s-%s-%d.tar.gz", s.Slug, now.Format("20060102T150405Z"), e.ID)
	}
	final := filepath.Join(w.Dir, name)
	if err := tenants.SetExportFile(ctx, w.Pool, e.ID, runner, name, final); err != nil {
		return res, err
	}
	tmp := filepath.Join(w.Dir, fmt.Sprintf(".export-%d-%s.part", e.ID, runner))
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return res, fmt.Errorf("create the archive: %w", err)
	}
	keep := false
	defer func() {
		if !keep {
			f.Close()
			os.Remove(tmp)
		}
	}()

	out := &archiveWriter{hash: sha256.New()}
	out.buf = bufio.NewWriterSize(io.MultiWriter(f, out.hash), 1<<20)
	workCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	progressDone := make(chan struct{})
	go func() {
		defer close(progressDone)
		w.beat(workCtx, e.ID, runner, out, cancel)
	}()
	stats, err := w.Provisioner.Export(workCtx, s, out, provisioner.ExportOptions{ScratchDir: w.Dir, Now: now})
	if err == nil {
		err = out.buf.Flush()
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	cancel(nil)
	<-progressDone
	if cause := context.Cause(workCtx); errors.Is(cause, tenants.ErrExportLost) {
		return res, cause
	}
	if err != nil {
		return res, fmt.Errorf("export space %s: %w", s.Slug, err)
	}
	res = tenants.ExportResult{BytesWritten: out.n.Load(), SHA256: hex.EncodeToString(out.hash.Sum(nil)),
		Files: stats.Files, FilesBytes: stats.FilesBytes, DatabaseBytes: stats.DatabaseBytes, Warning: stats.Warning}
	// Still ours? A heartbeat just before the rename: an attempt taken for dead must not publish.
	if err := tenants.RecordExportProgress(ctx, w.Pool, e.ID, runner, res.BytesWritten); err != nil {
		return res, err
	}
	if err := os.Rename(tmp, final); err != nil {
		return res, fmt.Errorf("publish the archive: %w", err)
	}
	keep = true
	syncDir(w.Dir)
	if err := tenants.FinishExport(ctx, w.Pool, e.ID, runner, res, w.now().Add(w.Retention)); err != nil {
		os.Remove(final) //nolint:errcheck // not recorded: it would never expire
		return res, err
	}
	return res, nil
}

// beat records the progress every exportProgressEvery until ctx ends; when another attempt took
// the export over, it ends the work with ErrExportLost.
func (w *ExportWorker) beat(ctx context.Context, id int64, runner string, out *archiveWriter, cancel context.CancelCauseFunc) {
	t := time.NewTicker(exportProgressEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		err := tenants.RecordExportProgress(ctx, w.Pool, id, runner, out.n.Load())
		switch {
		case errors.Is(err, tenants.ErrExportLost):
			cancel(err)
			return
		case err != nil && ctx.Err() == nil:
			w.logger().WarnContext(ctx, "record export progress", "export_id", id, "err", err)
		}
	}
}

// archiveWriter counts the archive's bytes as they are written, and hashes them.
type archiveWriter struct {
	buf  *bufio.Writer
	hash hash.Hash
	n    atomic.Int64
}

func (a *archiveWriter) Write(p []byte) (int, error) {
	n, err := a.buf.Write(p)
	a.n.Add(int64(n))
	return n, err
}

// prepareExportDir makes the export directory, readable by the service's user alone: the
// archives hold the associations' personal data.
func prepareExportDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("export directory: %w", err)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("export directory: %w", err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		if err := os.Chmod(dir, 0o700); err != nil {
			return fmt.Errorf("export directory %s is open to other users (%s) and cannot be closed: %w", dir, fi.Mode().Perm(), err)
		}
	}
	return nil
}

// syncDir makes a rename in dir durable; a failure only weakens that.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync() //nolint:errcheck
		d.Close()
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b) //nolint:errcheck // never fails
	return hex.EncodeToString(b)
}

// SweepExportsWorker runs the sweep, on the leader (every exportSweepInterval).
type SweepExportsWorker struct {
	river.WorkerDefaults[jobs.SweepExportsArgs]
	Pool   *pgxpool.Pool
	Dir    string
	Logger *slog.Logger
	// Now is the clock; tests set it.
	Now func() time.Time
}

// Work sweeps once.
func (w *SweepExportsWorker) Work(ctx context.Context, _ *river.Job[jobs.SweepExportsArgs]) error {
	now := time.Now()
	if w.Now != nil {
		now = w.Now()
	}
	// Attempts whose server died: their exports go back to the queue with a job of their own (the
	// dead attempt's job stays "running" in River until its timeout, then finds nothing to do).
	var requeued []int64
	err := pgx.BeginFunc(ctx, w.Pool, func(tx pgx.Tx) error {
		var err error
		if requeued, err = tenants.RequeueDeadExports(ctx, tx, exportStaleAfter, jobs.ExportMaxAttempts); err != nil {
			return err
		}
		client := river.ClientFromContext[pgx.Tx](ctx)
		for _, id := range requeued {
			if _, err := client.InsertTx(ctx, tx, jobs.ExportSpaceArgs{ExportID: id}, nil); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if len(requeued) > 0 {
		w.Logger.InfoContext(ctx, "exports whose server stopped are queued again", "exports", requeued)
	}

	expired, err := tenants.ExportsToExpire(ctx, w.Pool, now)
	if err != nil {
		return err
	}
	for _, e := range expired {
		if err := os.Remove(e.Path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			w.Logger.WarnContext(ctx, "remove an export past its retention", "export_id", e.ID, "err", err)
			continue
		}
		if err := tenants.ExpireExport(ctx, w.Pool, e.ID); err != nil {
			return err
		}
		w.Logger.InfoContext(ctx, "export removed after its retention", "export_id", e.ID, "space", e.Slug)
	}
	return w.removeLeftovers(ctx, now)
}

// removeLeftovers deletes the hidden files of attempts that no longer hold their export (a
// crash leaves them), once they are older than a dead attempt can be.
func (w *SweepExportsWorker) removeLeftovers(ctx context.Context, now time.Time) error {
	entries, err := os.ReadDir(w.Dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read the export directory: %w", err)
	}
	for _, ent := range entries {
		name := ent.Name()
		info, err := ent.Info()
		if err != nil || now.Sub(info.ModTime()) < exportStaleAfter {
			continue
		}
		switch {
		case strings.HasPrefix(name, ".export-") && strings.HasSuffix(name, ".part"):
			idStr, runner, _ := strings.Cut(strings.TrimSuffix(strings.TrimPrefix(name, ".export-"), ".part"), "-")
			id, perr := strconv.ParseInt(idStr, 10, 64)
			if perr == nil {
				e, gerr := tenants.GetExport(ctx, w.Pool, id)
				if gerr == nil && e.State == tenants.ExportRunning && e.Runner == runner {
					continue
				}
				if gerr != nil && !errors.Is(gerr, tenants.ErrNotFound) {
					return gerr
				}
			}
		case strings.HasPrefix(name, ".dump-") && strings.HasSuffix(name, ".sql"):
			// A database dump lives as long as its attempt at most.
			if now.Sub(info.ModTime()) < ExportTimeout {
				continue
			}
		default:
			continue
		}
		if err := os.Remove(filepath.Join(w.Dir, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			w.Logger.WarnContext(ctx, "remove what a dead export attempt left", "file", name, "err", err)
		}
	}
	return nil
}

// registerExport adds the export workers and the sweep, when the provisioner and an export
// directory are there; the directory is made (private) now, so that a wrong one fails the start.
func registerExport(w *river.Workers, deps Deps) ([]*river.PeriodicJob, error) {
	if deps.Pool == nil || deps.Provisioner == nil || deps.ExportDir == "" {
		return nil, nil
	}
	if err := prepareExportDir(deps.ExportDir); err != nil {
		return nil, err
	}
	retention := deps.ExportRetention
	if retention <= 0 {
		retention = DefaultExportRetention
	}
	logger := deps.logger()
	if err := river.AddWorkerSafely(w, &ExportWorker{Pool: deps.Pool, Provisioner: deps.Provisioner, Dir: deps.ExportDir,
		Retention: retention, Logger: logger}); err != nil {
		return nil, err
	}
	if err := river.AddWorkerSafely(w, &SweepExportsWorker{Pool: deps.Pool, Dir: deps.ExportDir, Logger: logger}); err != nil {
		return nil, err
	}
	return []*river.PeriodicJob{river.NewPeriodicJob(river.PeriodicInterval(exportSweepInterval),
		func() (river.JobArgs, *river.InsertOpts) { return jobs.SweepExportsArgs{}, nil },
		&river.PeriodicJobOpts{RunOnStart: true})}, nil
}
