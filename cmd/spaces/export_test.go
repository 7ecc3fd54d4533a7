package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/assospaces/spaces/jobs/workers"
	"github.com/assospaces/spaces/provisioner"
	"github.com/assospaces/spaces/provisioner/nomad"
	"github.com/assospaces/spaces/quota"
	"github.com/assospaces/spaces/templates"
	"github.com/assospaces/spaces/tenants"
	"github.com/assospaces/spaces/tenants/pgtest"
	"github.com/assospaces/spaces/webui"
)

func TestSpaceExportUsageErrors(t *testing.T) {
	for name, tc := range map[string]struct {
		args []string
		want string
	}{
		"no --to":      {[]string{"space", "export", "alpha"}, "--to FILE is required"},
		"no slug":      {[]string{"space", "export", "--to", "x.tar.gz"}, "want SLUG"},
		"bad output":   {[]string{"space", "export", "alpha", "--to", "x", "--output", "yaml"}, `--output "yaml" is not a format`},
		"bad timeout":  {[]string{"space", "export", "alpha", "--to", "x", "--timeout", "0s"}, "--timeout 0s is not a positive duration"},
		"unknown flag": {[]string{"space", "export", "alpha", "--too", "x"}, "unknown flag: --too"},
	} {
		t.Run(name, func(t *testing.T) {
			out, err := spacesCommand(t, []string{"SPACES_TOKEN=spt_x", "SPACES_ADDR=http://127.0.0.1:1"}, tc.args...).CombinedOutput()
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.ExitCode() != 2 {
				t.Fatalf("exit: %v\n%s", err, out)
			}
			if lines := strings.Split(strings.TrimSpace(string(out)), "\n"); len(lines) != 1 || !strings.Contains(lines[0], tc.want) {
				t.Errorf("output %q, want one line with %q", out, tc.want)
			}
		})
	}
}

// standinForTest is the stand-in binary the dev jobspec runs: SPACES_STANDIN_BIN, or one built now.
func standinForTest(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("SPACES_STANDIN_BIN"); p != "" {
		return p
	}
	bin := filepath.Join(t.TempDir(), "nextcloud-standin")
	if out, err := exec.Command("go", "build", "-o", bin, "../nextcloud-standin").CombinedOutput(); err != nil {
		t.Fatalf("build the stand-in: %v\n%s", err, out)
	}
	return bin
}

// exportServer is the whole service for the export command: a space provisioned on the real
// Nomad agent, the River workers with the export ones, and the HTTP handler.
type exportServer struct {
	url, token, dir string
	space           tenants.Space
	files           map[string][]byte // written into the space, by name under the first account's home
	db              tenants.DB
}

func newExportServer(t *testing.T) *exportServer {
	t.Helper()
	ctx := context.Background()
	nomadAddr := os.Getenv("NOMAD_ADDR")
	if nomadAddr == "" {
		t.Fatal("NOMAD_ADDR is not set: this test needs a real Nomad agent (run it under testenv)")
	}
	pool, _ := pgtest.New(t)
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	nc, err := nomad.New(nomad.Config{Address: nomadAddr})
	if err != nil {
		t.Fatal(err)
	}
	set, err := templates.Load("")
	if err != nil {
		t.Fatal(err)
	}
	prov, err := provisioner.New(ctx, provisioner.Config{BaseDomain: "spaces.test", Template: templates.Dev, Templates: set,
		StandinBin: standinForTest(t), TenantDatabaseURL: pgtest.ProvisionerURL(t), HealthTimeout: 2 * time.Minute}, pool, nc, logger)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(prov.Close)

	b := make([]byte, 4)
	rand.Read(b) //nolint:errcheck
	slug := "cliexport-" + hex.EncodeToString(b)
	t.Cleanup(func() {
		cctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		nc.DeregisterJob(cctx, provisioner.JobID(slug), true)                //nolint:errcheck
		nc.DeleteVariable(cctx, nomad.VariablePath(provisioner.JobID(slug))) //nolint:errcheck
		if conn, err := pgx.Connect(cctx, pgtest.ServerURL(t)); err == nil {
			name := pgx.Identifier{provisioner.DatabaseName(slug)}.Sanitize()
			conn.Exec(cctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)") //nolint:errcheck
			conn.Exec(cctx, "DROP ROLE IF EXISTS "+name)                     //nolint:errcheck
			conn.Close(cctx)
		}
	})
	s, err := tenants.CreateSpace(ctx, pool, tenants.NewSpace{Slug: slug, AssociationName: "Asso CLI", ContactEmail: "contact@" + slug + ".example",
		Limits: quota.Limits{StorageBytes: quota.GB, Accounts: 5}}, tenants.ActorSystem)
	if err != nil {
		t.Fatal(err)
	}
	var password string
	out, err := prov.Provision(ctx, s.ID, func(_ context.Context, _ pgx.Tx, r provisioner.Ready) error {
		password = r.Password
		return nil
	})
	if err != nil || out != provisioner.Activated {
		t.Fatalf("provision: %v %v", out, err)
	}

	// Files, through the space's own WebDAV as its first account.
	regs, _, err := nc.Services(ctx, provisioner.JobID(slug), 0, 0)
	if err != nil || len(regs) == 0 {
		t.Fatalf("service: %v %v", regs, err)
	}
	big := make([]byte, 2<<20)
	rand.Read(big) //nolint:errcheck
	files := map[string][]byte{"statuts.txt": []byte("Article 1 : l'association a pour but…\n"), "archive.bin": big}
	login := provisioner.OwnerLogin(s)
	for name, body := range files {
		req, _ := http.NewRequest(http.MethodPut, fmt.Sprintf("http://%s:%d/remote.php/dav/files/%s/%s", regs[0].Address, regs[0].Port,
			url.PathEscape(login), url.PathEscape(name)), bytes.NewReader(body))
		req.Host = prov.Domain(slug)
		req.SetBasicAuth(login, password)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("PUT %s: HTTP %d", name, resp.StatusCode)
		}
	}

	dir := filepath.Join(t.TempDir(), "exports")
	client, err := workers.NewClient(pool, workers.Deps{Logger: logger, Pool: pool, Provisioner: prov, ExportDir: dir})
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
	pub, _ := url.Parse("http://spaces.test")
	h, err := webui.New(webui.Options{Pool: pool, Jobs: client, Logger: logger, PublicURL: pub, BaseDomain: "spaces.test",
		SecretKey: []byte(strings.Repeat("k", 32))})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	_, token, err := tenants.CreateAPIToken(ctx, pool, tenants.NewAPIToken{Name: "ops", Scope: tenants.ScopeOperator}, tenants.ActorSystem)
	if err != nil {
		t.Fatal(err)
	}
	s, _ = tenants.GetSpace(ctx, pool, s.ID)
	return &exportServer{url: srv.URL, token: token, dir: dir, space: s, files: files, db: pool}
}

// checkArchive opens the archive at path: README.txt, database.sql naming the first account, and
// every file written into the space with its bytes.
func (x *exportServer) checkArchive(t *testing.T, path string) {
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
	got := map[string][]byte{}
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got[h.Name], _ = io.ReadAll(tr)
	}
	login := provisioner.OwnerLogin(x.space)
	for name, want := range x.files {
		if entry := "files/" + login + "/files/" + name; !bytes.Equal(got[entry], want) {
			t.Errorf("%s: %d bytes in the archive, want %d", entry, len(got[entry]), len(want))
		}
	}
	if !strings.Contains(string(got["database.sql"]), login) || !strings.Contains(string(got["README.txt"]), x.space.Slug) {
		t.Errorf("database.sql or README.txt missing or wrong (%d and %d bytes)", len(got["database.sql"]), len(got["README.txt"]))
	}
}

// TestSpaceExportThroughTheAPI runs `spaces space export` against the whole service: it asks for
// the export, follows it, downloads the archive with its checks and prints its size and SHA-256.
func TestSpaceExportThroughTheAPI(t *testing.T) {
	x := newExportServer(t)
	env := []string{"SPACES_ADDR=" + x.url, "SPACES_TOKEN=" + x.token}
	slug := x.space.Slug
	to := filepath.Join(t.TempDir(), "export.tar.gz")

	out, err := spacesCommand(t, env, "space", "export", "nope", "--to", to).CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 || !strings.Contains(string(out), "no space named nope") {
		t.Errorf("unknown space: %v\n%s", err, out)
	}

	cmd := spacesCommand(t, env, "space", "export", slug, "--to", to)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("export: %v\n%s%s", err, stdout.String(), stderr.String())
	}
	t.Logf("spaces space export %s --to %s:\n%s%s", slug, to, stderr.String(), stdout.String())
	b, err := os.ReadFile(to)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	for _, want := range []string{to + "\n", fmt.Sprintf("(%d bytes)", len(b)), "sha256  " + hex.EncodeToString(sum[:]), "holds   ", " files (2 MB), database dump "} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, stdout.String())
		}
	}
	for _, want := range []string{"export 1 of " + slug + ": queued", "export 1 of " + slug + ": done", "downloaded export.tar.gz: "} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("progress lacks %q:\n%s", want, stderr.String())
		}
	}
	if fi, _ := os.Stat(to); fi.Mode().Perm() != 0o600 {
		t.Errorf("archive mode %o, want 600", fi.Mode().Perm())
	}
	if _, err := os.Stat(to + ".part"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s.part is left: %v", to, err)
	}
	x.checkArchive(t, to)

	// The file exists: refused before anything is asked of the server.
	out, err = spacesCommand(t, env, "space", "export", slug, "--to", to).CombinedOutput()
	if !errors.As(err, &exit) || exit.ExitCode() != 1 || !strings.Contains(string(out), "exists; pass --force to replace it") {
		t.Errorf("export over an existing file: %v\n%s", err, out)
	}
	var exports int
	x.db.QueryRow(context.Background(), `SELECT count(*) FROM space_exports`).Scan(&exports) //nolint:errcheck
	if exports != 1 {
		t.Errorf("%d exports on the server, want 1", exports)
	}

	// --id downloads an export already made; --force replaces the file; JSON for programs.
	c := spacesCommand(t, env, "space", "export", slug, "--to", to, "--id", "1", "--force", "--output", "json")
	out, err = c.Output()
	if err != nil {
		t.Fatalf("export --id --force: %v\n%s", err, out)
	}
	var res struct {
		File      string         `json:"file"`
		SizeBytes int64          `json:"size_bytes"`
		SHA256    string         `json:"sha256"`
		Export    tenants.Export `json:"export"`
	}
	if err := json.Unmarshal(out, &res); err != nil || res.File != to || res.SizeBytes != int64(len(b)) ||
		res.SHA256 != hex.EncodeToString(sum[:]) || res.Export.ID != 1 || res.Export.State != tenants.ExportDone || res.Export.DownloadedAt == nil {
		t.Errorf("export --output json: %v\n%s", err, out)
	}
	x.checkArchive(t, to)

	// A space said active whose Nextcloud does not run: its export waits for a retry; the command
	// stops at its --timeout and says how to pick the export up.
	ctx := context.Background()
	ghost, err := tenants.CreateSpace(ctx, x.db, tenants.NewSpace{Slug: "ghost", AssociationName: "Ghost", ContactEmail: "g@example.org",
		Limits: quota.DefaultLimits}, tenants.ActorSystem)
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range []tenants.SpaceState{tenants.SpaceProvisioning, tenants.SpaceActive} {
		if _, err := tenants.TransitionSpace(ctx, x.db, ghost.ID, tenants.Transition{To: st, Actor: tenants.ActorReconciler}); err != nil {
			t.Fatal(err)
		}
	}
	ghostTo := filepath.Join(t.TempDir(), "ghost.tar.gz")
	out, err = spacesCommand(t, env, "space", "export", "ghost", "--to", ghostTo, "--timeout", "3s").CombinedOutput()
	if !errors.As(err, &exit) || exit.ExitCode() != 1 || !strings.Contains(string(out), "stopped at --timeout 3s while export 2 of ghost is ") ||
		!strings.Contains(string(out), "spaces space export ghost --id 2 --to "+ghostTo) {
		t.Errorf("export past its --timeout: %v\n%s", err, out)
	}
	if _, err := os.Stat(ghostTo); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s exists after a timeout: %v", ghostTo, err)
	}
}

// TestExportProgressLines: on a terminal one line rewritten in place; elsewhere plain lines, at
// most one every few seconds, and every final state.
func TestExportProgressLines(t *testing.T) {
	var term bytes.Buffer
	p := &progress{w: &term, tty: true}
	p.update("a 1")
	p.update("a 2")
	p.println("note")
	p.done("a done")
	if got, want := term.String(), "\r\033[Ka 1\r\033[Ka 2\nnote\n\r\033[Ka done\n"; got != want {
		t.Errorf("terminal: %q, want %q", got, want)
	}
	var plain bytes.Buffer
	p = &progress{w: &plain}
	p.update("b 1")
	p.update("b 2") // within progressEvery of the first: not written
	p.done("b done")
	if got, want := plain.String(), "b 1\nb done\n"; got != want {
		t.Errorf("plain: %q, want %q", got, want)
	}
}
