package provisioner

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	nomadapi "github.com/hashicorp/nomad/api"

	"github.com/assospaces/spaces/tenants/pgtest"
)

// localExecNomad is the fake Nomad of these tests with an allocation whose task runs here: Exec
// runs the command on this machine with NEXTCLOUD_DATA_DIR set, as the dev jobspec's raw_exec
// task does, so the real script and the real GNU tar are exercised.
type localExecNomad struct {
	*fakeNomad
	dataDir string
	allocs  []*nomadapi.AllocationListStub
	// exec, when set, replaces the local run.
	exec func(command []string, stdout, stderr io.Writer) (int, error)
}

func (n *localExecNomad) Allocations(context.Context, string, uint64, time.Duration) ([]*nomadapi.AllocationListStub, uint64, error) {
	return n.allocs, 1, nil
}

func (n *localExecNomad) Exec(ctx context.Context, alloc *nomadapi.AllocationListStub, task string, command []string, stdout, stderr io.Writer) (int, error) {
	if task != NextcloudTask || alloc.ID != "run-new" {
		return -1, errors.New("exec in the wrong task or allocation: " + task + " " + alloc.ID)
	}
	if n.exec != nil {
		return n.exec(command, stdout, stderr)
	}
	cmd := exec.CommandContext(ctx, command[0], command[1:]...)
	cmd.Env = append(os.Environ(), "NEXTCLOUD_DATA_DIR="+n.dataDir)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return exit.ExitCode(), nil
	}
	return 0, err
}

func runningAllocs() []*nomadapi.AllocationListStub {
	return []*nomadapi.AllocationListStub{
		{ID: "stopped", ClientStatus: "complete", DesiredStatus: "stop", CreateIndex: 9},
		{ID: "run-old", ClientStatus: "running", DesiredStatus: "run", CreateIndex: 3},
		{ID: "run-new", ClientStatus: "running", DesiredStatus: "run", CreateIndex: 7,
			TaskStates: map[string]*nomadapi.TaskState{NextcloudTask: {State: "running"}}},
		{ID: "starting", ClientStatus: "running", DesiredStatus: "run", CreateIndex: 8,
			TaskStates: map[string]*nomadapi.TaskState{NextcloudTask: {State: "pending"}}},
	}
}

// readArchive reads a gzip-compressed tar into entry name → header and content.
func readArchive(t *testing.T, r io.Reader) (names []string, hdrs map[string]*tar.Header, data map[string][]byte) {
	t.Helper()
	gz, err := gzip.NewReader(r)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gz)
	hdrs, data = map[string]*tar.Header{}, map[string][]byte{}
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, h.Name)
		hdrs[h.Name], data[h.Name] = h, b
	}
	return names, hdrs, data
}

// TestExportArchive exports a space whose data directory and database hold something: the
// archive has README.txt, database.sql with the space's rows and files/ with every file, byte for
// byte, its mode and its links.
func TestExportArchive(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	p, _ := newLeastPrivilegeProvisioner(t)
	s, name := testSpace(t, "export")
	s.AssociationName = "Les Amis du Jardin"
	password := newSecret()
	if err := p.ensureDatabase(ctx, s, password); err != nil {
		t.Fatal(err)
	}
	conn, err := connectAs(t, name, password, name)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, `CREATE TABLE oc_notes (id int, body text); INSERT INTO oc_notes VALUES (1, 'réunion du 12 mars')`); err != nil {
		t.Fatal(err)
	}

	data := t.TempDir()
	big := make([]byte, 3<<20)
	rand.Read(big) //nolint:errcheck
	files := map[string][]byte{
		"alice/files/hello.txt":                                  []byte("bonjour\n"),
		"alice/files/Compte rendu été/notes (1).md":              []byte("# notes\n"),
		"alice/files/photos/big.bin":                             big,
		"bob/files/empty":                                        {},
		"bob/files/" + strings.Repeat("long-name-", 12) + ".txt": []byte("a name past tar's 100 bytes"),
	}
	for rel, b := range files {
		full := filepath.Join(data, rel)
		if err := os.MkdirAll(filepath.Dir(full), 0o750); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, b, 0o640); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("hello.txt", filepath.Join(data, "alice/files/link")); err != nil {
		t.Fatal(err)
	}
	n := &localExecNomad{fakeNomad: p.nomad.(*fakeNomad), dataDir: data, allocs: runningAllocs()}
	p.nomad = n
	scratch := t.TempDir()
	var out bytes.Buffer
	at := time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)
	stats, err := p.Export(ctx, s, &out, ExportOptions{ScratchDir: scratch, Now: at})
	if err != nil {
		t.Fatal(err)
	}
	names, hdrs, got := readArchive(t, &out)
	if len(names) < 3 || names[0] != "README.txt" || names[1] != "database.sql" || names[2] != "files/" {
		t.Errorf("archive starts with %v; want README.txt, database.sql, files/", names[:min(3, len(names))])
	}
	for rel, want := range files {
		h := hdrs["files/"+rel]
		if h == nil {
			t.Errorf("files/%s is not in the archive (%v)", rel, names)
			continue
		}
		if !bytes.Equal(got["files/"+rel], want) || h.Mode&0o777 != 0o640 {
			t.Errorf("files/%s: %d bytes mode %o; want %d bytes mode 640", rel, len(got["files/"+rel]), h.Mode, len(want))
		}
	}
	if h := hdrs["files/alice/files/link"]; h == nil || h.Typeflag != tar.TypeSymlink || h.Linkname != "hello.txt" {
		t.Errorf("symlink = %+v", h)
	}
	var wantBytes int64
	for _, b := range files {
		wantBytes += int64(len(b))
	}
	if stats.Files != int64(len(files)) || stats.FilesBytes != wantBytes || stats.Warning != "" {
		t.Errorf("stats = %+v; want %d files, %d bytes", stats, len(files), wantBytes)
	}
	dump := string(got["database.sql"])
	if int64(len(dump)) != stats.DatabaseBytes || !strings.Contains(dump, "réunion du 12 mars") || !strings.Contains(dump, "CREATE TABLE public.oc_notes") {
		t.Errorf("database.sql (%d bytes, stats %d) lacks the space's table or row:\n%.2000s", len(dump), stats.DatabaseBytes, dump)
	}
	if strings.Contains(dump, "OWNER TO") || strings.Contains(dump, "GRANT ") {
		t.Error("database.sql carries owners or privileges; want --no-owner --no-acl")
	}
	readme := string(got["README.txt"])
	for _, want := range []string{s.Slug, "Les Amis du Jardin", "https://" + s.Slug + ".spaces.test", "2026-11-30 10:00 UTC",
		"database.sql", "psql", "files/<identifiant du compte>/files/", "files/<account id>/files/"} {
		if !strings.Contains(readme, want) {
			t.Errorf("README.txt lacks %q", want)
		}
	}
	if left, _ := os.ReadDir(scratch); len(left) != 0 {
		t.Errorf("the dump's file is left in the scratch directory: %v", left)
	}
}

// TestExportPgDumpGetsNoPasswordInItsArguments runs a pg_dump stand-in that records how it was
// called: the password is in its environment only, the rest as asked.
func TestExportPgDumpGetsNoPasswordInItsArguments(t *testing.T) {
	ctx := context.Background()
	p, _ := newLeastPrivilegeProvisioner(t)
	s, name := testSpace(t, "dumpargs")
	p.nomad = &localExecNomad{fakeNomad: p.nomad.(*fakeNomad), dataDir: t.TempDir(), allocs: runningAllocs()}
	dir := t.TempDir()
	record := filepath.Join(dir, "called")
	fake := filepath.Join(dir, "pg_dump")
	script := "#!/bin/sh\nprintf '%s\\n' \"$@\" > " + record + "\necho \"PGPASSWORD=$PGPASSWORD\" >> " + record +
		"\necho \"SECRET=$SPACES_SECRET_KEY\" >> " + record + "\necho '-- dumped'\n"
	if err := os.WriteFile(fake, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SPACES_SECRET_KEY", "must-not-leak")
	if _, err := p.Export(ctx, s, io.Discard, ExportOptions{ScratchDir: t.TempDir(), PgDump: fake}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(record)
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(pgtest.ProvisionerURL(t))
	password, _ := u.User.Password()
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	args, env := lines[:len(lines)-2], lines[len(lines)-2:]
	for _, want := range []string{"--format=plain", "--no-owner", "--no-acl", "--no-password", "--role=" + name} {
		if !slices.Contains(args, want) {
			t.Errorf("pg_dump arguments %q lack %s", args, want)
		}
	}
	if strings.Contains(strings.Join(args, " "), password) {
		t.Errorf("the password is in pg_dump's arguments: %q", args)
	}
	if !slices.ContainsFunc(args, func(a string) bool {
		return strings.HasPrefix(a, "--dbname=postgres://") && strings.Contains(a, "/"+name+"?")
	}) {
		t.Errorf("pg_dump arguments %q do not name the space's database", args)
	}
	if env[0] != "PGPASSWORD="+password || env[1] != "SECRET=" {
		t.Errorf("pg_dump environment: %q; want the password and none of the service's own settings", env)
	}
}

// TestExportFailures: what an export cannot do is an error naming why, and a half-read data
// directory a warning.
func TestExportFailures(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	p, _ := newLeastPrivilegeProvisioner(t)
	s, _ := testSpace(t, "exportfail")
	if err := p.ensureDatabase(ctx, s, newSecret()); err != nil {
		t.Fatal(err)
	}
	base := p.nomad.(*fakeNomad)
	export := func(n *localExecNomad, o ExportOptions) (ExportStats, error) {
		p.nomad = n
		if o.ScratchDir == "" {
			o.ScratchDir = t.TempDir()
		}
		return p.Export(ctx, s, io.Discard, o)
	}
	t.Run("no running allocation", func(t *testing.T) {
		_, err := export(&localExecNomad{fakeNomad: base, allocs: runningAllocs()[:1]}, ExportOptions{})
		if err == nil || !strings.Contains(err.Error(), "has no running allocation") {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("no data directory", func(t *testing.T) {
		_, err := export(&localExecNomad{fakeNomad: base, dataDir: "/nonexistent", allocs: runningAllocs()}, ExportOptions{})
		if err == nil || !strings.Contains(err.Error(), "exited with status 2") || !strings.Contains(err.Error(), "nonexistent") {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("no pg_dump", func(t *testing.T) {
		_, err := export(&localExecNomad{fakeNomad: base, dataDir: t.TempDir(), allocs: runningAllocs()}, ExportOptions{PgDump: "/nonexistent/pg_dump"})
		if !IsPermanent(err) || !strings.Contains(err.Error(), "not found") {
			t.Errorf("err = %v; want a permanent error saying pg_dump is missing", err)
		}
	})
	t.Run("pg_dump too slow", func(t *testing.T) {
		slow := filepath.Join(t.TempDir(), "pg_dump")
		os.WriteFile(slow, []byte("#!/bin/sh\nexec sleep 30\n"), 0o755) //nolint:errcheck
		_, err := export(&localExecNomad{fakeNomad: base, dataDir: t.TempDir(), allocs: runningAllocs()},
			ExportOptions{PgDump: slow, DumpTimeout: 200 * time.Millisecond})
		if err == nil || !strings.Contains(err.Error(), "took longer than 200ms") {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("files changed while read", func(t *testing.T) {
		stats, err := export(&localExecNomad{fakeNomad: base, allocs: runningAllocs(),
			exec: func(_ []string, stdout, _ io.Writer) (int, error) {
				tw := tar.NewWriter(stdout)
				tw.WriteHeader(&tar.Header{Name: "./a", Typeflag: tar.TypeReg, Size: 1, Mode: 0o600}) //nolint:errcheck
				tw.Write([]byte("x"))                                                                 //nolint:errcheck
				return 1, tw.Close()
			}}, ExportOptions{})
		if err != nil || stats.Files != 1 || !strings.Contains(stats.Warning, "changed while they were read") {
			t.Errorf("stats %+v, err %v; want the archive with a warning", stats, err)
		}
	})
	t.Run("a stream leaving the data directory", func(t *testing.T) {
		_, err := export(&localExecNomad{fakeNomad: base, allocs: runningAllocs(),
			exec: func(_ []string, stdout, _ io.Writer) (int, error) {
				tw := tar.NewWriter(stdout)
				tw.WriteHeader(&tar.Header{Name: "../../etc/passwd", Typeflag: tar.TypeReg, Mode: 0o600}) //nolint:errcheck
				return 0, tw.Close()
			}}, ExportOptions{})
		if err == nil || !strings.Contains(err.Error(), "outside the data directory") {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("the archive cannot be written", func(t *testing.T) {
		p.nomad = &localExecNomad{fakeNomad: base, dataDir: t.TempDir(), allocs: runningAllocs()}
		_, err := p.Export(ctx, s, failingWriter{}, ExportOptions{ScratchDir: t.TempDir()})
		if err == nil || !strings.Contains(err.Error(), "disk full") {
			t.Errorf("err = %v", err)
		}
	})
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestArchiveName(t *testing.T) {
	for _, tc := range []struct {
		in   string
		dir  bool
		want string
		ok   bool
	}{
		{"./", true, "files/", true},
		{".", true, "files/", true},
		{"./alice/", true, "files/alice/", true},
		{"./alice/files/a b.txt", false, "files/alice/files/a b.txt", true},
		{"alice/files/x", false, "files/alice/files/x", true},
		{"./a/../b", false, "files/b", true},
		{"../x", false, "", false},
		{"./../x", false, "", false},
		{"/etc/passwd", false, "", false},
		{"..", true, "", false},
	} {
		got, ok := archiveName(tc.in, tc.dir)
		if got != tc.want || ok != tc.ok {
			t.Errorf("archiveName(%q) = %q, %v; want %q, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestDumpConnection(t *testing.T) {
	u, password, err := dumpConnection("postgres://prov:s%3Dcret@db.example:5433/postgres?sslmode=verify-full&pool_max_conns=8&sslrootcert=/ca.pem", "space_x")
	if err != nil {
		t.Fatal(err)
	}
	parsed, _ := url.Parse(u)
	if password != "s=cret" || strings.Contains(u, "cret") || parsed.User.Username() != "prov" || parsed.Host != "db.example:5433" ||
		parsed.Path != "/space_x" {
		t.Errorf("dumpConnection = %q, %q", u, password)
	}
	q := parsed.Query()
	if q.Get("sslmode") != "verify-full" || q.Get("sslrootcert") != "/ca.pem" || q.Has("pool_max_conns") || q.Get("application_name") != "spaces-export" {
		t.Errorf("parameters = %v; want libpq's kept, pgx's dropped", q)
	}
	env := dumpEnv([]string{"PATH=/bin", "PGSSLMODE=require", "PGPASSWORD=old", "SPACES_SECRET_KEY=x", "HOME=/h"}, "new")
	if !slices.Equal(env, []string{"PATH=/bin", "PGSSLMODE=require", "HOME=/h", "LC_ALL=C", "PGPASSWORD=new"}) {
		t.Errorf("dumpEnv = %q", env)
	}
	if env := dumpEnv([]string{"PGPASSWORD=fromenv"}, ""); !slices.Contains(env, "PGPASSWORD=fromenv") {
		t.Errorf("dumpEnv without a password in the URL = %q; want the environment's", env)
	}
}
