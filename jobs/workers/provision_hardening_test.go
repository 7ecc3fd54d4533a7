package workers_test

import (
	"context"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/assospaces/spaces/jobs"
	"github.com/assospaces/spaces/provisioner"
	"github.com/assospaces/spaces/quota"
	"github.com/assospaces/spaces/templates"
	"github.com/assospaces/spaces/tenants"
)

// approveWithAttempts is approve with the provisioning job given maxAttempts attempts, so that a
// test reaches the last one quickly.
func (e *env) approveWithAttempts(slug string, maxAttempts int) tenants.Space {
	e.t.Helper()
	ctx := context.Background()
	var s tenants.Space
	err := pgx.BeginFunc(ctx, e.pool, func(tx pgx.Tx) error {
		var err error
		s, err = tenants.CreateSpace(ctx, tx, tenants.NewSpace{Slug: slug, AssociationName: "Asso " + slug,
			ContactEmail: "contact@" + slug + ".example", Locale: "fr", Limits: quota.Limits{StorageBytes: quota.GB, Accounts: 5}},
			tenants.ModeratorActor(1))
		if err != nil {
			return err
		}
		_, err = e.client.InsertTx(ctx, tx, jobs.ProvisionSpaceArgs{SpaceID: s.ID}, &river.InsertOpts{MaxAttempts: maxAttempts})
		return err
	})
	if err != nil {
		e.t.Fatal(err)
	}
	cleanupSpace(e.t, e.admin, slug)
	e.t.Cleanup(func() { e.client.Stop(context.Background()) }) //nolint:errcheck // before cleanupSpace, as approveSpace does
	return s
}

// attemptErrors are the errors River recorded for the space's provisioning jobs.
func (e *env) attemptErrors(id int64) []string {
	e.t.Helper()
	var errs []string
	err := e.pool.QueryRow(context.Background(), `SELECT coalesce(array_agg(x->>'error'), '{}') FROM river_job, unnest(errors) x
		WHERE kind = 'provision_space' AND (args->>'space_id')::bigint = $1`, id).Scan(&errs)
	if err != nil {
		e.t.Fatal(err)
	}
	return errs
}

// A space whose task never becomes healthy ends failed after its last attempt, the reason naming
// the step, and gives its place under the ceiling to the space waiting behind it.
func TestProvisionNeverHealthyFailsAndFreesItsPlace(t *testing.T) {
	t.Parallel()
	sick, next := randomSlug("sick"), randomSlug("next")
	// The dev jobspec, except that the sick space's Nextcloud exits at once (an unknown command).
	body, err := os.ReadFile(filepath.Join("..", "..", "templates", templates.FileName(templates.Dev)))
	if err != nil {
		t.Fatal(err)
	}
	const serve = `args    = ["serve"]`
	if strings.Count(string(body), serve) != 1 {
		t.Fatalf("the dev jobspec has no single %s line to break", serve)
	}
	broken := strings.Replace(string(body), serve,
		`args    = [[ if eq .Slug "`+sick+`" ]]["exit-at-once"][[ else ]]["serve"][[ end ]]`, 1)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, templates.FileName(templates.Dev)), []byte(broken), 0o600); err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, envOptions{templateDir: dir, capacity: 1, tune: func(c *provisioner.Config) { c.HealthTimeout = 8 * time.Second }})
	s := e.approveWithAttempts(sick, 2)
	waitState(t, e.pool, s.ID, tenants.SpaceProvisioning)
	w := e.approve(next)

	// The first attempt fails and is retried: the space is still provisioning, holding its place.
	waitFor(t, "a failed attempt", func() bool { return len(e.attemptErrors(s.ID)) >= 1 })
	if cur, _ := tenants.GetSpace(context.Background(), e.pool, s.ID); cur.State == tenants.SpaceProvisioning {
		if other, _ := tenants.GetSpace(context.Background(), e.pool, w.ID); other.State != tenants.SpaceQueued {
			t.Errorf("while the first space retries, the second is %s, want queued (capacity 1)", other.State)
		}
	}

	failed := waitState(t, e.pool, s.ID, tenants.SpaceFailed, tenants.SpaceActive)
	if failed.State != tenants.SpaceFailed {
		t.Fatalf("space %s, want failed", failed.State)
	}
	// River records the last attempt's error once the pass returns, after the space failed.
	waitFor(t, "the last attempt recorded", func() bool { return len(e.attemptErrors(s.ID)) >= 2 })
	if errs := e.attemptErrors(s.ID); len(errs) != 2 {
		t.Errorf("attempts recorded: %q, want 2", errs)
	}
	if !strings.HasPrefix(failed.FailureReason, "health: not healthy after 8s") {
		t.Errorf("reason %q does not name the step and what was seen", failed.FailureReason)
	}
	var healthy *tenants.Condition
	for i, c := range failed.Conditions {
		if c.Type == provisioner.CondHealthy {
			healthy = &failed.Conditions[i]
		}
	}
	if healthy == nil || healthy.Status != "False" {
		t.Errorf("condition Healthy = %+v, want False", healthy)
	}

	// Its place goes to the space waiting behind it.
	if got := waitState(t, e.pool, w.ID, tenants.SpaceActive, tenants.SpaceFailed); got.State != tenants.SpaceActive {
		t.Fatalf("the waiting space %s (%s)", got.State, got.FailureReason)
	}
}

// With the periodic resync off, events alone wake a pass waiting for health: the space is active
// at its first attempt.
func TestProvisionWokenByEventsAlone(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{tune: func(c *provisioner.Config) { c.Resync, c.HealthTimeout = -1, time.Minute }})
	s := e.approveWithAttempts(randomSlug("events"), 1)
	got := waitState(t, e.pool, s.ID, tenants.SpaceActive, tenants.SpaceFailed)
	if got.State != tenants.SpaceActive {
		t.Fatalf("space %s (%s): no event woke the wait for health", got.State, got.FailureReason)
	}
	if errs := e.attemptErrors(s.ID); len(errs) != 0 {
		t.Errorf("failed attempts: %q", errs)
	}
}

// restartProxy stands for a Nomad agent that restarts: restart cuts the event streams and, for a
// while, refuses new ones and holds every other request until it is back.
type restartProxy struct {
	URL string
	rp  *httputil.ReverseProxy

	mu      sync.Mutex
	down    bool
	up      chan struct{}
	streams map[*http.Request]context.CancelFunc
	hook    func(r *http.Request)

	streamsOpened, streamsRefused atomic.Int64
}

func newRestartProxy(t *testing.T, target string) *restartProxy {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	p := &restartProxy{rp: httputil.NewSingleHostReverseProxy(u), up: make(chan struct{}), streams: map[*http.Request]context.CancelFunc{}}
	p.rp.FlushInterval = -1
	close(p.up)
	srv := &http.Server{Handler: p}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln) //nolint:errcheck
	t.Cleanup(func() { srv.Close() })
	p.URL = "http://" + ln.Addr().String()
	return p
}

func (p *restartProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	hook, down, up := p.hook, p.down, p.up
	p.mu.Unlock()
	if hook != nil {
		hook(r) // a request that starts a restart still goes through
	}
	stream := r.URL.Path == "/v1/event/stream"
	if down {
		if stream {
			p.streamsRefused.Add(1)
			if conn, _, err := w.(http.Hijacker).Hijack(); err == nil {
				conn.Close()
			}
			return
		}
		select {
		case <-up:
		case <-r.Context().Done():
			return
		}
	}
	if stream {
		p.streamsOpened.Add(1)
		ctx, cancel := context.WithCancel(r.Context())
		r = r.WithContext(ctx)
		p.mu.Lock()
		p.streams[r] = cancel
		p.mu.Unlock()
		defer func() {
			p.mu.Lock()
			delete(p.streams, r)
			p.mu.Unlock()
			cancel()
		}()
	}
	p.rp.ServeHTTP(w, r)
}

func (p *restartProxy) setHook(f func(r *http.Request)) {
	p.mu.Lock()
	p.hook = f
	p.mu.Unlock()
}

// restart cuts the event streams and keeps the agent away for d.
func (p *restartProxy) restart(d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down, p.up = true, make(chan struct{})
	for _, cancel := range p.streams {
		cancel()
	}
	up := p.up
	time.AfterFunc(d, func() {
		p.mu.Lock()
		p.down = false
		close(up)
		p.mu.Unlock()
	})
}

// Nomad restarts while a pass waits for health, with the periodic resync off: the event watcher
// connects again and wakes the pass, which ends active at its first attempt.
func TestProvisionWatcherReconnectsAfterNomadRestart(t *testing.T) {
	t.Parallel()
	proxy := newRestartProxy(t, nomadAddr(t))
	e := newEnv(t, envOptions{nomadAddr: proxy.URL, tune: func(c *provisioner.Config) { c.Resync, c.HealthTimeout = -1, time.Minute }})
	slug := randomSlug("restart")
	var once sync.Once
	var before atomic.Int64
	restarted := make(chan struct{})
	// The pass's first look at its allocations is the start of its wait for health: Nomad restarts then.
	proxy.setHook(func(r *http.Request) {
		if r.URL.Path == "/v1/job/"+provisioner.JobID(slug)+"/allocations" {
			once.Do(func() {
				before.Store(proxy.streamsOpened.Load())
				proxy.restart(4 * time.Second)
				close(restarted)
			})
		}
	})
	s := e.approveWithAttempts(slug, 1)
	select {
	case <-restarted:
	case <-time.After(5 * time.Minute):
		t.Fatal("the pass never waited for health")
	}
	got := waitState(t, e.pool, s.ID, tenants.SpaceActive, tenants.SpaceFailed)
	if got.State != tenants.SpaceActive {
		t.Fatalf("space %s (%s): the pass was not woken after the restart", got.State, got.FailureReason)
	}
	if errs := e.attemptErrors(s.ID); len(errs) != 0 {
		t.Errorf("failed attempts: %q", errs)
	}
	if proxy.streamsRefused.Load() == 0 || proxy.streamsOpened.Load() <= before.Load() {
		t.Errorf("event streams: %d refused while Nomad was away, %d opened after (%d before); want the watcher to try and connect again",
			proxy.streamsRefused.Load(), proxy.streamsOpened.Load()-before.Load(), before.Load())
	}
}
