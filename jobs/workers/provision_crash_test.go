package workers_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/assospaces/spaces/jobs"
	"github.com/assospaces/spaces/provisioner"
	"github.com/assospaces/spaces/tenants"
	"github.com/assospaces/spaces/tenants/notify/smtptest"
	"github.com/assospaces/spaces/tenants/pgtest"
)

// server is a real `spaces serve` process.
type server struct {
	t    *testing.T
	bin  string
	env  []string
	addr string
	log  string
	cmd  *exec.Cmd
	done chan struct{}
	runs int
}

func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func (s *server) start() {
	s.t.Helper()
	s.runs++
	logPath := filepath.Join(filepath.Dir(s.log), fmt.Sprintf("serve-%d.log", s.runs))
	f, err := os.Create(logPath)
	if err != nil {
		s.t.Fatal(err)
	}
	s.cmd = exec.Command(s.bin, "serve")
	s.cmd.Env = s.env
	s.cmd.Stdout, s.cmd.Stderr = f, f
	if err := s.cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	done := make(chan struct{})
	s.done = done
	cmd := s.cmd
	go func() { cmd.Wait(); close(done) }() //nolint:errcheck
	s.t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM) //nolint:errcheck
		<-done
		if s.t.Failed() {
			b, _ := os.ReadFile(logPath)
			s.t.Logf("serve log %d:\n%s", s.runs, b)
		}
	})
	waitFor(s.t, "the server to answer", func() bool {
		select {
		case <-done:
			b, _ := os.ReadFile(logPath)
			s.t.Fatalf("spaces serve exited:\n%s", b)
		default:
		}
		resp, err := http.Get("http://" + s.addr + "/healthz")
		if err == nil {
			resp.Body.Close()
		}
		return err == nil && resp.StatusCode == 200
	})
}

func (s *server) kill() {
	s.t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		s.t.Fatal(err)
	}
	<-s.done
}

// TestProvisionSurvivesServerKill SIGKILLs the real server while it waits for the space's
// allocation (its job registered, its database and secrets made), starts it again, and checks
// that the space ends active with one of everything and one mail.
func TestProvisionSurvivesServerKill(t *testing.T) {
	t.Parallel()
	pool, dbURL := pgtest.New(t)
	admin := pgtest.ServerURL(t)
	proxy := newFlakyProxy(t, nomadAddr(t))
	mail, err := smtptest.Start("127.0.0.1:0", smtptest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mail.Close() })
	addr := freeAddr(t)
	srv := &server{t: t, bin: goBinary(t, "spaces", ""), addr: addr, log: filepath.Join(t.TempDir(), "serve.log")}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SPACES_") && !strings.HasPrefix(kv, "NOMAD_") {
			srv.env = append(srv.env, kv)
		}
	}
	srv.env = append(srv.env,
		"SPACES_DATABASE_URL="+dbURL, "SPACES_TENANT_DATABASE_URL="+admin, "SPACES_LISTEN="+addr,
		"SPACES_SECRET_KEY="+base64.StdEncoding.EncodeToString([]byte(strings.Repeat("s", 32))),
		"NOMAD_ADDR="+proxy.URL, "SPACES_NOMAD_TEMPLATE=dev", "SPACES_STANDIN_BIN="+standinBin(t),
		"SPACES_BASE_DOMAIN="+testDomain, "SPACES_SMTP_URL="+mail.URL(), "SPACES_PROVISION_TIMEOUT=10s",
		"SPACES_LOG_LEVEL=debug")

	slug := randomSlug("kill")
	jobID := provisioner.JobID(slug)
	held := make(chan struct{})
	// Once the job is registered, the next call (the wait for its allocation) hangs: the server
	// is then killed in the middle of provisioning.
	proxy.hook(func(r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/v1/job/"+jobID+"/allocations") {
			proxy.mode.Store(proxyHold)
			select {
			case <-held:
			default:
				close(held)
			}
		}
	})
	srv.start()

	inserter, err := jobs.NewInsertClient(pool, nil)
	if err != nil {
		t.Fatal(err)
	}
	s := approveSpace(t, pool, inserter, slug)
	select {
	case <-held:
	case <-time.After(5 * time.Minute):
		t.Fatal("provisioning never reached the wait for the allocation")
	}
	if cur, _ := tenants.GetSpace(context.Background(), pool, s.ID); cur.State != tenants.SpaceProvisioning {
		t.Fatalf("space is %s when the server is killed, want provisioning", cur.State)
	}
	srv.kill()

	proxy.hook(nil)
	proxy.set(proxyForward)
	srv.start()
	active := waitState(t, pool, s.ID, tenants.SpaceActive, tenants.SpaceFailed)
	if active.State != tenants.SpaceActive {
		t.Fatalf("space %s (%s)", active.State, active.FailureReason)
	}
	direct := newDirectNomad(t)
	checkProvisionedOnce(t, pool, direct, provisionerFor(t, pool), admin, active)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if _, err := mail.Wait(ctx, active.ContactEmail); err != nil {
		t.Fatal(err)
	}
	if n := len(mail.Messages()); n != 1 {
		t.Errorf("%d mails sent, want 1", n)
	}

	// The operators' CLI reads it through the running server's API.
	_, token, err := tenants.CreateAPIToken(context.Background(), pool, tenants.NewAPIToken{Name: "test", Scope: tenants.ScopeOperator}, tenants.ActorSystem)
	if err != nil {
		t.Fatal(err)
	}
	cli := exec.Command(srv.bin, "space", "show", slug)
	cli.Env = append(os.Environ(), "SPACES_ADDR=http://"+addr, "SPACES_TOKEN="+token)
	out, err := cli.CombinedOutput()
	if err != nil {
		t.Fatalf("spaces space show: %v\n%s", err, out)
	}
	for _, want := range []string{"State:", "active", "Ready", "Healthy", "Generation:"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("spaces space show lacks %q:\n%s", want, out)
		}
	}
}
