package workers_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/assospaces/spaces/jobs"
	"github.com/assospaces/spaces/jobs/workers"
	"github.com/assospaces/spaces/provisioner"
	"github.com/assospaces/spaces/provisioner/nomad"
	"github.com/assospaces/spaces/quota"
	"github.com/assospaces/spaces/templates"
	"github.com/assospaces/spaces/tenants"
	"github.com/assospaces/spaces/tenants/notify"
	"github.com/assospaces/spaces/tenants/notify/smtptest"
	"github.com/assospaces/spaces/tenants/pgtest"
	"github.com/assospaces/spaces/tenants/secretbox"
)

const testDomain = "spaces.test"

func testLogger(t testing.TB) *slog.Logger {
	if v := os.Getenv("SPACES_TEST_VERBOSE"); v != "" {
		var level slog.Level
		level.UnmarshalText([]byte(v)) //nolint:errcheck
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// nomadAddr is the real Nomad agent the tests run against; they fail without one.
func nomadAddr(t testing.TB) string {
	t.Helper()
	a := os.Getenv("NOMAD_ADDR")
	if a == "" {
		t.Fatal("NOMAD_ADDR is not set: these tests need a real Nomad agent (run them with `make test`)")
	}
	return a
}

var (
	buildOnce sync.Map // binary name → *buildResult
)

type buildResult struct {
	once sync.Once
	path string
	err  error
}

// goBinary builds ./cmd/<name> of this module into the user cache (go build is incremental), or
// returns the binary named by env when it is set.
func goBinary(t testing.TB, name, env string) string {
	t.Helper()
	if env != "" {
		if p := os.Getenv(env); p != "" {
			return p
		}
	}
	v, _ := buildOnce.LoadOrStore(name, &buildResult{})
	r := v.(*buildResult)
	r.once.Do(func() {
		cache, err := os.UserCacheDir()
		if err != nil {
			r.err = err
			return
		}
		dir := filepath.Join(cache, "spaces", "test-bin")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			r.err = err
			return
		}
		r.path = filepath.Join(dir, name)
		cmd := exec.Command("go", "build", "-o", r.path, "./cmd/"+name)
		cmd.Dir = filepath.Join("..", "..") // the module root
		out, err := cmd.CombinedOutput()
		if err != nil {
			r.err = fmt.Errorf("go build ./cmd/%s: %v\n%s", name, err, out)
		}
	})
	if r.err != nil {
		t.Fatal(r.err)
	}
	return r.path
}

func standinBin(t testing.TB) string { return goBinary(t, "nextcloud-standin", "SPACES_STANDIN_BIN") }

func randomSlug(prefix string) string {
	b := make([]byte, 4)
	rand.Read(b) //nolint:errcheck
	return prefix + "-" + hex.EncodeToString(b)
}

// env is one test's service: its database, a provisioner on the real Nomad, and a River client.
type env struct {
	t         testing.TB
	pool      *pgxpool.Pool
	admin     string
	nomad     *nomad.Client
	prov      *provisioner.Provisioner
	client    *jobs.Client
	box       *secretbox.Box
	templates *templates.Set
	smtp      *smtptest.Server
}

type envOptions struct {
	nomadAddr   string // default NOMAD_ADDR
	templateDir string
	capacity    int
	// capacityFromNomad, cpu and memoryMB: the ceiling from Nomad's nodes, for a space of that size.
	capacityFromNomad bool
	cpu, memoryMB     int
	// usageInterval and usageTimeout: how often a space is measured, how long it may take.
	usageInterval, usageTimeout time.Duration
	// space: the settings every space gets (mail relay, legal pages, apps).
	space provisioner.SpaceSettings
	// tune, when set, changes the provisioner's settings further (a short health timeout, no
	// resync, the public check).
	tune func(*provisioner.Config)
	// cluster is another Nomad (the multi-node cluster's address) that both the service and the
	// test's direct client use, where nomadAddr moves the service only.
	cluster string
}

func newEnv(t testing.TB, o envOptions) *env {
	t.Helper()
	ctx := context.Background()
	pool, _ := pgtest.New(t)
	admin := pgtest.ServerURL(t)
	addr := nomadAddr(t)
	if o.nomadAddr != "" {
		addr = o.nomadAddr
	}
	directAddr := nomadAddr(t)
	if o.cluster != "" {
		addr, directAddr = o.cluster, o.cluster
	}
	nc, err := nomad.New(nomad.Config{Address: addr})
	if err != nil {
		t.Fatal(err)
	}
	set, err := templates.Load(o.templateDir)
	if err != nil {
		t.Fatal(err)
	}
	logger := testLogger(t)
	cfg := provisioner.Config{
		BaseDomain: testDomain, Template: templates.Dev, Templates: set, StandinBin: standinBin(t),
		TenantDatabaseURL: pgtest.ProvisionerURL(t), Capacity: o.capacity, CapacityFromNomad: o.capacityFromNomad,
		CPU: o.cpu, MemoryMB: o.memoryMB, HealthTimeout: 2 * time.Minute,
		UsageInterval: o.usageInterval, UsageTimeout: o.usageTimeout, Space: o.space,
	}
	if o.tune != nil {
		o.tune(&cfg)
	}
	prov, err := provisioner.New(ctx, cfg, pool, nc, logger)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(prov.Close)
	box, err := secretbox.New([]byte(strings.Repeat("k", secretbox.KeySize)))
	if err != nil {
		t.Fatal(err)
	}
	mailer, smtp := testMailer(t)
	client, err := workers.NewClient(pool, workers.Deps{Logger: logger, Pool: pool, Box: box, Provisioner: prov,
		Mailer: mailer, PublicURL: "http://spaces.test"})
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
	// Nomad's client is needed direct for checks and cleanup, whatever address the service uses.
	direct, err := nomad.New(nomad.Config{Address: directAddr})
	if err != nil {
		t.Fatal(err)
	}
	return &env{t: t, pool: pool, admin: admin, nomad: direct, prov: prov, client: client, box: box, templates: set, smtp: smtp}
}

// testMailer sends to a real SMTP listener of the test's own.
func testMailer(t testing.TB) (*notify.Mailer, *smtptest.Server) {
	t.Helper()
	srv, err := smtptest.Start("127.0.0.1:0", smtptest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	u, _ := url.Parse(srv.URL())
	sender, err := notify.NewSMTP(u, "Espaces <no-reply@spaces.test>")
	if err != nil {
		t.Fatal(err)
	}
	tpls, err := notify.ParseTemplates()
	if err != nil {
		t.Fatal(err)
	}
	return &notify.Mailer{Templates: tpls, Sender: sender}, srv
}

// approve does what the moderators' approval does: the queued space and its provisioning job,
// in one transaction.
func (e *env) approve(slug string) tenants.Space {
	e.t.Helper()
	return approveSpace(e.t, e.pool, e.client, slug)
}

func approveSpace(t testing.TB, pool *pgxpool.Pool, client *jobs.Client, slug string) tenants.Space {
	t.Helper()
	return approveSpaceWith(t, pool, client, slug, quota.Limits{StorageBytes: quota.GB, Accounts: 5})
}

func approveSpaceWith(t testing.TB, pool *pgxpool.Pool, client *jobs.Client, slug string, l quota.Limits) tenants.Space {
	t.Helper()
	ctx := context.Background()
	var s tenants.Space
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		var err error
		s, err = tenants.CreateSpace(ctx, tx, tenants.NewSpace{Slug: slug, AssociationName: "Asso " + slug,
			ContactEmail: "Contact@" + slug + ".example", Locale: "fr", Limits: l},
			tenants.ModeratorActor(1))
		if err != nil {
			return err
		}
		_, err = client.InsertTx(ctx, tx, jobs.ProvisionSpaceArgs{SpaceID: s.ID}, nil)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	cleanupSpace(t, pgtest.ServerURL(t), slug)
	// Runs before cleanupSpace: the service must be stopped before its job is purged, or its
	// reconciler would register the job again.
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		client.Stop(sctx) //nolint:errcheck // stopped already by an earlier cleanup, at worst
	})
	return s
}

// cleanupSpace removes what provisioning made outside the test database.
func cleanupSpace(t testing.TB, admin, slug string) {
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		nc, err := nomad.New(nomad.Config{Address: os.Getenv("NOMAD_ADDR")})
		if err == nil {
			nc.DeregisterJob(ctx, provisioner.JobID(slug), true)                //nolint:errcheck
			nc.DeleteVariable(ctx, nomad.VariablePath(provisioner.JobID(slug))) //nolint:errcheck
			deleteVolumes(ctx, nc, provisioner.VolumeName(slug))
			nc.API().Close() // its idle connections count against Nomad's per-address limit
		}
		conn, err := pgx.Connect(ctx, admin)
		if err != nil {
			return
		}
		defer conn.Close(ctx)
		name := pgx.Identifier{provisioner.DatabaseName(slug)}.Sanitize()
		conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)") //nolint:errcheck
		conn.Exec(ctx, "DROP ROLE IF EXISTS "+name)                     //nolint:errcheck
	})
}

// deleteVolumes deletes the data volumes named name, waiting (a minute at most) for the purged
// job's allocations to stop holding them.
func deleteVolumes(ctx context.Context, nc *nomad.Client, name string) {
	vols, err := nc.HostVolumes(ctx, name)
	if err != nil {
		return
	}
	for _, v := range vols {
		for deadline := time.Now().Add(time.Minute); ; time.Sleep(200 * time.Millisecond) {
			if err := nc.DeleteHostVolume(ctx, v.ID); !errors.Is(err, nomad.ErrVolumeInUse) || time.Now().After(deadline) {
				break
			}
		}
	}
}

// waitState polls the space until it reaches one of the states; the limit only guards a hung
// test, it asserts nothing about speed.
func waitState(t testing.TB, pool *pgxpool.Pool, id int64, states ...tenants.SpaceState) tenants.Space {
	t.Helper()
	deadline := time.Now().Add(5 * time.Minute)
	for {
		s, err := tenants.GetSpace(context.Background(), pool, id)
		if err != nil {
			t.Fatal(err)
		}
		for _, st := range states {
			if s.State == st {
				return s
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("space %s still %s (reason %q, conditions %+v), want %v", s.Slug, s.State, s.FailureReason, s.Conditions, states)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// checkProvisionedOnce checks that the space has exactly one of each thing provisioning makes:
// one job, one role and database, one first account, one ready mail.
func checkProvisionedOnce(t testing.TB, pool *pgxpool.Pool, nc *nomad.Client, prov *provisioner.Provisioner, admin string, s tenants.Space) {
	t.Helper()
	ctx := context.Background()
	jobID := provisioner.JobID(s.Slug)
	job, err := nc.Job(ctx, jobID)
	if err != nil {
		t.Fatalf("job: %v", err)
	}
	if job.Meta[provisioner.MetaSpaceID] != fmt.Sprint(s.ID) || job.Meta[provisioner.MetaGeneration] == "" {
		t.Errorf("job meta = %v", job.Meta)
	}
	jobs, _, err := nc.API().Jobs().PrefixList(jobID)
	if err != nil || len(jobs) != 1 {
		t.Errorf("jobs with prefix %s: %d, %v", jobID, len(jobs), err)
	}
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var dbs, roles int
	name := provisioner.DatabaseName(s.Slug)
	conn.QueryRow(ctx, `SELECT count(*) FROM pg_database WHERE datname = $1`, name).Scan(&dbs)                //nolint:errcheck
	conn.QueryRow(ctx, `SELECT count(*) FROM pg_roles WHERE rolname = $1 AND rolcanlogin`, name).Scan(&roles) //nolint:errcheck
	if dbs != 1 || roles != 1 {
		t.Errorf("databases %d, roles %d; want 1 and 1", dbs, roles)
	}

	// The first account, through the space's own API, found by service discovery.
	regs, _, err := nc.Services(ctx, jobID, 0, 0)
	if err != nil || len(regs) == 0 {
		t.Fatalf("service %s: %v %v", jobID, regs, err)
	}
	v, err := nc.GetVariable(ctx, nomad.VariablePath(jobID))
	if err != nil {
		t.Fatal(err)
	}
	client, err := prov.Nextcloud(s, fmt.Sprintf("%s:%d", regs[0].Address, regs[0].Port), v.Items)
	if err != nil {
		t.Fatal(err)
	}
	users, err := client.ListUsers(ctx, "", 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	owner := provisioner.OwnerLogin(s)
	n := 0
	for _, u := range users {
		if u == owner {
			n++
		}
	}
	if n != 1 || len(users) != 2 { // the provisioner's admin and the association's account
		t.Errorf("users = %v, want the admin and %s once", users, owner)
	}
	details, err := client.UserDetails(ctx, owner)
	if err != nil {
		t.Fatal(err)
	}
	// The storage plan for one account of a fresh space: most of the limit, never more.
	plan := quota.PlanStorage(quota.PlanInput{Limits: s.Limits, Accounts: []quota.Account{{ID: "spaces-admin", Service: true}, {ID: owner}}})
	if details.Quota.Quota != plan.Quotas[owner] || details.Quota.Quota > s.Limits.StorageBytes {
		t.Errorf("owner quota = %+v, want %d of the space's %d", details.Quota, plan.Quotas[owner], s.Limits.StorageBytes)
	}
	if slices.Contains(details.Groups, "admin") || !slices.Contains(details.Groups, provisioner.AssociationGroup) {
		t.Errorf("owner groups = %v, want %s and not admin", details.Groups, provisioner.AssociationGroup)
	}

	var mails int
	var sealed, password string
	err = pool.QueryRow(ctx, `SELECT count(*), max(args->>'sealed'), max(args::text) FROM river_job
		WHERE kind = 'send_mail' AND args->>'template' = 'space_ready' AND args->>'to' = $1`, s.ContactEmail).Scan(&mails, &sealed, &password)
	if err != nil {
		t.Fatal(err)
	}
	if mails != 1 || sealed == "" {
		t.Errorf("space_ready mails = %d (sealed %q), want 1", mails, sealed)
	}
	if strings.Contains(password, `"Password"`) {
		t.Error("the one-time password is in the job table in clear")
	}
	if _, kept := v.Items["owner_password"]; kept {
		t.Error("the one-time password is still in the Nomad Variable of an active space")
	}
}

// flakyProxy stands between the service and Nomad: it forwards, refuses (closes connections) or
// holds requests, so tests can make Nomad unreachable at a chosen moment.
type flakyProxy struct {
	URL      string
	mode     atomic.Int32 // 0 forward, 1 refuse, 2 hold
	release  chan struct{}
	mu       sync.Mutex
	requests []string
	onReq    func(r *http.Request) // called before forwarding, may change the mode
	refused  atomic.Int64
}

const (
	proxyForward = iota
	proxyRefuse
	proxyHold
)

func newFlakyProxy(t testing.TB, target string) *flakyProxy {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	p := &flakyProxy{release: make(chan struct{})}
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.FlushInterval = -1
	rp.ErrorLog = nil
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		p.requests = append(p.requests, r.Method+" "+r.URL.Path)
		hook := p.onReq
		p.mu.Unlock()
		if hook != nil {
			hook(r)
		}
		switch p.mode.Load() {
		case proxyRefuse:
			p.refused.Add(1)
			if hj, ok := w.(http.Hijacker); ok {
				if conn, _, err := hj.Hijack(); err == nil {
					conn.Close()
					return
				}
			}
			http.Error(w, "refused", http.StatusBadGateway)
			return
		case proxyHold:
			p.mu.Lock()
			release := p.release
			p.mu.Unlock()
			select {
			case <-release:
			case <-r.Context().Done():
				return
			}
		}
		rp.ServeHTTP(w, r)
	})}
	go srv.Serve(ln) //nolint:errcheck
	t.Cleanup(func() { srv.Close() })
	p.URL = "http://" + ln.Addr().String()
	return p
}

func (p *flakyProxy) set(mode int32) {
	p.mode.Store(mode)
	if mode != proxyHold {
		p.mu.Lock()
		select {
		case <-p.release:
		default:
			close(p.release)
		}
		p.release = make(chan struct{})
		p.mu.Unlock()
	}
}

// requestsSeen lists the requests forwarded or refused so far ("GET /v1/jobs").
func (p *flakyProxy) requestsSeen() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.requests...)
}

func (p *flakyProxy) hook(f func(r *http.Request)) {
	p.mu.Lock()
	p.onReq = f
	p.mu.Unlock()
}

type pgxTx = pgx.Tx

// waitFor polls cond; the limit only guards a hung test.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func newDirectNomad(t testing.TB) *nomad.Client {
	t.Helper()
	c, err := nomad.New(nomad.Config{Address: nomadAddr(t)})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// provisionerFor is a provisioner used only to reach a space's Nextcloud in checks.
func provisionerFor(t testing.TB, pool *pgxpool.Pool) *provisioner.Provisioner {
	t.Helper()
	set, err := templates.Load("")
	if err != nil {
		t.Fatal(err)
	}
	p, err := provisioner.New(context.Background(), provisioner.Config{BaseDomain: testDomain, Template: templates.Dev,
		Templates: set, StandinBin: "/bin/true", TenantDatabaseURL: pgtest.ServerURL(t)}, pool, newDirectNomad(t), testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}
