package workers_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/assospaces/spaces/jobs"
	"github.com/assospaces/spaces/jobs/workers"
	"github.com/assospaces/spaces/provisioner"
	"github.com/assospaces/spaces/quota"
	"github.com/assospaces/spaces/templates"
	"github.com/assospaces/spaces/tenants"
	"github.com/assospaces/spaces/tenants/pgtest"
	"github.com/assospaces/spaces/tenants/secretbox"
)

// newExportEnv is newEnv with the export workers: their directory is returned.
func newExportEnv(t testing.TB) (*env, string) {
	t.Helper()
	ctx := context.Background()
	pool, _ := pgtest.New(t)
	set, err := templates.Load("")
	if err != nil {
		t.Fatal(err)
	}
	logger := testLogger(t)
	prov, err := provisioner.New(ctx, provisioner.Config{
		BaseDomain: testDomain, Template: templates.Dev, Templates: set, StandinBin: standinBin(t),
		TenantDatabaseURL: pgtest.ProvisionerURL(t), HealthTimeout: 2 * time.Minute,
	}, pool, newDirectNomad(t), logger)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(prov.Close)
	box, err := secretbox.New([]byte(strings.Repeat("k", secretbox.KeySize)))
	if err != nil {
		t.Fatal(err)
	}
	mailer, smtp := testMailer(t)
	dir := filepath.Join(t.TempDir(), "exports")
	client, err := workers.NewClient(pool, workers.Deps{Logger: logger, Pool: pool, Box: box, Provisioner: prov,
		Mailer: mailer, PublicURL: "http://spaces.test", ExportDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if err := client.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		client.Stop(sctx) //nolint:errcheck
	})
	return &env{t: t, pool: pool, admin: pgtest.ServerURL(t), nomad: newDirectNomad(t), prov: prov, client: client,
		box: box, templates: set, smtp: smtp}, dir
}

// waitExport polls an export until it is finished; the limit only guards a hung test.
func waitExport(t testing.TB, e *env, id int64) tenants.Export {
	t.Helper()
	var ex tenants.Export
	waitFor(t, "the export to finish", func() bool {
		var err error
		if ex, err = tenants.GetExport(context.Background(), e.pool, id); err != nil {
			t.Fatal(err)
		}
		return ex.State.Finished()
	})
	return ex
}

// davPath escapes each segment of a path for a WebDAV URL.
func davPath(name string) string {
	parts := strings.Split(name, "/")
	for i, p := range parts {
		parts[i] = url.PathEscape(p)
	}
	return strings.Join(parts, "/")
}

// readTarGz reads an archive into its entries' headers and contents.
func readTarGz(t testing.TB, path string) (map[string]*tar.Header, map[string][]byte) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gz)
	hdrs, data := map[string]*tar.Header{}, map[string][]byte{}
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return hdrs, data
		}
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		hdrs[h.Name], data[h.Name] = h, b
	}
}

// asSpaceRole runs sql in the space's database as its own role, as its Nextcloud would.
func asSpaceRole(t testing.TB, e *env, s tenants.Space, sql string) {
	t.Helper()
	ctx := context.Background()
	name := provisioner.DatabaseName(s.Slug)
	conn, err := pgx.Connect(ctx, pgtest.WithDatabase(t, e.admin, name))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "SET ROLE "+pgx.Identifier{name}.Sanitize()+"; "+sql); err != nil {
		t.Fatal(err)
	}
}

// TestExportSpace provisions a space, writes files through its WebDAV and a row in its database,
// exports it through the job, and finds in the archive every file with its bytes, the row in
// database.sql and the README; the archive is private, named for the space, and whole.
func TestExportSpace(t *testing.T) {
	t.Parallel()
	e, dir := newExportEnv(t)
	ctx := context.Background()
	s := activeSpace(t, e, "export", quota.Limits{StorageBytes: quota.GB, Accounts: 5})
	a := accessSpace(t, e, s)
	big := make([]byte, 5<<20)
	rand.Read(big) //nolint:errcheck
	files := map[string][]byte{
		"hello.txt":                []byte("bonjour\n"),
		"Compte rendu/été 2026.md": []byte("# Assemblée générale\n"),
		"photos/big.bin":           big,
	}
	for _, d := range []string{"Compte rendu", "photos"} {
		if code := a.dav(t, "MKCOL", davPath(d), nil); code != http.StatusCreated {
			t.Fatalf("MKCOL %s: HTTP %d", d, code)
		}
	}
	for name, b := range files {
		if code := a.dav(t, http.MethodPut, davPath(name), b); code != http.StatusCreated {
			t.Fatalf("PUT %s: HTTP %d", name, code)
		}
	}
	asSpaceRole(t, e, s, `CREATE TABLE association_notes (id int, body text);
		INSERT INTO association_notes VALUES (1, 'la note écrite avant l''export')`)

	ex, created, err := jobs.RequestExport(ctx, e.pool, e.client, s.ID, tenants.TokenActor(42))
	if err != nil || !created {
		t.Fatalf("request: %v, created %v", err, created)
	}
	if again, created, err := jobs.RequestExport(ctx, e.pool, e.client, s.ID, tenants.TokenActor(42)); err != nil || created || again.ID != ex.ID {
		t.Errorf("second request while the first runs: %+v created %v %v; want the same export", again, created, err)
	}
	done := waitExport(t, e, ex.ID)
	if done.State != tenants.ExportDone {
		t.Fatalf("export %s: %s", done.State, done.Error)
	}

	if !regexp.MustCompile(`^`+regexp.QuoteMeta(s.Slug)+`-\d{8}T\d{6}Z\.tar\.gz$`).MatchString(done.FileName) ||
		done.Path != filepath.Join(dir, done.FileName) {
		t.Errorf("archive %q at %q; want <slug>-<UTC time>.tar.gz in %s", done.FileName, done.Path, dir)
	}
	fi, err := os.Stat(done.Path)
	if err != nil {
		t.Fatal(err)
	}
	di, _ := os.Stat(dir)
	if fi.Mode().Perm() != 0o600 || di.Mode().Perm() != 0o700 {
		t.Errorf("archive mode %o, directory mode %o; want 600 and 700", fi.Mode().Perm(), di.Mode().Perm())
	}
	b, _ := os.ReadFile(done.Path)
	sum := sha256.Sum256(b)
	if int64(len(b)) != done.BytesWritten || hex.EncodeToString(sum[:]) != done.SHA256 {
		t.Errorf("archive: %d bytes sha256 %x; export says %d bytes %s", len(b), sum, done.BytesWritten, done.SHA256)
	}
	if left, _ := os.ReadDir(dir); len(left) != 1 {
		t.Errorf("export directory holds %v; want the archive alone", left)
	}

	hdrs, data := readTarGz(t, done.Path)
	owner := provisioner.OwnerLogin(s)
	var total int64
	for name, want := range files {
		entry := "files/" + owner + "/files/" + name
		if hdrs[entry] == nil || !bytes.Equal(data[entry], want) {
			t.Errorf("%s: %d bytes in the archive, want %d", entry, len(data[entry]), len(want))
		}
		total += int64(len(want))
	}
	if done.Files < int64(len(files)) || done.FilesBytes < total || done.DatabaseBytes != int64(len(data["database.sql"])) {
		t.Errorf("export counts %d files, %d bytes, database %d; want at least %d files, %d bytes", done.Files, done.FilesBytes,
			done.DatabaseBytes, len(files), total)
	}
	dump := string(data["database.sql"])
	for _, want := range []string{"la note écrite avant l'export", "association_notes", owner} {
		if !strings.Contains(dump, want) {
			t.Errorf("database.sql lacks %q", want)
		}
	}
	if readme := string(data["README.txt"]); !strings.Contains(readme, s.Slug) || !strings.Contains(readme, "database.sql") {
		t.Errorf("README.txt = %q", readme)
	}

	trail, err := tenants.AuditTrail(ctx, e.pool, "space", s.ID)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, entry := range trail {
		if entry.Action == "space.export" {
			n++
			if entry.Actor != tenants.TokenActor(42) || len(entry.Detail) != 1 || entry.Detail["export_id"] != float64(ex.ID) {
				t.Errorf("audit entry %+v; want the token's, with the export id alone", entry)
			}
		}
	}
	if n != 1 {
		t.Errorf("%d space.export entries, want 1", n)
	}
}

// TestExportOfASpaceThatCannotBe: a space that runs no Nextcloud fails its export at once, with
// the reason, and leaves nothing in the export directory.
func TestExportOfASpaceThatCannotBe(t *testing.T) {
	t.Parallel()
	e, dir := newExportEnv(t)
	ctx := context.Background()
	s, err := tenants.CreateSpace(ctx, e.pool, tenants.NewSpace{Slug: randomSlug("noexport"), AssociationName: "A",
		ContactEmail: "a@example.org", Limits: quota.DefaultLimits}, tenants.ActorSystem)
	if err != nil {
		t.Fatal(err)
	}
	ex, _, err := jobs.RequestExport(ctx, e.pool, e.client, s.ID, tenants.TokenActor(1))
	if err != nil {
		t.Fatal(err)
	}
	done := waitExport(t, e, ex.ID)
	if done.State != tenants.ExportFailed || !strings.Contains(done.Error, "is queued; only an active or suspended space can be exported") ||
		done.Attempts != 1 || done.FinishedAt == nil {
		t.Errorf("export = %s (%q) after %d attempts; want failed at once with the reason", done.State, done.Error, done.Attempts)
	}
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Errorf("export directory holds %v", left)
	}
}

// TestExportAttemptFailures runs the worker by hand over an active space whose Nomad job is gone:
// a first attempt gives the export back to the queue with why; the last one fails it.
func TestExportAttemptFailures(t *testing.T) {
	t.Parallel()
	e, dir := newExportEnv(t)
	ctx := context.Background()
	s, err := tenants.CreateSpace(ctx, e.pool, tenants.NewSpace{Slug: randomSlug("nojob"), AssociationName: "A",
		ContactEmail: "a@example.org", Limits: quota.DefaultLimits}, tenants.ActorSystem)
	if err != nil {
		t.Fatal(err)
	}
	for _, to := range []tenants.SpaceState{tenants.SpaceProvisioning, tenants.SpaceActive} {
		if _, err := tenants.TransitionSpace(ctx, e.pool, s.ID, tenants.Transition{To: to, Actor: tenants.ActorReconciler}); err != nil {
			t.Fatal(err)
		}
	}
	// The export is asked for without its job: this test runs the attempts.
	ex, _, err := tenants.RequestExport(ctx, e.pool, s.ID, tenants.TokenActor(1))
	if err != nil {
		t.Fatal(err)
	}
	w := &workers.ExportWorker{Pool: e.pool, Provisioner: e.prov, Dir: dir, Retention: time.Hour, Logger: testLogger(t)}
	attempt := func(n int) error {
		return w.Work(ctx, &river.Job[jobs.ExportSpaceArgs]{JobRow: &rivertype.JobRow{ID: int64(1000 + n), Attempt: n, MaxAttempts: 3},
			Args: jobs.ExportSpaceArgs{ExportID: ex.ID}})
	}
	err = attempt(1)
	got, _ := tenants.GetExport(ctx, e.pool, ex.ID)
	var cancelled *rivertype.JobCancelError
	if err == nil || errors.As(err, &cancelled) || got.State != tenants.ExportQueued ||
		!strings.Contains(got.Error, "attempt 1 failed: ") || !strings.Contains(got.Error, "has no running allocation") {
		t.Fatalf("first attempt: %v; export %s %q; want it queued again with the reason", err, got.State, got.Error)
	}
	if err := attempt(2); err == nil {
		t.Fatal("second attempt succeeded")
	}
	err = attempt(3)
	got, _ = tenants.GetExport(ctx, e.pool, ex.ID)
	if !errors.As(err, &cancelled) || got.State != tenants.ExportFailed || got.Attempts != 3 || !strings.Contains(got.Error, "has no running allocation") {
		t.Errorf("last attempt: %v; export %s after %d attempts %q; want failed with the reason", err, got.State, got.Attempts, got.Error)
	}
	if err := attempt(3); err != nil {
		t.Errorf("an attempt at a failed export: %v, want nothing done", err)
	}
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Errorf("export directory holds %v after failed attempts", left)
	}
}

// TestExportSweep: an export whose server died is queued again with a job of its own; an archive
// past its retention is removed; what dead attempts left is deleted, what a live one writes kept.
func TestExportSweep(t *testing.T) {
	t.Parallel()
	e, dir := newExportEnv(t)
	ctx := context.Background()
	newSpace := func(prefix string) tenants.Space {
		s, err := tenants.CreateSpace(ctx, e.pool, tenants.NewSpace{Slug: randomSlug(prefix), AssociationName: "A",
			ContactEmail: "a@example.org", Limits: quota.DefaultLimits}, tenants.ActorSystem)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	// Exports made by hand, without jobs; the spaces are queued, so a job run on them fails fast.
	dead, _, _ := tenants.RequestExport(ctx, e.pool, newSpace("dead").ID, tenants.ActorSystem)
	live, _, _ := tenants.RequestExport(ctx, e.pool, newSpace("live").ID, tenants.ActorSystem)
	old, _, _ := tenants.RequestExport(ctx, e.pool, newSpace("old").ID, tenants.ActorSystem)
	for id, runner := range map[int64]string{dead.ID: "deadrunner", live.ID: "liverunner", old.ID: "oldrunner"} {
		if _, err := tenants.ClaimExport(ctx, e.pool, id, runner, time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	oldPath := filepath.Join(dir, "old.tar.gz")
	os.WriteFile(oldPath, []byte("archive"), 0o600) //nolint:errcheck
	if err := tenants.SetExportFile(ctx, e.pool, old.ID, "oldrunner", "old.tar.gz", oldPath); err != nil {
		t.Fatal(err)
	}
	if err := tenants.FinishExport(ctx, e.pool, old.ID, "oldrunner", tenants.ExportResult{SHA256: "x"}, time.Now().Add(-time.Minute)); err != nil {
		t.Fatal(err)
	}
	if _, err := e.pool.Exec(ctx, `UPDATE space_exports SET heartbeat_at = now() - interval '10 minutes' WHERE id = $1`, dead.ID); err != nil {
		t.Fatal(err)
	}
	leftovers := map[string]bool{ // file → kept by the sweep
		".export-" + itoa(dead.ID) + "-deadrunner.part": false,
		".export-" + itoa(live.ID) + "-liverunner.part": true,
		".export-" + itoa(live.ID) + "-earlier.part":    false,
		".dump-x-123.sql": true, // younger than an attempt can live
		"keep.txt":        true, // not ours
	}
	hourAgo := time.Now().Add(-time.Hour)
	for name := range leftovers {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte("x"), 0o600) //nolint:errcheck
		os.Chtimes(p, hourAgo, hourAgo)     //nolint:errcheck
	}

	runJob(t, e, jobs.SweepExportsArgs{})

	if _, err := os.Stat(oldPath); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("archive past its retention: %v, want removed", err)
	}
	if got, _ := tenants.GetExport(ctx, e.pool, old.ID); got.State != tenants.ExportExpired {
		t.Errorf("export past its retention is %s", got.State)
	}
	if got, _ := tenants.GetExport(ctx, e.pool, live.ID); got.State != tenants.ExportRunning || got.Runner != "liverunner" {
		t.Errorf("live export = %s %s", got.State, got.Runner)
	}
	for name, kept := range leftovers {
		if _, err := os.Stat(filepath.Join(dir, name)); (err == nil) != kept {
			t.Errorf("%s: kept %v, want %v", name, err == nil, kept)
		}
	}
	// The dead one was queued again with a job, which ran: its space cannot be exported.
	var jobsFor int
	e.pool.QueryRow(ctx, `SELECT count(*) FROM river_job WHERE kind = 'export_space' AND (args->>'export_id')::bigint = $1`, dead.ID).Scan(&jobsFor) //nolint:errcheck
	got := waitExport(t, e, dead.ID)
	if jobsFor != 1 || got.State != tenants.ExportFailed || got.Attempts != 2 || !strings.Contains(got.Error, "only an active or suspended space") {
		t.Errorf("dead export: %d jobs, %s after %d attempts (%q); want one job, then failed at its second attempt", jobsFor, got.State, got.Attempts, got.Error)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// BenchmarkExport exports a space holding b.N × 100 MB of files (half random bytes, half text
// that compresses), written straight into its data directory, and reports the throughput.
func BenchmarkExport(b *testing.B) {
	e, _ := newExportEnv(b)
	ctx := context.Background()
	s := approveSpaceWith(b, e.pool, e.client, randomSlug("exportbench"), quota.Limits{StorageBytes: 100 * quota.GB, Accounts: 5})
	if s = waitState(b, e.pool, s.ID, tenants.SpaceActive, tenants.SpaceFailed); s.State != tenants.SpaceActive {
		b.Fatalf("space %s", s.State)
	}
	// The stand-in's data directory, as its task sees it (the jobspec decides where it is).
	allocs, _, err := e.nomad.Allocations(ctx, provisioner.JobID(s.Slug), 0, 0)
	if err != nil || len(allocs) == 0 {
		b.Fatal(allocs, err)
	}
	var dataDir bytes.Buffer
	if code, err := e.nomad.Exec(ctx, allocs[0], provisioner.NextcloudTask, []string{"/bin/sh", "-c", `echo "$NEXTCLOUD_DATA_DIR"`},
		&dataDir, io.Discard); err != nil || code != 0 {
		b.Fatal(code, err)
	}
	files := filepath.Join(strings.TrimSpace(dataDir.String()), provisioner.OwnerLogin(s), "files")
	if err := os.MkdirAll(files, 0o750); err != nil {
		b.Fatal(err)
	}
	text := bytes.Repeat([]byte("Compte rendu de l'assemblée générale du 12 mars : les comptes sont approuvés.\n"), 1<<14)
	random := make([]byte, 1<<20)
	var total int64
	for i := range b.N * 100 {
		f, err := os.Create(filepath.Join(files, "f"+strconv.Itoa(i)+".bin"))
		if err != nil {
			b.Fatal(err)
		}
		if i%2 == 0 {
			rand.Read(random) //nolint:errcheck
			f.Write(random)   //nolint:errcheck
		} else {
			f.Write(text[:1<<20]) //nolint:errcheck
		}
		f.Close()
		total += 1 << 20
	}
	b.ResetTimer()
	start := time.Now()
	ex, _, err := jobs.RequestExport(ctx, e.pool, e.client, s.ID, tenants.ActorSystem)
	if err != nil {
		b.Fatal(err)
	}
	done := waitExport(b, e, ex.ID)
	took := time.Since(start)
	b.StopTimer()
	if done.State != tenants.ExportDone {
		b.Fatalf("export %s: %s", done.State, done.Error)
	}
	b.ReportMetric(float64(total)/1e6/took.Seconds(), "MB/s")
	b.ReportMetric(float64(done.BytesWritten)/float64(total), "archive/data")
	b.Logf("%d MB of files exported in %s: archive %d MB (gzip level %d), %d files of %d MB", total>>20, took.Round(time.Millisecond),
		done.BytesWritten>>20, provisioner.ExportGzipLevel, done.Files, done.FilesBytes>>20)
	if done.FilesBytes < total {
		b.Fatalf("the archive holds %d bytes of files, want %d", done.FilesBytes, total)
	}
}
