package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/nomad/api"

	"github.com/assospaces/spaces/provisioner/nextcloud"
	"github.com/assospaces/spaces/tenants/pgtest"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
	buildDir  string
)

// TestMain removes the binary built for the tests.
func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		_ = os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// standinBinary builds this command once per test process.
func standinBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		buildDir, buildErr = os.MkdirTemp("", "nextcloud-standin-bin-")
		if buildErr != nil {
			return
		}
		binPath = filepath.Join(buildDir, "nextcloud-standin")
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		out, err := exec.CommandContext(ctx, "go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// tenantDB is a fresh database and its connection parts, in the form the env variables take.
type tenantDB struct {
	hostPort, name, user, password string
}

func newTenantDB(t *testing.T) tenantDB {
	t.Helper()
	_, dbURL := pgtest.Empty(t)
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	pw, _ := u.User.Password()
	return tenantDB{hostPort: u.Host, name: strings.TrimPrefix(u.Path, "/"), user: u.User.Username(), password: pw}
}

const jobHCL = `
job %[1]q {
  datacenters = ["*"]
  type        = "service"

  group "nextcloud" {
    count = 1

    network {
      port "http" {}
    }

    restart {
      attempts = 0
      mode     = "fail"
    }

    reschedule {
      attempts  = 0
      unlimited = false
    }

    service {
      name     = %[2]q
      provider = "nomad"
      port     = "http"

      check {
        name     = "status"
        type     = "http"
        path     = "/status.php"
        interval = "1s"
        timeout  = "2s"
      }
    }

    task "standin" {
      driver = "raw_exec"

      config {
        command = %[3]q
        args    = ["serve"]
      }

      env {
        POSTGRES_HOST             = %[4]q
        POSTGRES_DB               = %[5]q
        POSTGRES_USER             = %[6]q
        POSTGRES_PASSWORD         = %[7]q
        NEXTCLOUD_ADMIN_USER      = "admin"
        NEXTCLOUD_ADMIN_PASSWORD  = %[8]q
        NEXTCLOUD_TRUSTED_DOMAINS = "asso.spaces.test"
        NEXTCLOUD_DATA_DIR        = %[9]q
        NEXTCLOUD_CONFIG_DIR      = %[10]q
        NC_SERVERINFO_TOKEN       = %[11]q
        NC_LISTEN                 = "${NOMAD_ADDR_http}"
      }

      resources {
        cpu    = 100
        memory = 128
      }
    }
  }
}
`

func randomSuffix() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// nomadClient connects to NOMAD_ADDR and fails the test when it is unset or unreachable.
func nomadClient(t *testing.T) *api.Client {
	t.Helper()
	addr := os.Getenv("NOMAD_ADDR")
	if addr == "" {
		t.Fatal("NOMAD_ADDR is not set: this test needs a Nomad agent (run it through `go run ./cmd/testenv -- go test ...`)")
	}
	cfg := api.DefaultConfig()
	cfg.Address = addr
	client, err := api.NewClient(cfg)
	if err != nil {
		t.Fatalf("nomad client: %v", err)
	}
	if _, err := client.Status().Leader(); err != nil {
		t.Fatalf("nomad at %s unreachable: %v", addr, err)
	}
	return client
}

// TestNomadSmoke runs the stand-in as a raw_exec job with the production-like environment, finds
// it through Nomad's service discovery once its check passes, and talks to it with the client.
func TestNomadSmoke(t *testing.T) {
	client := nomadClient(t)
	bin := standinBinary(t)
	db := newTenantDB(t)
	state := t.TempDir()
	dataDir, confDir := filepath.Join(state, "data"), filepath.Join(state, "config")
	const adminPassword = "smoke-admin-password"
	const token = "smoke-serverinfo-token"

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	suffix := randomSuffix()
	jobID, service := "nextcloud-standin-smoke-"+suffix, "nc-smoke-"+suffix
	hcl := fmt.Sprintf(jobHCL, jobID, service, bin, db.hostPort, db.name, db.user, db.password, adminPassword, dataDir, confDir, token)
	job, err := client.Jobs().ParseHCL(hcl, true)
	if err != nil {
		t.Fatalf("parse job: %v", err)
	}
	if _, _, err := client.Jobs().Register(job, nil); err != nil {
		t.Fatalf("register job: %v", err)
	}
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			_, _, _ = client.Jobs().Deregister(jobID, true, nil)
		}
	})

	reg, allocID := waitHealthy(ctx, t, client, jobID, service)
	base := "http://" + net.JoinHostPort(reg.Address, fmt.Sprint(reg.Port))
	t.Logf("stand-in healthy at %s (alloc %s)", base, allocID)

	nc, err := nextcloud.New(base, nextcloud.WithBasicAuth("admin", adminPassword))
	if err != nil {
		t.Fatal(err)
	}
	st, err := nc.Status(ctx)
	if err != nil {
		t.Fatalf("status: %v", err)
	}
	if !st.Installed || st.Maintenance {
		t.Fatalf("status %+v: want installed, not in maintenance", st)
	}
	if _, err := nc.CreateUser(ctx, nextcloud.CreateUser{UserID: "marie", Password: "marie's password", DisplayName: "Marie",
		Email: "marie@asso.example", Quota: "1 GB"}); err != nil {
		t.Fatalf("create user: %v", err)
	}
	u, err := nc.UserDetails(ctx, "marie")
	if err != nil || u.DisplayName != "Marie" || u.Quota.Quota != 1<<30 {
		t.Fatalf("user %+v %v", u, err)
	}
	// Reached through its routed name, as the provisioner does.
	routed, _ := nextcloud.New(base, nextcloud.WithHost("asso.spaces.test"), nextcloud.WithServerInfoToken(token))
	info, err := routed.ServerInfo(ctx)
	if err != nil || info.Nextcloud.Storage.NumUsers != 1 {
		t.Fatalf("serverinfo through the routed name: %+v %v", info, err)
	}

	// occ works on the same state as the running server.
	occEnv := append(os.Environ(), "POSTGRES_HOST="+db.hostPort, "POSTGRES_DB="+db.name, "POSTGRES_USER="+db.user,
		"POSTGRES_PASSWORD="+db.password, "NEXTCLOUD_DATA_DIR="+dataDir, "NEXTCLOUD_CONFIG_DIR="+confDir)
	occ := func(args ...string) string {
		t.Helper()
		cmd := exec.CommandContext(ctx, bin, append([]string{"occ"}, args...)...)
		cmd.Env = occEnv
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("occ %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	if out := occ("user:list"); !strings.Contains(out, "  - marie: Marie") || !strings.Contains(out, "  - admin: admin") {
		t.Errorf("user:list:\n%s", out)
	}
	occ("maintenance:mode", "--on")
	if st, err := nc.Status(ctx); err != nil || !st.Maintenance {
		t.Errorf("after maintenance:mode --on: %+v %v", st, err)
	}
	if _, err := nc.ListUsers(ctx, "", 0, 0); !errors.Is(err, nextcloud.ErrMaintenance) {
		t.Errorf("list during maintenance: %v", err)
	}
	occ("maintenance:mode", "--off")
	occ("config:system:set", "one-click-instance", "--value", "true", "--type", "boolean")
	occ("config:system:set", "one-click-instance.user-limit", "--value", "2", "--type", "integer")
	if _, err := nc.CreateUser(ctx, nextcloud.CreateUser{UserID: "third", Password: "third password"}); !errors.Is(err, nextcloud.ErrUserLimit) {
		t.Errorf("create past the limit set by occ: %v", err)
	}
	occ("config:app:set", "serverinfo", "token", "--value", "rotated-token")
	rotated, _ := nextcloud.New(base, nextcloud.WithServerInfoToken("rotated-token"))
	if _, err := rotated.ServerInfo(ctx); err != nil {
		t.Errorf("serverinfo with the rotated token: %v", err)
	}
	if out := occ("status"); !strings.Contains(out, "installed: true") || !strings.Contains(out, "maintenance: false") {
		t.Errorf("status:\n%s", out)
	}

	// Stop: deregister with purge and wait for the allocation to stop.
	if _, _, err := client.Jobs().Deregister(jobID, true, nil); err != nil {
		t.Fatalf("deregister: %v", err)
	}
	stopped = true
	waitStopped(ctx, t, client, allocID)
}

// waitHealthy waits until the service is registered and every check of its allocation passes.
func waitHealthy(ctx context.Context, t *testing.T, client *api.Client, jobID, service string) (*api.ServiceRegistration, string) {
	t.Helper()
	var index uint64
	var last string
	for {
		if ctx.Err() != nil {
			dumpAllocs(t, client, jobID)
			t.Fatalf("service %s not healthy before the deadline (last: %s)", service, last)
		}
		q := (&api.QueryOptions{WaitIndex: index, WaitTime: 2 * time.Second}).WithContext(ctx)
		regs, meta, err := client.Services().Get(service, q)
		if err != nil {
			last = err.Error()
			sleep(ctx, 500*time.Millisecond)
			continue
		}
		index = meta.LastIndex
		for _, reg := range regs {
			if reg.JobID != jobID {
				continue
			}
			alloc, _, err := client.Allocations().Info(reg.AllocID, (&api.QueryOptions{}).WithContext(ctx))
			if err != nil {
				last = err.Error()
				continue
			}
			if alloc.ClientStatus == api.AllocClientStatusFailed || alloc.ClientStatus == api.AllocClientStatusComplete {
				dumpAllocs(t, client, jobID)
				t.Fatalf("allocation %s is %s", alloc.ID, alloc.ClientStatus)
			}
			checks, err := client.Allocations().Checks(reg.AllocID, (&api.QueryOptions{}).WithContext(ctx))
			if err != nil {
				last = err.Error()
				continue
			}
			healthy := len(checks) > 0
			for _, c := range checks {
				if c.Status != "success" {
					healthy = false
					last = fmt.Sprintf("check %s: %s (%s)", c.Check, c.Status, strings.TrimSpace(c.Output))
				}
			}
			if healthy && alloc.ClientStatus == api.AllocClientStatusRunning {
				return reg, reg.AllocID
			}
			if len(checks) == 0 {
				last = "no check results yet"
			}
		}
		if len(regs) == 0 {
			last = "service not registered yet"
			sleep(ctx, 200*time.Millisecond)
		} else {
			sleep(ctx, 300*time.Millisecond)
		}
	}
}

// waitStopped waits until the allocation is no longer pending or running.
func waitStopped(ctx context.Context, t *testing.T, client *api.Client, allocID string) {
	t.Helper()
	for {
		alloc, _, err := client.Allocations().Info(allocID, (&api.QueryOptions{}).WithContext(ctx))
		switch {
		case err != nil && strings.Contains(err.Error(), "404"):
			return // already garbage collected
		case err == nil && alloc.ClientStatus != api.AllocClientStatusRunning && alloc.ClientStatus != api.AllocClientStatusPending:
			return
		}
		if ctx.Err() != nil {
			t.Fatalf("allocation %s did not stop before the deadline", allocID)
		}
		sleep(ctx, 200*time.Millisecond)
	}
}

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

// dumpAllocs logs task events and the task's stderr, to explain a failed start.
func dumpAllocs(t *testing.T, client *api.Client, jobID string) {
	t.Helper()
	allocs, _, err := client.Jobs().Allocations(jobID, true, nil)
	if err != nil {
		t.Logf("list allocations: %v", err)
		return
	}
	for _, stub := range allocs {
		t.Logf("alloc %s: %s", stub.ID, stub.ClientStatus)
		for task, ts := range stub.TaskStates {
			for _, ev := range ts.Events {
				t.Logf("  %s: %s %s", task, ev.Type, ev.DisplayMessage)
			}
		}
		alloc, _, err := client.Allocations().Info(stub.ID, nil)
		if err != nil {
			continue
		}
		rc, err := client.AllocFS().Cat(alloc, "alloc/logs/standin.stderr.0", nil)
		if err != nil {
			continue
		}
		b, _ := io.ReadAll(io.LimitReader(rc, 16<<10))
		rc.Close()
		t.Logf("  stderr:\n%s", b)
	}
}

// TestBadEnvironmentExitsWithTwo checks the contract for a missing or malformed variable: one line
// naming it, exit code 2.
func TestBadEnvironmentExitsWithTwo(t *testing.T) {
	bin := standinBinary(t)
	data := t.TempDir()
	base := []string{"PATH=" + os.Getenv("PATH"), "NEXTCLOUD_DATA_DIR=" + data, "POSTGRES_HOST=127.0.0.1:5432",
		"POSTGRES_DB=nc", "POSTGRES_USER=nc", "NC_LISTEN=127.0.0.1:0"}
	without := func(name string) []string {
		var out []string
		for _, kv := range base {
			if !strings.HasPrefix(kv, name+"=") {
				out = append(out, kv)
			}
		}
		return out
	}
	tests := []struct {
		name string
		env  []string
		args []string
		want string
	}{
		{"no data dir", without("NEXTCLOUD_DATA_DIR"), []string{"serve"}, "NEXTCLOUD_DATA_DIR"},
		{"no postgres host", without("POSTGRES_HOST"), []string{"serve"}, "POSTGRES_HOST"},
		{"bad postgres port", append(without("POSTGRES_HOST"), "POSTGRES_HOST=db:notaport"), []string{"serve"}, "POSTGRES_HOST"},
		{"no database", without("POSTGRES_DB"), []string{"serve"}, "POSTGRES_DB"},
		{"no user", without("POSTGRES_USER"), []string{"serve"}, "POSTGRES_USER"},
		{"admin without password", append(base, "NEXTCLOUD_ADMIN_USER=admin"), []string{"serve"}, "NEXTCLOUD_ADMIN_USER"},
		{"password and password file", append(base, "POSTGRES_PASSWORD=x", "POSTGRES_PASSWORD_FILE=/etc/hostname"), []string{"serve"}, "POSTGRES_PASSWORD"},
		{"missing password file", append(base, "NEXTCLOUD_ADMIN_USER=admin", "NEXTCLOUD_ADMIN_PASSWORD_FILE=/nonexistent"), []string{"serve"}, "NEXTCLOUD_ADMIN_PASSWORD_FILE"},
		{"no listen address", without("NC_LISTEN"), []string{"serve"}, "NC_LISTEN"},
		{"bad listen address", append(without("NC_LISTEN"), "NC_LISTEN=nonsense"), []string{"serve"}, "NC_LISTEN"},
		{"occ without data dir", without("NEXTCLOUD_DATA_DIR"), []string{"occ", "status"}, "NEXTCLOUD_DATA_DIR"},
		{"serve-many without hosts", base, []string{"serve-many"}, "HOST"},
		{"serve-many without admin", base, []string{"serve-many", "one.spaces.test"}, "NEXTCLOUD_ADMIN_USER"},
		{"unknown flag", base, []string{"serve", "--nope"}, "--nope"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd := exec.Command(bin, tt.args...)
			cmd.Env = tt.env
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			err := cmd.Run()
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.ExitCode() != 2 {
				t.Fatalf("exit: %v, want code 2 (stderr %q)", err, stderr.String())
			}
			lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
			if len(lines) != 1 || !strings.Contains(lines[0], tt.want) {
				t.Errorf("stderr %q: want one line naming %s", stderr.String(), tt.want)
			}
		})
	}
}
