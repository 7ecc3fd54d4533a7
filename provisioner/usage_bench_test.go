package provisioner_test

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	nomadapi "github.com/hashicorp/nomad/api"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/assospaces/spaces/provisioner"
	"github.com/assospaces/spaces/provisioner/nextcloud"
	"github.com/assospaces/spaces/provisioner/nomad"
	"github.com/assospaces/spaces/templates"
	"github.com/assospaces/spaces/tenants"
	"github.com/assospaces/spaces/tenants/pgtest"
)

// The benchmark's fleet: how many spaces, how many asked at once (provisioner's usageConcurrency),
// the accounts of each space beside the service's administrator (the last one disabled) and the
// files of each account.
const (
	usageBenchSpaces   = 1000
	usageBenchWidth    = 16
	usageBenchDomain   = "spaces.test"
	usageBenchAdmin    = "spaces-admin"
	usageBenchFiles    = 3
	usageBenchPageSize = 100 // nextcloud.Client's default page of cloud/users/details
)

var usageBenchAccounts = []string{"alice", "bob", "carol"} // beside the owner; carol is disabled

// BenchmarkUsageCollection measures a steady usage pass (provisioner.CollectUsage) over 1,000
// active spaces, each a real stand-in Nextcloud tenant (accounts, a group and its sub-admin, files
// on disk), all served by one `nextcloud-standin serve-many` process on 127.0.0.1 and picked by
// Host, against a bare HTTP GET loop over the same endpoints of the same tenants (rawEndpoints),
// with the same concurrency (16) and the same HTTP client settings. The service database, the
// tenants' database and the Nomad Variables holding each space's secrets are real; only the
// allocation list is substituted (standinAllocations), since Nomad cannot run 1,000 stand-ins here.
//
// Reported: spaces/s of both and their ratio (target ≥ 0.7); the pass's memory (TotalAlloc per pass,
// highest HeapInuse) and the raw loop's, for comparison (the stand-in runs in its own process, so
// these are the service's alone); HTTP connections dialled; CPU per space of this process and of
// the Postgres cluster (both databases). Each pass logs its CPU split and the raw loop's mean
// latency per endpoint. The tenants share one database, so each stand-in's serverinfo sizes its
// own schema, as its own database would weigh (see standin's store.database).
func BenchmarkUsageCollection(b *testing.B) {
	ctx := context.Background()
	setupStart := time.Now()
	logger := usageBenchLogger()

	pool, _ := pgtest.New(b)
	_, tenantDB := pgtest.Empty(b) // the stand-ins' shared database: one schema per tenant
	nomadAddr := os.Getenv("NOMAD_ADDR")
	if nomadAddr == "" {
		b.Fatal("NOMAD_ADDR is not set: this benchmark needs a real Nomad agent (run it under cmd/testenv)")
	}
	nc, err := nomad.New(nomad.Config{Address: nomadAddr})
	if err != nil {
		b.Fatal(err)
	}

	// 1,000 active spaces, in one statement.
	prefix := "ub" + usageBenchHex(3)
	_, err = pool.Exec(ctx, `INSERT INTO spaces (slug, association_name, contact_email, storage_limit_bytes, account_limit, state)
		SELECT $1 || '-' || i, 'Asso ' || i, 'contact' || i || '@asso' || i || '.example', 1024^3, 5, 'active'
		FROM generate_series(1, $2) AS i`, prefix, usageBenchSpaces)
	if err != nil {
		b.Fatal(err)
	}
	spaces, err := tenants.SpacesDueForUsage(ctx, pool, time.Now(), 2*usageBenchSpaces)
	if err != nil {
		b.Fatal(err)
	}
	if len(spaces) != usageBenchSpaces {
		b.Fatalf("%d spaces due, want %d", len(spaces), usageBenchSpaces)
	}
	hosts := make([]string, len(spaces))
	for i, s := range spaces {
		hosts[i] = s.Slug + "." + usageBenchDomain
	}

	// The stand-ins share one admin password and serverinfo token (serve-many installs every
	// tenant alike); every other secret of each Variable is its own.
	adminPassword, token := usageBenchHex(20), usageBenchHex(20)
	start := time.Now()
	standin := startStandinMany(b, tenantDB, adminPassword, token, hosts)
	// Meanwhile, each space's secrets in a real Nomad Variable, as provisioning writes them.
	b.Cleanup(func() {
		usageBenchParallelErr(usageBenchWidth, func(i int) error { //nolint:errcheck
			return nc.DeleteVariable(context.Background(), nomad.VariablePath(provisioner.JobID(spaces[i].Slug)))
		}, len(spaces))
	})
	usageBenchParallel(b, usageBenchWidth, func(i int) error {
		_, err := nc.CreateVariable(ctx, nomad.VariablePath(provisioner.JobID(spaces[i].Slug)), map[string]string{
			"db_password": usageBenchHex(20), "admin_password": adminPassword, "redis_password": usageBenchHex(20),
			"serverinfo_token": token, "owner_password": usageBenchHex(20)})
		return err
	}, len(spaces))
	varsTook := time.Since(start)
	addr, root := standin.wait(b), standin.root
	standinTook := time.Since(start)

	// Each tenant's accounts (in group association, the owner its sub-admin, one disabled) and
	// their files, written as real bytes into the tenant's data directory.
	start = time.Now()
	setupHTTP := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: usageBenchWidth}, Timeout: time.Minute}
	expected := make([]int64, len(spaces))
	usageBenchParallel(b, usageBenchWidth, func(i int) error {
		s := spaces[i]
		c, err := nextcloud.New("http://"+addr, nextcloud.WithHost(hosts[i]),
			nextcloud.WithBasicAuth(usageBenchAdmin, adminPassword), nextcloud.WithHTTPClient(setupHTTP))
		if err != nil {
			return err
		}
		if err := c.CreateGroup(ctx, provisioner.AssociationGroup, s.AssociationName); err != nil {
			return err
		}
		owner := provisioner.OwnerLogin(s)
		accounts := append([]string{owner}, usageBenchAccounts...)
		for _, id := range accounts {
			if _, err := c.CreateUser(ctx, nextcloud.CreateUser{UserID: id, Password: "correct horse " + usageBenchHex(8),
				Groups: []string{provisioner.AssociationGroup}}); err != nil {
				return fmt.Errorf("%s: create %s: %w", hosts[i], id, err)
			}
		}
		if err := c.AddSubAdmin(ctx, owner, provisioner.AssociationGroup); err != nil {
			return err
		}
		if err := c.DisableUser(ctx, accounts[len(accounts)-1]); err != nil {
			return err
		}
		rnd := mrand.New(mrand.NewPCG(uint64(i), 42))
		for _, id := range accounts {
			dir := filepath.Join(root, hosts[i], "data", id, "files", "Documents")
			if err := os.MkdirAll(dir, 0o750); err != nil {
				return err
			}
			for f := range usageBenchFiles {
				buf := make([]byte, 1024+rnd.IntN(31*1024))
				for j := range buf {
					buf[j] = byte(rnd.Uint32())
				}
				if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("file-%d.bin", f)), buf, 0o640); err != nil {
					return err
				}
				expected[i] += int64(len(buf))
			}
		}
		return nil
	}, len(spaces))
	setupHTTP.CloseIdleConnections()
	accountsTook := time.Since(start)

	set, err := templates.Load("")
	if err != nil {
		b.Fatal(err)
	}
	allocs := newStandinAllocations(nc, addr, spaces)
	prov, err := provisioner.New(ctx, provisioner.Config{BaseDomain: usageBenchDomain, Template: templates.Dev, Templates: set,
		StandinBin: "/bin/true", TenantDatabaseURL: pgtest.ServerURL(b), AdminUser: usageBenchAdmin}, pool, allocs, logger)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(prov.Close)

	// Every HTTP connection the process dials, the provisioner's and the raw loop's alike: both
	// use http.DefaultTransport, as the provisioner's client does.
	dials := countDials(b)

	// The bare loop: the same GETs a steady pass makes to each space, bodies read, nothing decoded.
	raw := &http.Client{Timeout: 30 * time.Second}  // the provisioner's own client settings
	took := make([]atomic.Int64, len(rawEndpoints)) // time spent in each endpoint's requests
	rawPass := func() error {
		return usageBenchParallelErr(usageBenchWidth, func(i int) error {
			return rawSpace(ctx, raw, addr, hosts[i], adminPassword, token, took)
		}, len(spaces))
	}
	resetDue := func() {
		tag, err := pool.Exec(ctx, `UPDATE space_usage SET next_at = now() - interval '1 second'`)
		if err != nil || tag.RowsAffected() != usageBenchSpaces {
			b.Fatalf("reset next_at: %v rows, %v", tag.RowsAffected(), err)
		}
	}
	steadyPass := func() {
		rep, err := prov.CollectUsage(ctx, 2*usageBenchSpaces, nil)
		if err != nil {
			b.Fatal(err)
		}
		if rep.Collected != usageBenchSpaces || rep.Failed != 0 {
			b.Fatalf("usage pass: %d collected, %d failed; want %d and 0 (see SPACES_TEST_VERBOSE=warn)",
				rep.Collected, rep.Failed, usageBenchSpaces)
		}
		if rep.QuotaWrites != 0 || len(rep.Changes) != 0 {
			b.Fatalf("steady pass: %d quota writes, %d level changes; want none", rep.QuotaWrites, len(rep.Changes))
		}
	}

	// Warm-up: the first pass reads the 1,000 Variables and writes the storage plans.
	start = time.Now()
	rep, err := prov.CollectUsage(ctx, 2*usageBenchSpaces, nil)
	if err != nil || rep.Collected != usageBenchSpaces || rep.QuotaWrites == 0 {
		b.Fatalf("first pass: %+v %v", rep, err)
	}
	firstTook := time.Since(start)
	checkUsageBenchFigures(b, pool, spaces, expected)
	if err := rawPass(); err != nil {
		b.Fatal(err)
	}
	b.Logf("setup: stand-in with %d tenants %s, %d Nomad Variables %s (in parallel), accounts and files %s; "+
		"first pass (plans written, %d quota writes) %s; all setup %s",
		usageBenchSpaces, standinTook.Round(time.Millisecond), usageBenchSpaces, varsTook.Round(time.Millisecond),
		accountsTook.Round(time.Millisecond), rep.QuotaWrites, firstTook.Round(time.Millisecond),
		time.Since(setupStart).Round(time.Millisecond))

	// Where the CPU goes: this process (the service: provisioner, its Postgres client, its HTTP
	// client), the stand-in process, and every process of the test Postgres cluster (both databases).
	var postmaster int
	if err := pool.QueryRow(ctx, `SELECT pg_backend_pid()`).Scan(&postmaster); err != nil {
		b.Fatal(err)
	}
	postmaster, _ = procStat(postmaster)
	cpu := func() [3]time.Duration {
		_, self := procStat(os.Getpid())
		_, st := procStat(standin.pid)
		return [3]time.Duration{self, st, clusterCPU(postmaster)}
	}
	// measure runs one pass from a collected heap and returns what it cost.
	measure := func(run func()) usageBenchStats {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		alloc0, dials0, cpu0 := ms.TotalAlloc, dials.Load(), cpu()
		peak := sampleHeapInuse()
		t0 := time.Now()
		run()
		st := usageBenchStats{wall: time.Since(t0), peak: peak()}
		runtime.ReadMemStats(&ms)
		st.alloc, st.dials = ms.TotalAlloc-alloc0, dials.Load()-dials0
		cpu1 := cpu()
		for k := range cpu1 {
			st.cpu[k] = cpu1[k] - cpu0[k]
		}
		return st
	}

	var usage, rawSum usageBenchStats
	passes := 0
	for b.Loop() {
		// The raw loop, then the pass; only the pass is timed as the benchmark's ns/op.
		b.StopTimer()
		for k := range took {
			took[k].Store(0)
		}
		r := measure(func() {
			if err := rawPass(); err != nil {
				b.Fatal(err)
			}
		})
		rawSum.add(r)
		resetDue()
		b.StartTimer()
		u := measure(steadyPass)
		b.StopTimer()
		usage.add(u)
		passes++
		var latency []string
		for k, e := range rawEndpoints {
			latency = append(latency, e.name+" "+time.Duration(took[k].Load()/usageBenchSpaces).Round(time.Microsecond).String())
		}
		b.Logf("pass %d: usage %s (%.0f spaces/s; cpu %s), raw %s (%.0f spaces/s; cpu %s; mean latency %s), ratio %.2f", passes,
			u.wall.Round(time.Millisecond), usageBenchSpaces/u.wall.Seconds(), u.cpuText(),
			r.wall.Round(time.Millisecond), usageBenchSpaces/r.wall.Seconds(), r.cpuText(),
			strings.Join(latency, ", "), r.wall.Seconds()/u.wall.Seconds())
		b.StartTimer()
	}
	checkUsageBenchFigures(b, pool, spaces, expected)
	if calls := allocs.calls.Load(); calls != int64(passes+1) {
		b.Errorf("ListAllocations called %d times over %d passes, want once a pass", calls, passes+1)
	}

	usageRate := float64(usageBenchSpaces*passes) / usage.wall.Seconds()
	rawRate := float64(usageBenchSpaces*passes) / rawSum.wall.Seconds()
	perPass := func(v uint64) float64 { return float64(v) / float64(passes) / (1 << 20) }
	perSpace := func(d time.Duration) float64 { return d.Seconds() * 1000 / float64(usageBenchSpaces*passes) }
	b.ReportMetric(usageRate, "spaces/s")
	b.ReportMetric(rawRate, "raw-spaces/s")
	b.ReportMetric(usageRate/rawRate, "ratio")
	b.ReportMetric(perPass(usage.alloc), "alloc-MB/pass")
	b.ReportMetric(float64(usage.peak)/(1<<20), "peak-heapinuse-MB")
	b.ReportMetric(perPass(rawSum.alloc), "raw-alloc-MB/pass")
	b.ReportMetric(float64(rawSum.peak)/(1<<20), "raw-peak-heapinuse-MB")
	b.ReportMetric(float64(usage.dials)/float64(passes), "dials/pass")
	b.ReportMetric(float64(rawSum.dials)/float64(passes), "raw-dials/pass")
	b.ReportMetric(perSpace(usage.cpu[0]), "service-cpu-ms/space")
	b.ReportMetric(perSpace(rawSum.cpu[0]), "raw-client-cpu-ms/space")
	b.ReportMetric(perSpace(usage.cpu[2]), "postgres-cpu-ms/space")
	b.ReportMetric(perSpace(rawSum.cpu[2]), "raw-postgres-cpu-ms/space")
}

// usageBenchStats is what passes cost: wall time, bytes allocated, the highest HeapInuse, HTTP
// connections dialled, and CPU time of this process, the stand-in and the Postgres cluster.
type usageBenchStats struct {
	wall  time.Duration
	alloc uint64
	peak  uint64
	dials int64
	cpu   [3]time.Duration
}

func (s *usageBenchStats) add(o usageBenchStats) {
	s.wall += o.wall
	s.alloc += o.alloc
	s.peak = max(s.peak, o.peak)
	s.dials += o.dials
	for k := range s.cpu {
		s.cpu[k] += o.cpu[k]
	}
}

func (s usageBenchStats) cpuText() string {
	return fmt.Sprintf("service %s, stand-in %s, postgres %s", s.cpu[0].Round(10*time.Millisecond),
		s.cpu[1].Round(10*time.Millisecond), s.cpu[2].Round(10*time.Millisecond))
}

// procStat reads a process's parent and CPU time (user and system) from /proc.
func procStat(pid int) (ppid int, cpu time.Duration) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, 0
	}
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0, 0
	}
	f := strings.Fields(string(b[i+1:])) // state, ppid, ..., utime (11), stime (12)
	if len(f) < 13 {
		return 0, 0
	}
	ppid, _ = strconv.Atoi(f[1])
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return ppid, time.Duration(ut+st) * time.Second / 100 // USER_HZ
}

// clusterCPU is the CPU time of a Postgres postmaster and its children (backends, workers).
func clusterCPU(postmaster int) time.Duration {
	_, total := procStat(postmaster)
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if ppid, c := procStat(pid); ppid == postmaster {
			total += c
		}
	}
	return total
}

// standinAllocations is a test double of Nomad for a usage pass: every call goes to the real
// agent (the Variables the pass reads included) except ListAllocations, which answers one running,
// deployment-healthy allocation per space job, its "http" port at the serve-many stand-in's
// address, since Nomad cannot run 1,000 stand-ins on this machine.
type standinAllocations struct {
	*nomad.Client
	stubs []*nomadapi.AllocationListStub
	calls atomic.Int64
}

func newStandinAllocations(c *nomad.Client, addr string, spaces []tenants.Space) *standinAllocations {
	host, portText, err := net.SplitHostPort(addr)
	if err != nil {
		panic(err)
	}
	port, _ := strconv.Atoi(portText)
	healthy := true
	d := &standinAllocations{Client: c}
	for _, s := range spaces {
		d.stubs = append(d.stubs, &nomadapi.AllocationListStub{
			ID: usageBenchUUID(), Namespace: "default", JobID: provisioner.JobID(s.Slug), TaskGroup: "nextcloud",
			DesiredStatus: nomadapi.AllocDesiredStatusRun, ClientStatus: nomadapi.AllocClientStatusRunning,
			DeploymentStatus: &nomadapi.AllocDeploymentStatus{Healthy: &healthy},
			AllocatedResources: &nomadapi.AllocatedResources{Shared: nomadapi.AllocatedSharedResources{
				Ports: []nomadapi.PortMapping{{Label: "http", Value: port, To: port, HostIP: host}}}},
		})
	}
	return d
}

var _ provisioner.Nomad = (*standinAllocations)(nil)

// ListAllocations answers the allocations of the jobs whose id starts with jobPrefix.
func (d *standinAllocations) ListAllocations(_ context.Context, jobPrefix string) ([]*nomadapi.AllocationListStub, error) {
	d.calls.Add(1)
	var out []*nomadapi.AllocationListStub
	for _, a := range d.stubs {
		if strings.HasPrefix(a.JobID, jobPrefix) {
			c := *a
			out = append(out, &c)
		}
	}
	return out, nil
}

// rawEndpoints are the GETs a steady pass makes to one space: status.php, one page of user
// details (every space has fewer accounts than a page), serverinfo with its token, and the files
// app's max and default quotas it checks are still its plan's.
var rawEndpoints = []struct {
	name, path string
	ocs, token bool
}{
	{"status.php", "/status.php", false, false},
	{"users/details", "/ocs/v2.php/cloud/users/details?format=json&limit=" + strconv.Itoa(usageBenchPageSize), true, false},
	{"serverinfo", "/ocs/v2.php/apps/serverinfo/api/v1/info?format=json", true, true},
	{"max_quota", "/ocs/v2.php/apps/provisioning_api/api/v1/config/apps/files/max_quota?format=json", true, false},
	{"default_quota", "/ocs/v2.php/apps/provisioning_api/api/v1/config/apps/files/default_quota?format=json", true, false},
}

// rawSpace makes the rawEndpoints GETs to one space, bare: the bodies are read, not decoded. It
// adds each request's time to took.
func rawSpace(ctx context.Context, c *http.Client, addr, host, password, token string, took []atomic.Int64) error {
	for k, r := range rawEndpoints {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+r.path, nil)
		if err != nil {
			return err
		}
		req.Host = host
		req.Header.Set("Accept", "application/json")
		if r.ocs {
			req.Header.Set("OCS-APIRequest", "true")
			if r.token {
				req.Header.Set("NC-Token", token)
			} else {
				req.SetBasicAuth(usageBenchAdmin, password)
			}
		}
		t0 := time.Now()
		resp, err := c.Do(req)
		if err != nil {
			return err
		}
		_, err = io.ReadAll(io.LimitReader(resp.Body, 32<<20))
		resp.Body.Close()
		took[k].Add(int64(time.Since(t0)))
		if err != nil {
			return err
		}
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("%s %s: HTTP %d", host, r.path, resp.StatusCode)
		}
	}
	return nil
}

// checkUsageBenchFigures checks that every space's recorded usage is what its tenant holds: the
// bytes written into its accounts' homes, three enabled accounts and one disabled.
func checkUsageBenchFigures(b *testing.B, pool *pgxpool.Pool, spaces []tenants.Space, expected []int64) {
	b.Helper()
	ids := make([]int64, len(spaces))
	for i, s := range spaces {
		ids[i] = s.ID
	}
	got, err := tenants.UsageOf(context.Background(), pool, ids)
	if err != nil {
		b.Fatal(err)
	}
	for i, s := range spaces {
		u := got[s.ID]
		if u.UsedBytes != expected[i] || u.AccountsEnabled != 3 || u.AccountsDisabled != 1 || u.Stale() || len(u.Plan) == 0 {
			b.Fatalf("space %s: used %d of %d expected, %d enabled, %d disabled, stale %q, plan %s",
				s.Slug, u.UsedBytes, expected[i], u.AccountsEnabled, u.AccountsDisabled, u.StaleReason, u.Plan)
		}
	}
}

// standinMany is a `nextcloud-standin serve-many` process.
type standinMany struct {
	root   string // each tenant's data directory is root/<host>/data
	pid    int
	addrc  chan string
	exited chan struct{}
	mu     sync.Mutex
	last   []string // its last lines of log, for a failure's message
}

// wait returns the address the stand-in listens on, once every tenant is open.
func (s *standinMany) wait(b *testing.B) string {
	b.Helper()
	select {
	case addr := <-s.addrc:
		return addr
	case <-s.exited:
	case <-time.After(10 * time.Minute):
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	b.Fatalf("nextcloud-standin serve-many did not start:\n%s", strings.Join(s.last, "\n"))
	return ""
}

// startStandinMany starts `nextcloud-standin serve-many` for hosts on the database dbURL, with
// hashingCost 4 (as the dev template) and the spaces' user limit. Its directories live in memory
// (/dev/shm) when there is room, as the test Postgres and Nomad do.
func startStandinMany(b *testing.B, dbURL, adminPassword, token string, hosts []string) *standinMany {
	b.Helper()
	cfg, err := pgx.ParseConfig(dbURL)
	if err != nil {
		b.Fatal(err)
	}
	pgHost := cfg.Host
	if !strings.HasPrefix(pgHost, "/") {
		pgHost = net.JoinHostPort(pgHost, strconv.Itoa(int(cfg.Port)))
	}
	parent := ""
	if st, err := os.Stat("/dev/shm"); err == nil && st.IsDir() {
		parent = "/dev/shm"
	}
	base, err := os.MkdirTemp(parent, "spaces-usage-bench-")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { os.RemoveAll(base) })
	data, conf := filepath.Join(base, "data"), filepath.Join(base, "config")
	if err := os.MkdirAll(conf, 0o750); err != nil {
		b.Fatal(err)
	}
	// As the dev template's config files: the lowest bcrypt cost, the user limit (the space's 5
	// accounts and the service's own).
	system, _ := json.Marshal(map[string]any{"hashingCost": 4, "one-click-instance": true, "one-click-instance.user-limit": 6})
	if err := os.WriteFile(filepath.Join(conf, "dev.config.json"), system, 0o640); err != nil {
		b.Fatal(err)
	}

	cmd := exec.Command(standinBinary(b), append([]string{"serve-many", "--listen", "127.0.0.1:0"}, hosts...)...)
	cmd.Env = append(os.Environ(),
		"POSTGRES_HOST="+pgHost, "POSTGRES_DB="+cfg.Database, "POSTGRES_USER="+cfg.User, "POSTGRES_PASSWORD="+cfg.Password,
		"NEXTCLOUD_ADMIN_USER="+usageBenchAdmin, "NEXTCLOUD_ADMIN_PASSWORD="+adminPassword,
		"NEXTCLOUD_DATA_DIR="+data, "NEXTCLOUD_CONFIG_DIR="+conf, "NC_SERVERINFO_TOKEN="+token)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	sm := &standinMany{root: data, pid: cmd.Process.Pid, addrc: make(chan string, 1), exited: make(chan struct{})}
	b.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM) //nolint:errcheck
		select {
		case <-sm.exited:
		case <-time.After(20 * time.Second):
			cmd.Process.Kill() //nolint:errcheck
			<-sm.exited
		}
	})
	listening := regexp.MustCompile(`msg="nextcloud stand-in listening" addr=(\S+)`)
	go func() {
		defer close(sm.exited)
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			if m := listening.FindStringSubmatch(line); m != nil {
				sm.addrc <- m[1]
			}
			if strings.Contains(line, "level=INFO") && strings.Contains(line, "installed") {
				continue
			}
			sm.mu.Lock()
			sm.last = append(sm.last, line)
			if len(sm.last) > 20 {
				sm.last = sm.last[1:]
			}
			sm.mu.Unlock()
		}
		cmd.Wait() //nolint:errcheck
	}()
	return sm
}

// standinBinary is SPACES_STANDIN_BIN, or ./cmd/nextcloud-standin built into the user cache.
func standinBinary(b *testing.B) string {
	if p := os.Getenv("SPACES_STANDIN_BIN"); p != "" {
		return p
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		b.Fatal(err)
	}
	dir := filepath.Join(cache, "spaces", "test-bin")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.Fatal(err)
	}
	path := filepath.Join(dir, "nextcloud-standin")
	cmd := exec.Command("go", "build", "-o", path, "./cmd/nextcloud-standin")
	cmd.Dir = ".."
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("go build ./cmd/nextcloud-standin: %v\n%s", err, out)
	}
	return path
}

// countDials counts the connections http.DefaultTransport dials, until b ends.
func countDials(b *testing.B) *atomic.Int64 {
	t := http.DefaultTransport.(*http.Transport)
	t.CloseIdleConnections()
	orig := t.DialContext
	var n atomic.Int64
	t.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		n.Add(1)
		return orig(ctx, network, addr)
	}
	b.Cleanup(func() {
		t.CloseIdleConnections()
		t.DialContext = orig
	})
	return &n
}

// sampleHeapInuse samples HeapInuse (heap objects and the unused room of in-use spans, as
// runtime/metrics splits it) every 2 ms until the returned function is called; that returns the
// highest value seen.
func sampleHeapInuse() func() uint64 {
	samples := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}, {Name: "/memory/classes/heap/unused:bytes"}}
	read := func() uint64 {
		metrics.Read(samples)
		return samples[0].Value.Uint64() + samples[1].Value.Uint64()
	}
	stop, done := make(chan struct{}), make(chan uint64)
	go func() {
		peak := read()
		t := time.NewTicker(2 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				peak = max(peak, read())
			case <-stop:
				done <- max(peak, read())
				return
			}
		}
	}()
	return func() uint64 {
		close(stop)
		return <-done
	}
}

// usageBenchParallel runs f(0..n-1), width at a time, failing b on the first error.
func usageBenchParallel(b *testing.B, width int, f func(i int) error, n int) {
	b.Helper()
	if err := usageBenchParallelErr(width, f, n); err != nil {
		b.Fatal(err)
	}
}

func usageBenchParallelErr(width int, f func(i int) error, n int) error {
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []error
	slots := make(chan struct{}, width)
	for i := range n {
		wg.Add(1)
		slots <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-slots }()
			if err := f(i); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(errs) > 0 {
		return fmt.Errorf("%d of %d failed, first: %w", len(errs), n, errs[0])
	}
	return nil
}

func usageBenchLogger() *slog.Logger {
	if v := os.Getenv("SPACES_TEST_VERBOSE"); v != "" {
		var level slog.Level
		level.UnmarshalText([]byte(v)) //nolint:errcheck
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

func usageBenchHex(n int) string {
	buf := make([]byte, n)
	rand.Read(buf) //nolint:errcheck
	return hex.EncodeToString(buf)
}

func usageBenchUUID() string {
	h := usageBenchHex(16)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}
