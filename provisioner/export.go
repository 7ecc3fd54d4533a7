package provisioner

import (
	"archive/tar"
	"bufio"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"path"
	"strings"
	"sync"
	"time"

	nomadapi "github.com/hashicorp/nomad/api"

	"github.com/assospaces/spaces/provisioner/nomad"
	"github.com/assospaces/spaces/tenants"
)

// Executor runs a command inside a task of a running allocation and streams its output;
// *nomad.Client implements it. An export needs it besides Nomad: it is asked for where it is
// used, so that the test doubles of Nomad need not grow a method no other step uses.
type Executor interface {
	Exec(ctx context.Context, alloc *nomadapi.AllocationListStub, task string, command []string, stdout, stderr io.Writer) (int, error)
}

var _ Executor = (*nomad.Client)(nil)

// NextcloudTask is the task of a space's job that runs Nextcloud, in both jobspecs.
const NextcloudTask = "nextcloud"

// exportFilesScript writes the space's data directory as a tar stream on standard output. It
// runs inside the Nextcloud task, where NEXTCLOUD_DATA_DIR is what the official image installs
// into (its default /var/www/html/data, the production jobspec's volume) and what the stand-in
// keeps its files under (the dev jobspec sets it to the allocation's data directory): one rule,
// Nextcloud's own, for both, with no path guessed here. GNU tar exits 1 when a file changed while
// it was read (the space stays in use during an export): the archive is whole but that file may
// be torn.
const exportFilesScript = `cd "${NEXTCLOUD_DATA_DIR:-/var/www/html/data}" && exec tar -cf - .`

// ExportGzipLevel is the archive's compression. Most of what associations store (photos, PDFs,
// office files) is compressed already: the fastest level keeps the export at disk and network
// speed, where the default level would make the CPU the limit for a gain of a few percent.
const ExportGzipLevel = gzip.BestSpeed

// ExportOptions are how an export is made.
type ExportOptions struct {
	// ScratchDir holds the database dump until it goes in the archive (it is removed after):
	// the export directory, which is kept as private as the archive.
	ScratchDir string
	// DumpTimeout bounds pg_dump (default 1 h).
	DumpTimeout time.Duration
	// PgDump is the pg_dump program (default: pg_dump in PATH, Debian's postgresql-client).
	PgDump string
	// Now is the export's date, written in its README.
	Now time.Time
}

// ExportStats describes an archive written by Export.
type ExportStats struct {
	// Files and FilesBytes count the regular files under files/ and their size.
	Files      int64
	FilesBytes int64
	// DatabaseBytes is the size of database.sql.
	DatabaseBytes int64
	// Warning says what the archive may lack although it is whole (a file that changed while it
	// was read); empty when nothing.
	Warning string
}

// Export writes the archive of space s to w, gzip-compressed tar: README.txt (what is inside and
// how to restore it, in French and English), database.sql (pg_dump of the space's database, plain
// SQL without owners or privileges) and files/ (the space's Nextcloud data directory: every
// account's files as Nextcloud stores them). The files are read inside the running Nextcloud task
// through Nomad's exec API and streamed: nothing holds the archive in memory. The database is
// dumped with the provisioner's tenant connection as the space's role.
func (p *Provisioner) Export(ctx context.Context, s tenants.Space, w io.Writer, o ExportOptions) (ExportStats, error) {
	var stats ExportStats
	ex, ok := p.nomad.(Executor)
	if !ok {
		return stats, &PermanentError{Reason: "export", Err: errors.New("this Nomad client cannot run commands in allocations")}
	}
	if o.DumpTimeout <= 0 {
		o.DumpTimeout = time.Hour
	}
	if o.Now.IsZero() {
		o.Now = p.now()
	}
	jobID := JobID(s.Slug)
	alloc, err := p.runningAllocation(ctx, jobID)
	if err != nil {
		return stats, err
	}

	dump, err := os.CreateTemp(o.ScratchDir, ".dump-"+s.Slug+"-*.sql")
	if err != nil {
		return stats, fmt.Errorf("create the database dump's file: %w", err)
	}
	defer os.Remove(dump.Name())
	defer dump.Close()
	if stats.DatabaseBytes, err = p.dumpDatabase(ctx, s, dump, o); err != nil {
		return stats, err
	}

	gz, err := gzip.NewWriterLevel(w, ExportGzipLevel)
	if err != nil {
		return stats, err
	}
	tw := tar.NewWriter(gz)
	readme := exportReadme(s, p.Domain(s.Slug), o.Now)
	if err := writeTarFile(tw, "README.txt", int64(len(readme)), o.Now, strings.NewReader(readme)); err != nil {
		return stats, err
	}
	if _, err := dump.Seek(0, io.SeekStart); err != nil {
		return stats, fmt.Errorf("read the database dump: %w", err)
	}
	if err := writeTarFile(tw, "database.sql", stats.DatabaseBytes, o.Now, bufio.NewReaderSize(dump, 1<<20)); err != nil {
		return stats, err
	}
	if err := p.exportFiles(ctx, ex, alloc, tw, &stats); err != nil {
		return stats, err
	}
	if err := tw.Close(); err != nil {
		return stats, fmt.Errorf("write the archive: %w", err)
	}
	if err := gz.Close(); err != nil {
		return stats, fmt.Errorf("write the archive: %w", err)
	}
	return stats, nil
}

// runningAllocation is the newest running allocation of a space's job, with its Nextcloud task
// running.
func (p *Provisioner) runningAllocation(ctx context.Context, jobID string) (*nomadapi.AllocationListStub, error) {
	allocs, _, err := p.nomad.Allocations(ctx, jobID, 0, 0)
	if err != nil {
		return nil, err
	}
	var best *nomadapi.AllocationListStub
	for _, a := range allocs {
		if a.ClientStatus != nomadapi.AllocClientStatusRunning || a.DesiredStatus != nomadapi.AllocDesiredStatusRun {
			continue
		}
		if ts, ok := a.TaskStates[NextcloudTask]; ok && ts != nil && ts.State != "running" {
			continue
		}
		if best == nil || a.CreateIndex > best.CreateIndex {
			best = a
		}
	}
	if best == nil {
		return nil, fmt.Errorf("job %s has no running allocation to read the files from", jobID)
	}
	return best, nil
}

// exportFiles streams the data directory out of the allocation and writes its entries under
// files/ in tw.
func (p *Provisioner) exportFiles(ctx context.Context, ex Executor, alloc *nomadapi.AllocationListStub, tw *tar.Writer, stats *ExportStats) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	pr, pw := io.Pipe()
	stderr := &tailBuffer{max: 2048}
	type result struct {
		code int
		err  error
	}
	done := make(chan result, 1)
	go func() {
		code, err := ex.Exec(ctx, alloc, NextcloudTask, []string{"/bin/sh", "-c", exportFilesScript}, pw, stderr)
		if err == nil && code > 1 {
			err = fmt.Errorf("tar in allocation %s exited with status %d: %s", shortID(alloc.ID), code, stderr.String())
		}
		if err != nil {
			pw.CloseWithError(err)
		} else {
			pw.Close()
		}
		done <- result{code, err}
	}()
	copyErr := copyFilesStream(tw, pr, stats)
	if copyErr != nil {
		cancel()
		pr.CloseWithError(copyErr)
	}
	res := <-done
	switch {
	case res.err != nil:
		return fmt.Errorf("read the files of allocation %s: %w", shortID(alloc.ID), res.err)
	case copyErr != nil:
		return copyErr
	case res.code == 1:
		stats.Warning = "some files changed while they were read (tar exit status 1): the archive is whole, but those files may be incomplete in it"
	}
	return nil
}

// copyFilesStream copies the entries of the tar stream r into tw under files/, counting the
// regular files, then reads r to its end.
func copyFilesStream(tw *tar.Writer, r io.Reader, stats *ExportStats) error {
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("read the files' tar stream: %w", err)
		}
		name, ok := archiveName(h.Name, h.Typeflag == tar.TypeDir)
		if !ok {
			return fmt.Errorf("the files' tar stream has an entry outside the data directory: %q", h.Name)
		}
		h.Name = name
		if h.Typeflag == tar.TypeLink {
			if h.Linkname, ok = archiveName(h.Linkname, false); !ok {
				return fmt.Errorf("the files' tar stream links outside the data directory: %q", h.Linkname)
			}
		}
		// Let the writer pick USTAR or PAX as the header needs, whatever GNU tar wrote.
		h.Format, h.AccessTime, h.ChangeTime = tar.FormatUnknown, time.Time{}, time.Time{}
		if err := tw.WriteHeader(h); err != nil {
			return fmt.Errorf("write the archive: %w", err)
		}
		if h.Typeflag == tar.TypeReg {
			n, err := io.Copy(tw, tr)
			if err != nil {
				return fmt.Errorf("copy %s into the archive: %w", name, err)
			}
			stats.Files++
			stats.FilesBytes += n
		}
	}
	// The stream's end blocks (and anything after them) are read, so that the exec ends cleanly.
	if _, err := io.Copy(io.Discard, r); err != nil {
		return fmt.Errorf("read the files' tar stream: %w", err)
	}
	return nil
}

// archiveName is the name under files/ of an entry of the data directory's tar stream ("./a/b"
// → "files/a/b"), or false for a name that would leave it.
func archiveName(name string, dir bool) (string, bool) {
	if path.IsAbs(name) {
		return "", false
	}
	clean := path.Clean(name)
	if clean == ".." || strings.HasPrefix(clean, "../") {
		return "", false
	}
	if clean == "." {
		return "files/", true
	}
	if dir {
		clean += "/"
	}
	return "files/" + clean, true
}

func writeTarFile(tw *tar.Writer, name string, size int64, at time.Time, r io.Reader) error {
	h := &tar.Header{Typeflag: tar.TypeReg, Name: name, Size: size, Mode: 0o600, ModTime: at}
	if err := tw.WriteHeader(h); err != nil {
		return fmt.Errorf("write %s into the archive: %w", name, err)
	}
	if _, err := io.CopyN(tw, r, size); err != nil {
		return fmt.Errorf("write %s into the archive: %w", name, err)
	}
	return nil
}

// dumpDatabase writes pg_dump's plain SQL of the space's database to f and returns its size. It
// connects as the provisioner (a member of the space's role) and takes the space's role, so the
// dump holds what the space's Nextcloud can read and nothing else; the password goes in the
// environment, never in the arguments (which every user of the machine can read).
func (p *Provisioner) dumpDatabase(ctx context.Context, s tenants.Space, f *os.File, o ExportOptions) (int64, error) {
	name := DatabaseName(s.Slug)
	bin := o.PgDump
	if bin == "" {
		bin = "pg_dump"
	}
	prog, err := exec.LookPath(bin)
	if err != nil {
		return 0, &PermanentError{Reason: "database dump: " + bin + " not found (install postgresql-client, of the tenant server's major version or newer)", Err: err}
	}
	dbURL, password, err := dumpConnection(p.cfg.TenantDatabaseURL, name)
	if err != nil {
		return 0, err
	}
	ctx, cancel := context.WithTimeout(ctx, o.DumpTimeout)
	defer cancel()
	stderr := &tailBuffer{max: 2048}
	cmd := exec.CommandContext(ctx, prog, "--format=plain", "--no-owner", "--no-acl", "--no-password",
		"--role="+name, "--dbname="+dbURL)
	cmd.Env = dumpEnv(os.Environ(), password)
	cmd.Stdout, cmd.Stderr = f, stderr
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Run(); err != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return 0, fmt.Errorf("database dump: pg_dump of %s took longer than %s", name, o.DumpTimeout)
		}
		return 0, fmt.Errorf("database dump: pg_dump of %s: %w: %s", name, err, strings.TrimSpace(stderr.String()))
	}
	fi, err := f.Stat()
	if err != nil {
		return 0, fmt.Errorf("database dump: %w", err)
	}
	return fi.Size(), nil
}

// libpqParams are the URL parameters pg_dump understands; the others (pgx's pool settings) are
// left out, since libpq refuses a URL with one it does not know.
var libpqParams = map[string]bool{
	"sslmode": true, "sslrootcert": true, "sslcert": true, "sslkey": true, "sslcrl": true, "sslsni": true,
	"channel_binding": true, "gssencmode": true, "connect_timeout": true, "target_session_attrs": true,
	"options": true, "host": true, "hostaddr": true, "port": true, "keepalives": true, "keepalives_idle": true,
	"keepalives_interval": true, "keepalives_count": true, "tcp_user_timeout": true, "application_name": true,
}

// dumpConnection is the tenant server's URL naming database, without its password, and the
// password apart.
func dumpConnection(tenantURL, database string) (string, string, error) {
	u, err := url.Parse(tenantURL)
	if err != nil {
		return "", "", fmt.Errorf("database dump: tenant database url: %w", err)
	}
	password := ""
	if u.User != nil {
		password, _ = u.User.Password()
		u.User = url.User(u.User.Username())
	}
	u.Path, u.RawPath = "/"+database, ""
	q := u.Query()
	for k := range q {
		if !libpqParams[k] {
			q.Del(k)
		}
	}
	if q.Get("application_name") == "" {
		q.Set("application_name", "spaces-export")
	}
	u.RawQuery = q.Encode()
	return u.String(), password, nil
}

// dumpEnv is pg_dump's environment: what finds programs and certificates, libpq's own PG*
// variables, messages in English, and the password.
func dumpEnv(environ []string, password string) []string {
	var env []string
	for _, kv := range environ {
		k, _, _ := strings.Cut(kv, "=")
		if k == "PATH" || k == "HOME" || k == "TZ" || strings.HasPrefix(k, "PG") && k != "PGPASSWORD" {
			env = append(env, kv)
		}
	}
	env = append(env, "LC_ALL=C")
	if password != "" {
		env = append(env, "PGPASSWORD="+password)
	} else {
		for _, kv := range environ {
			if strings.HasPrefix(kv, "PGPASSWORD=") {
				env = append(env, kv)
			}
		}
	}
	return env
}

// tailBuffer keeps the last max bytes written to it: the end of a program's error output, where
// its reason is.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if len(t.b) > t.max {
		t.b = append(t.b[:0], t.b[len(t.b)-t.max:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.ToValidUTF8(string(t.b), "")
}

// exportReadme tells the association what its archive holds and how to use it.
func exportReadme(s tenants.Space, domain string, at time.Time) string {
	when := at.UTC().Format("2006-01-02 15:04 UTC")
	return strings.NewReplacer("{slug}", s.Slug, "{domain}", domain, "{when}", when, "{assoc}", s.AssociationName).Replace(
		`Export de l'espace {slug} ({assoc}) — https://{domain}
Fait le {when}. (English below.)

Ce que contient cette archive
  files/         le dossier de données du Nextcloud de l'espace, tel que Nextcloud le range :
                 les fichiers de chaque compte sont dans files/<identifiant du compte>/files/.
  database.sql   la base de données de l'espace (comptes, groupes, partages, réglages…),
                 sauvegardée par pg_dump au format SQL, sans propriétaire ni droits.
  README.txt     ce texte.

Elle contient des données personnelles de vos membres : gardez-la en lieu sûr et
supprimez-la quand vous n'en avez plus besoin.

Récupérer ses fichiers
  Ouvrez files/<identifiant>/files/ : ce sont les fichiers tels que vous les aviez déposés.
  Pour les remettre dans un autre Nextcloud, déposez-les par l'interface web ou le client de
  synchronisation, ou copiez-les dans le dossier de données de ce Nextcloud puis lancez
  « occ files:scan --all ».

Restaurer la base de données (PostgreSQL)
  createdb nouvelle_base
  psql --dbname=nouvelle_base --file=database.sql
  Pour reconstruire un Nextcloud complet, restaurez la base et le dossier de données ensemble,
  avec la même version de Nextcloud (documentation Nextcloud : « Restoring backup »).

--------------------------------------------------------------------------------------------

Export of the space {slug} ({assoc}) — https://{domain}
Made on {when}.

What this archive holds
  files/         the data directory of the space's Nextcloud, as Nextcloud keeps it: each
                 account's files are in files/<account id>/files/.
  database.sql   the space's database (accounts, groups, shares, settings…), dumped by pg_dump
                 as plain SQL, without owners or privileges.
  README.txt     this text.

It holds your members' personal data: keep it somewhere safe and delete it once you no longer
need it.

Getting your files back
  Open files/<account id>/files/: the files are as you uploaded them. To put them in another
  Nextcloud, upload them through its web interface or sync client, or copy them into its data
  directory and run "occ files:scan --all".

Restoring the database (PostgreSQL)
  createdb new_database
  psql --dbname=new_database --file=database.sql
  To rebuild a whole Nextcloud, restore the database and the data directory together, on the
  same Nextcloud version (Nextcloud documentation: "Restoring backup").
`)
}
