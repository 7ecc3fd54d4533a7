package workers_test

import (
	"context"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"

	"github.com/assospaces/spaces/jobs"
	"github.com/assospaces/spaces/jobs/workers"
	"github.com/assospaces/spaces/provisioner"
	"github.com/assospaces/spaces/provisioner/nomad"
	"github.com/assospaces/spaces/quota"
	"github.com/assospaces/spaces/templates"
	"github.com/assospaces/spaces/tenants"
	"github.com/assospaces/spaces/tenants/pgtest"
	"github.com/assospaces/spaces/tenants/secretbox"
)

// pathHoldProxy stands between the service and Nomad and holds the requests to one path (a
// space's allocations, read while its pass waits for health) until it is released; everything
// else is forwarded.
type pathHoldProxy struct {
	URL  string
	path string

	mu       sync.Mutex
	released bool
	gate     chan struct{}
	held     int // requests held now
}

func newPathHoldProxy(t *testing.T, target, path string) *pathHoldProxy {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	p := &pathHoldProxy{path: path, gate: make(chan struct{})}
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.FlushInterval = -1
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		hold := r.URL.Path == p.path && !p.released
		if hold {
			p.held++
		}
		p.mu.Unlock()
		if hold {
			select {
			case <-p.gate:
			case <-r.Context().Done():
			}
			p.mu.Lock()
			p.held--
			p.mu.Unlock()
			if r.Context().Err() != nil {
				return
			}
		}
		rp.ServeHTTP(w, r)
	})}
	go srv.Serve(ln) //nolint:errcheck
	t.Cleanup(func() {
		p.release()
		srv.Close()
	})
	p.URL = "http://" + ln.Addr().String()
	return p
}

// release forwards the held requests and every later one.
func (p *pathHoldProxy) release() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.released {
		p.released = true
		close(p.gate)
	}
}

func (p *pathHoldProxy) holding() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.held
}

// stopEnv is a service whose River client the test starts and stops itself, with Nomad behind a
// proxy that holds one space's allocations.
type stopEnv struct {
	pool  *pgxpool.Pool
	admin string
	prov  *provisioner.Provisioner
	deps  workers.Deps
	proxy *pathHoldProxy
	slug  string
}

func newStopEnv(t *testing.T) *stopEnv {
	t.Helper()
	pool, _ := pgtest.New(t)
	admin := pgtest.ServerURL(t)
	slug := randomSlug("stop")
	proxy := newPathHoldProxy(t, nomadAddr(t), "/v1/job/"+provisioner.JobID(slug)+"/allocations")
	// The held read must stay held until the test stops the client or releases it.
	nc, err := nomad.New(nomad.Config{Address: proxy.URL, CallTimeout: 30 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	set, err := templates.Load("")
	if err != nil {
		t.Fatal(err)
	}
	logger := testLogger(t)
	prov, err := provisioner.New(context.Background(), provisioner.Config{
		BaseDomain: testDomain, Template: templates.Dev, Templates: set, StandinBin: standinBin(t),
		TenantDatabaseURL: admin, HealthTimeout: 10 * time.Minute,
	}, pool, nc, logger)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(prov.Close)
	box, err := secretbox.New([]byte(strings.Repeat("k", secretbox.KeySize)))
	if err != nil {
		t.Fatal(err)
	}
	mailer, _ := testMailer(t)
	cleanupSpace(t, admin, slug)
	return &stopEnv{pool: pool, admin: admin, prov: prov, proxy: proxy, slug: slug,
		deps: workers.Deps{Logger: logger, Pool: pool, Box: box, Provisioner: prov, Mailer: mailer, PublicURL: "http://spaces.test"}}
}

// client builds a working River client; the test stops it before the space is cleaned up.
func (e *stopEnv) client(t *testing.T) *jobs.Client {
	t.Helper()
	c, err := workers.NewClient(e.pool, e.deps)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		c.StopAndCancel(ctx) //nolint:errcheck // stopped already, at best
	})
	return c
}

// run runs c with workers.Run until the returned stop is called; wait then returns Run's error.
func run(t *testing.T, c *jobs.Client, grace time.Duration) (stop func(), wait func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- workers.Run(ctx, c, grace, nil) }()
	return cancel, func() error {
		select {
		case err := <-done:
			return err
		case <-time.After(5 * time.Minute): // guards a hung test only
			t.Fatal("workers.Run did not return after its context ended")
			return nil
		}
	}
}

// approve creates the space approved and its provisioning job with maxAttempts attempts.
func (e *stopEnv) approve(t *testing.T, c *jobs.Client, maxAttempts int) tenants.Space {
	t.Helper()
	ctx := context.Background()
	var s tenants.Space
	err := pgx.BeginFunc(ctx, e.pool, func(tx pgx.Tx) error {
		var err error
		s, err = tenants.CreateSpace(ctx, tx, tenants.NewSpace{Slug: e.slug, AssociationName: "Asso " + e.slug,
			ContactEmail: "contact@" + e.slug + ".example", Locale: "fr", Limits: quota.Limits{StorageBytes: quota.GB, Accounts: 5}},
			tenants.ModeratorActor(1))
		if err != nil {
			return err
		}
		_, err = c.InsertTx(ctx, tx, jobs.ProvisionSpaceArgs{SpaceID: s.ID}, &river.InsertOpts{MaxAttempts: maxAttempts})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// provisionJob is the state and attempt count of the space's provisioning job.
func (e *stopEnv) provisionJob(t *testing.T, spaceID int64) (state string, attempt, maxAttempts int) {
	t.Helper()
	err := e.pool.QueryRow(context.Background(), `SELECT state, attempt, max_attempts FROM river_job
		WHERE kind = 'provision_space' AND (args->>'space_id')::bigint = $1`, spaceID).Scan(&state, &attempt, &maxAttempts)
	if err != nil {
		t.Fatal(err)
	}
	return state, attempt, maxAttempts
}

// A pass waiting for health when the service stops, past the grace, is cancelled: on its last
// attempt, the space still does not fail, the attempt is given back, and the next client to
// start finishes the space.
func TestStopCancelsAPassWithoutFailingItsSpace(t *testing.T) {
	e := newStopEnv(t)
	first := e.client(t)
	stop, wait := run(t, first, time.Second)
	s := e.approve(t, first, 1)
	waitFor(t, "the pass to wait for the space's health", func() bool { return e.proxy.holding() == 1 })

	stop()
	if err := wait(); err != nil {
		t.Fatalf("workers.Run: %v", err)
	}
	waitFor(t, "the cancelled pass to stop waiting for Nomad", func() bool { return e.proxy.holding() == 0 })
	got, err := tenants.GetSpace(context.Background(), e.pool, s.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.State != tenants.SpaceProvisioning {
		t.Fatalf("space after the stop: %s (reason %q), want provisioning", got.State, got.FailureReason)
	}
	if state, attempt, maxAttempts := e.provisionJob(t, s.ID); state != "available" || attempt != 0 || maxAttempts != 1 {
		t.Fatalf("provisioning job after the stop: %s, attempt %d of %d; want available, attempt 0 of 1", state, attempt, maxAttempts)
	}

	e.proxy.release()
	second := e.client(t)
	stop, wait = run(t, second, time.Minute)
	waitState(t, e.pool, s.ID, tenants.SpaceActive, tenants.SpaceFailed)
	stop()
	if err := wait(); err != nil {
		t.Fatalf("workers.Run: %v", err)
	}
	got = waitState(t, e.pool, s.ID, tenants.SpaceActive)
	checkProvisionedOnce(t, e.pool, newDirectNomad(t), e.prov, e.admin, got)
}

// A pass that finishes within the grace is not cancelled by the stop: the space is active when
// Run returns, in the pass's first attempt.
func TestStopLetsARunningPassFinish(t *testing.T) {
	e := newStopEnv(t)
	c := e.client(t)
	stop, wait := run(t, c, 5*time.Minute) // a guard: the pass finishes well before
	s := e.approve(t, c, 10)
	waitFor(t, "the pass to wait for the space's health", func() bool { return e.proxy.holding() == 1 })

	// The service is told to stop while the pass waits; then Nomad answers. The stop must not
	// have cancelled the pass.
	stop()
	e.proxy.release()
	if err := wait(); err != nil {
		t.Fatalf("workers.Run: %v", err)
	}
	got, err := tenants.GetSpace(context.Background(), e.pool, s.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.State != tenants.SpaceActive {
		t.Fatalf("space when Run returned: %s (reason %q), want active", got.State, got.FailureReason)
	}
	if state, attempt, _ := e.provisionJob(t, s.ID); state != "completed" || attempt != 1 {
		t.Fatalf("provisioning job: %s after %d attempts, want completed after 1", state, attempt)
	}
}
