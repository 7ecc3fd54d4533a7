package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/assospaces/spaces/tenants"
)

// The test binary doubles as the spaces binary: run with SPACES_TEST_MAIN=1 it is `spaces`.
func TestMain(m *testing.M) {
	if os.Getenv("SPACES_TEST_MAIN") == "1" {
		os.Args = append([]string{"spaces"}, os.Args[1:]...)
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func spacesCommand(t *testing.T, env []string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(append(os.Environ(), "SPACES_TEST_MAIN=1"), env...)
	return cmd
}

func TestConfigErrorsExitTwoNamingTheSetting(t *testing.T) {
	good := "SPACES_DATABASE_URL=postgres://u:p@127.0.0.1:1/db"
	key := "SPACES_SECRET_KEY=" + strings.Repeat("A", 43) + "="
	tests := []struct {
		name string
		env  []string
		args []string
		want string
	}{
		{"bad database URL", []string{"SPACES_DATABASE_URL=mysql://nope"}, []string{"migrate"}, "SPACES_DATABASE_URL"},
		{"missing database URL", []string{"SPACES_DATABASE_URL="}, []string{"migrate"}, "SPACES_DATABASE_URL (--database-url): is required"},
		{"bad listen", []string{good, key, "SPACES_LISTEN=8080"}, []string{"serve"}, "SPACES_LISTEN"},
		{"bad log level", []string{good, "SPACES_LOG_LEVEL=loud"}, []string{"migrate"}, "expected debug, info, warn or error"},
		{"missing secret key", []string{good, "SPACES_SECRET_KEY="}, []string{"serve"}, "SPACES_SECRET_KEY"},
		{"bad capacity", []string{good, key, "SPACES_CAPACITY=lots"}, []string{"serve"}, "expected a whole number (0 for no ceiling) or nomad"},
		{"bad storage", []string{good, key, "SPACES_DEFAULT_STORAGE=lots"}, []string{"serve"}, "SPACES_DEFAULT_STORAGE"},
		{"dev template without stand-in", []string{good, key, "SPACES_NOMAD_TEMPLATE=dev", "SPACES_STANDIN_BIN="}, []string{"serve"}, "SPACES_STANDIN_BIN"},
		{"bad template name", []string{good, key, "SPACES_NOMAD_TEMPLATE=docker"}, []string{"serve"}, "must be production or dev"},
		{"bad busy wait", []string{good, key, "SPACES_BUSY_WAIT=1h"}, []string{"serve"}, "SPACES_BUSY_WAIT (--busy-wait): not a duration from 1ms to 10s"},
		{"bad in-flight bound", []string{good, key, "SPACES_PUBLIC_IN_FLIGHT=0"}, []string{"serve"}, "SPACES_PUBLIC_IN_FLIGHT"},
		{"flag beats environment", []string{good}, []string{"migrate", "--database-url", "nope"}, "--database-url"},
		{"unknown flag", nil, []string{"migrate", "--colour"}, "unknown flag: --colour"},
		{"missing argument", []string{good}, []string{"moderator", "add"}, "want EMAIL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stderr bytes.Buffer
			cmd := spacesCommand(t, tt.env, tt.args...)
			cmd.Stderr = &stderr
			err := cmd.Run()
			exit, ok := err.(*exec.ExitError)
			if !ok || exit.ExitCode() != 2 {
				t.Fatalf("exit = %v, want code 2; stderr: %s", err, stderr.String())
			}
			msg := strings.TrimSpace(stderr.String())
			if strings.Count(msg, "\n") != 0 {
				t.Errorf("message is not one line: %q", msg)
			}
			if !strings.Contains(msg, tt.want) {
				t.Errorf("message %q does not mention %q", msg, tt.want)
			}
		})
	}
}

func TestSecretsAreNotEchoed(t *testing.T) {
	var stderr bytes.Buffer
	cmd := spacesCommand(t, []string{"SPACES_DATABASE_URL=postgres://u:hunter2@127.0.0.1:1/db", "SPACES_SECRET_KEY=hunter2"}, "serve")
	cmd.Stderr = &stderr
	cmd.Run() //nolint:errcheck
	if strings.Contains(stderr.String(), "hunter2") {
		t.Fatalf("a secret was echoed: %s", stderr.String())
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

var (
	urlLine   = regexp.MustCompile(`Web UI \(public form\)\s+(\S+)/`)
	loginLine = regexp.MustCompile(`login (\S+)\s+password (\S+)`)
	tokenLine = regexp.MustCompile(`SPACES_TOKEN=(\S+)`)
)

type devRun struct {
	cmd                  *exec.Cmd
	url, login, password string
	token                string
	exited               chan error
	output               *lockedBuffer
}

// lockedBuffer is a buffer that the copies of a command's stdout and stderr, each in its own
// goroutine, may write at once.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// startDev runs `spaces dev` and waits for its banner.
func startDev(t *testing.T, dir string, pgPort, nomadPort, httpPort int) *devRun {
	t.Helper()
	nomadBin := os.Getenv("SPACES_NOMAD_BIN")
	standin := os.Getenv("SPACES_STANDIN_BIN")
	if nomadBin == "" || standin == "" {
		t.Fatal("SPACES_NOMAD_BIN and SPACES_STANDIN_BIN must name the nomad and stand-in binaries (make test sets them)")
	}
	cmd := spacesCommand(t, []string{
		"SPACES_LISTEN=127.0.0.1:" + itoa(httpPort), "SPACES_DATABASE_URL=", "SPACES_TENANT_DATABASE_URL=", "NOMAD_ADDR=",
		"SPACES_SMTP_URL=", "SPACES_SECRET_KEY=", "SPACES_PUBLIC_URL=", "SPACES_NOMAD_TEMPLATE=",
	}, "dev", "--dir", dir, "--postgres-port", itoa(pgPort), "--nomad-port", itoa(nomadPort))
	pr, pw := io.Pipe()
	out := &lockedBuffer{}
	cmd.Stdout = io.MultiWriter(pw, out)
	cmd.Stderr = out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	run := &devRun{cmd: cmd, exited: make(chan error, 1), output: out}
	go func() { run.exited <- cmd.Wait(); pw.Close() }()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Signal(syscall.SIGINT) //nolint:errcheck
			select {
			case <-run.exited:
			case <-time.After(60 * time.Second):
				cmd.Process.Kill() //nolint:errcheck
			}
		}
	})
	banner := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			line := sc.Text()
			if m := urlLine.FindStringSubmatch(line); m != nil {
				run.url = m[1]
			}
			if m := loginLine.FindStringSubmatch(line); m != nil {
				run.login, run.password = m[1], m[2]
			}
			if m := tokenLine.FindStringSubmatch(line); m != nil {
				run.token = m[1]
				close(banner)
			}
		}
		io.Copy(io.Discard, pr) //nolint:errcheck
	}()
	select {
	case <-banner:
	case err := <-run.exited:
		t.Fatalf("spaces dev exited before it was ready: %v\n%s", err, out.String())
	case <-time.After(3 * time.Minute):
		t.Fatalf("spaces dev printed no banner\n%s", out.String())
	}
	return run
}

func (r *devRun) stop(t *testing.T) {
	t.Helper()
	if err := r.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-r.exited:
		if err != nil {
			t.Fatalf("spaces dev did not exit cleanly on Ctrl-C: %v\n%s", err, r.output.String())
		}
	case <-time.After(90 * time.Second):
		t.Fatalf("spaces dev still running after Ctrl-C\n%s", r.output.String())
	}
}

func TestDevBringsEverythingUpAndKeepsData(t *testing.T) {
	dir := t.TempDir()
	// The postgres user must reach its folder: open the test's folders to it.
	for _, d := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	pgPort, nomadPort, httpPort := freePort(t), freePort(t), freePort(t)

	first := startDev(t, dir, pgPort, nomadPort, httpPort)
	resp, err := http.Get(first.url + "/healthz")
	if err != nil {
		t.Fatalf("server does not answer on its URL: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /healthz = %s", resp.Status)
	}
	resp, err = http.Get("http://127.0.0.1:" + itoa(nomadPort) + "/v1/agent/health")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("nomad agent health: %v %v", resp, err)
	}
	resp.Body.Close()

	ctx := context.Background()
	pool, err := pgxpool.New(ctx, "postgres://postgres@127.0.0.1:"+itoa(pgPort)+"/spaces?sslmode=disable")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tenants.AuthenticateModerator(ctx, pool, first.login, first.password); err != nil {
		t.Fatalf("printed moderator login does not work: %v", err)
	}
	if _, err := tenants.AuthenticateAPIToken(ctx, pool, first.token); err != nil {
		t.Fatalf("printed API token does not work: %v", err)
	}
	pool.Close()

	// Nomad keeps what a space needs across a restart: its job (with its versions) and its
	// Variable (its secrets).
	nomadAddr := "http://127.0.0.1:" + itoa(nomadPort)
	firstStart := time.Now()
	nomadRequest(t, http.MethodPost, nomadAddr+"/v1/jobs", sleeperJob("1"), nil)
	nomadRequest(t, http.MethodPost, nomadAddr+"/v1/jobs", sleeperJob("2"), nil) // version 1
	const password = "kept-across-restarts"
	secret := map[string]any{"Items": map[string]string{"db_password": password}}
	nomadRequest(t, http.MethodPut, nomadAddr+"/v1/var/spaces/e2e", secret, nil)
	waitSleeperStarted(t, nomadAddr, firstStart)
	first.stop(t)

	for _, port := range []int{pgPort, nomadPort, httpPort} {
		if c, err := net.DialTimeout("tcp", "127.0.0.1:"+itoa(port), time.Second); err == nil {
			c.Close()
			t.Errorf("port %d still answers after Ctrl-C", port)
		}
	}
	if left := processesUnder(t, dir); len(left) > 0 {
		t.Errorf("processes still running in the environment's folder after Ctrl-C: %v", left)
	}

	secondStart := time.Now()
	second := startDev(t, dir, pgPort, nomadPort, httpPort)
	if second.login != first.login || second.password != first.password || second.token != first.token {
		t.Errorf("second run printed other credentials: %+v vs %+v", second, first)
	}
	if _, err := os.Stat(filepath.Join(dir, "postgres", "data", "PG_VERSION")); err != nil {
		t.Errorf("postgres data not kept: %v", err)
	}
	var versions struct{ Versions []struct{ Version int } }
	nomadRequest(t, http.MethodGet, nomadAddr+"/v1/job/sleeper/versions", nil, &versions)
	if len(versions.Versions) != 2 || versions.Versions[0].Version != 1 {
		t.Errorf("job versions after a restart = %+v, want 1 and 0", versions.Versions)
	}
	var variable struct{ Items map[string]string }
	nomadRequest(t, http.MethodGet, nomadAddr+"/v1/var/spaces/e2e", nil, &variable)
	if variable.Items["db_password"] != password {
		t.Errorf("variable after a restart = %v, want db_password %q", variable.Items, password)
	}
	// Nomad starts the job's allocation again by itself: its task really runs again.
	waitSleeperStarted(t, nomadAddr, secondStart)
	running := false
	for _, p := range processesUnder(t, dir) {
		running = running || strings.Contains(p, " /bin/sleep 3600")
	}
	if !running {
		t.Errorf("Nomad reports the task running again but it does not run: %v", processesUnder(t, dir))
	}
	second.stop(t)
	if left := processesUnder(t, dir); len(left) > 0 {
		t.Errorf("processes still running in the environment's folder after Ctrl-C: %v", left)
	}
}

// sleeperJob is a raw_exec job that sleeps; meta changes make new versions of it.
func sleeperJob(meta string) map[string]any {
	return map[string]any{"Job": map[string]any{
		"ID": "sleeper", "Name": "sleeper", "Type": "service", "Datacenters": []string{"*"},
		"Meta": map[string]string{"v": meta},
		"TaskGroups": []any{map[string]any{"Name": "g", "Count": 1, "Tasks": []any{map[string]any{
			"Name": "t", "Driver": "raw_exec",
			"Config":    map[string]any{"command": "/bin/sleep", "args": []string{"3600"}},
			"Resources": map[string]int{"CPU": 20, "MemoryMB": 16},
		}}}},
	}}
}

// nomadRequest sends body (JSON) to the Nomad API and decodes the answer into out, when not nil.
func nomadRequest(t *testing.T, method, url string, body, out any) {
	t.Helper()
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, url, r)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s %s: %s %s", method, url, resp.Status, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %v", method, url, err)
		}
	}
}

// waitSleeperStarted waits until an allocation of the sleeper job runs a task started after since.
func waitSleeperStarted(t *testing.T, nomadAddr string, since time.Time) {
	t.Helper()
	var allocs []struct {
		ID, ClientStatus string
		TaskStates       map[string]struct {
			State     string
			StartedAt time.Time
		}
	}
	for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		nomadRequest(t, http.MethodGet, nomadAddr+"/v1/job/sleeper/allocations", nil, &allocs)
		for _, a := range allocs {
			if ts := a.TaskStates["t"]; a.ClientStatus == "running" && ts.State == "running" && ts.StartedAt.After(since) {
				return
			}
		}
	}
	t.Fatalf("no allocation of the sleeper job started after %s: %+v", since.Format(time.RFC3339Nano), allocs)
}

// processesUnder lists the processes that run in dir or name a path under it.
func processesUnder(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	prefix := dir + string(filepath.Separator)
	var found []string
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		cwd, _ := os.Readlink("/proc/" + e.Name() + "/cwd")
		cmdline, _ := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if strings.HasPrefix(cwd+string(filepath.Separator), prefix) || bytes.Contains(cmdline, []byte(prefix)) {
			found = append(found, e.Name()+" "+string(bytes.ReplaceAll(cmdline, []byte{0}, []byte{' '})))
		}
	}
	return found
}

func itoa(n int) string { return strconv.Itoa(n) }
