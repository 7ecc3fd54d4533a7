package provisioner

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/assospaces/spaces/provisioner/nomad"
	"github.com/assospaces/spaces/templates"
	"github.com/assospaces/spaces/tenants/pgtest"
)

// gateProxy stands between the provisioner and the real Nomad agent. Open, it forwards; shut, it
// holds every request until it is opened again (forwarded) or made to refuse (the connection
// closed, as an agent that went away). It counts the requests and how many it held at once.
type gateProxy struct {
	URL string

	mu       sync.Mutex
	shut     bool
	refuse   bool
	gate     chan struct{} // closed when held requests may go on
	seen     int           // requests received
	inFlight int           // requests received and not answered yet
	maxIn    int           // most requests in flight at once
}

func newGateProxy(t *testing.T) *gateProxy {
	t.Helper()
	addr := os.Getenv("NOMAD_ADDR")
	if addr == "" {
		t.Fatal("NOMAD_ADDR is not set: these tests need a real Nomad agent (run them with `make test`)")
	}
	target, err := url.Parse(addr)
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(target)
	rp.FlushInterval = -1
	p := &gateProxy{gate: make(chan struct{})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		p.seen++
		p.inFlight++
		p.maxIn = max(p.maxIn, p.inFlight)
		shut, gate := p.shut, p.gate
		p.mu.Unlock()
		defer func() {
			p.mu.Lock()
			p.inFlight--
			p.mu.Unlock()
		}()
		if shut {
			select {
			case <-gate:
			case <-r.Context().Done():
				return
			}
		}
		p.mu.Lock()
		refuse := p.refuse
		p.mu.Unlock()
		if refuse {
			if hj, ok := w.(http.Hijacker); ok {
				if conn, _, err := hj.Hijack(); err == nil {
					conn.Close()
					return
				}
			}
			http.Error(w, "refused", http.StatusBadGateway)
			return
		}
		rp.ServeHTTP(w, r)
	})}
	go srv.Serve(ln) //nolint:errcheck
	t.Cleanup(func() {
		p.open(false)
		srv.Close()
	})
	p.URL = "http://" + ln.Addr().String()
	return p
}

// close holds every request from now on.
func (p *gateProxy) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.shut = true
}

// open lets the held requests and the next ones through, forwarded or refused.
func (p *gateProxy) open(refuse bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.refuse = refuse
	if p.shut {
		p.shut = false
		close(p.gate)
		p.gate = make(chan struct{})
	}
}

func (p *gateProxy) counts() (seen, inFlight, maxIn int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.seen, p.inFlight, p.maxIn
}

// resetMax starts counting the most requests in flight at once anew.
func (p *gateProxy) resetMax() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.maxIn = p.inFlight
}

// waitUntil polls cond; the limit only guards a hung test, it asserts nothing about speed.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// returnsWhileHeld waits for done, failing the test when it does not come (the callers are
// waiting behind the request the proxy holds). The limit only guards a hung test.
func returnsWhileHeld(t *testing.T, what string, done <-chan struct{}) {
	t.Helper()
	select {
	case <-done:
	case <-time.After(2 * time.Minute):
		t.Fatalf("%s: still waiting behind the Nomad request being held", what)
	}
}

// clock is a settable time for the ceiling's freshness.
type clock struct{ offset atomic.Int64 }

func (c *clock) now() time.Time          { return time.Now().Add(time.Duration(c.offset.Load())) }
func (c *clock) advance(d time.Duration) { c.offset.Add(int64(d)) }

// capacityProvisioner is a provisioner that reads its ceiling from the real Nomad through proxy.
func capacityProvisioner(t *testing.T, proxy *gateProxy) (*Provisioner, *clock) {
	t.Helper()
	pool, _ := pgtest.New(t)
	set, err := templates.Load("")
	if err != nil {
		t.Fatal(err)
	}
	// A call held by the proxy must stay held until the test releases it.
	nc, err := nomad.New(nomad.Config{Address: proxy.URL, CallTimeout: 30 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.API().Close() })
	p, err := New(context.Background(), Config{BaseDomain: "spaces.test", Template: templates.Dev, Templates: set,
		StandinBin: "/bin/true", TenantDatabaseURL: pgtest.ServerURL(t), CapacityFromNomad: true},
		pool, nc, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	c := &clock{}
	p.now = c.now
	return p, c
}

// ceilingCall is one Ceiling call's outcome.
type ceilingCall struct {
	n   int
	err error
}

// callCeilings runs n concurrent Ceiling calls on ctx and returns a channel closed when all have
// returned, with their outcomes.
func callCeilings(ctx context.Context, p *Provisioner, n int) (<-chan struct{}, []ceilingCall) {
	out := make([]ceilingCall, n)
	done := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { out[i].n, out[i].err = p.Ceiling(ctx) })
	}
	go func() { wg.Wait(); close(done) }()
	return done, out
}

// While the ceiling is read again from a Nomad that does not answer, callers get the last figure
// at once: they are not queued behind the read, and they do not start reads of their own.
func TestCeilingServesTheLastFigureWhileNomadIsSlow(t *testing.T) {
	proxy := newGateProxy(t)
	p, clk := capacityProvisioner(t, proxy)
	ctx := context.Background()

	first, err := p.Ceiling(ctx)
	if err != nil || first <= 0 {
		t.Fatalf("first ceiling = %d, %v; want the nodes' room", first, err)
	}

	clk.advance(capacityTTL)
	proxy.close()
	seenBefore, _, _ := proxy.counts()
	proxy.resetMax()
	refresher := make(chan ceilingCall, 1)
	go func() {
		n, err := p.Ceiling(ctx)
		refresher <- ceilingCall{n, err}
	}()
	waitUntil(t, "the ceiling's read to reach Nomad", func() bool {
		_, in, _ := proxy.counts()
		return in == 1
	})

	done, calls := callCeilings(ctx, p, 50)
	returnsWhileHeld(t, "Ceiling callers while the figure is read again", done)
	for i, c := range calls {
		if c.err != nil || c.n != first {
			t.Errorf("caller %d got %d, %v; want the last figure %d", i, c.n, c.err, first)
		}
	}
	seen, in, maxIn := proxy.counts()
	if seen-seenBefore != 1 || in != 1 || maxIn != 1 {
		t.Errorf("Nomad requests while one is held: %d received, %d in flight, at most %d at once; want 1",
			seen-seenBefore, in, maxIn)
	}

	proxy.open(false)
	got := <-refresher
	if got.err != nil || got.n != first {
		t.Errorf("the caller that read the figure again got %d, %v; want %d", got.n, got.err, first)
	}
	// The figure is fresh again: no more Nomad requests.
	seenAfter, _, _ := proxy.counts()
	if n, err := p.Ceiling(ctx); err != nil || n != first {
		t.Errorf("ceiling after the read = %d, %v", n, err)
	}
	if s, _, _ := proxy.counts(); s != seenAfter {
		t.Errorf("a fresh ceiling asked Nomad again (%d requests)", s-seenAfter)
	}
}

// With no figure yet and a Nomad that does not answer, a caller whose context ends stops waiting
// at once instead of queueing behind the read under way; and the ceiling is never read twice at
// once.
func TestCeilingNeverQueuesCallersBehindAnUnreachableNomad(t *testing.T) {
	proxy := newGateProxy(t)
	p, _ := capacityProvisioner(t, proxy)
	proxy.close()

	first := make(chan ceilingCall, 1)
	go func() {
		n, err := p.Ceiling(context.Background())
		first <- ceilingCall{n, err}
	}()
	waitUntil(t, "the ceiling's read to reach Nomad", func() bool {
		_, in, _ := proxy.counts()
		return in == 1
	})

	// A caller whose request has gone does not wait for Nomad.
	gone, cancel := context.WithCancel(context.Background())
	cancel()
	done, calls := callCeilings(gone, p, 1)
	returnsWhileHeld(t, "a Ceiling caller whose context ended", done)
	if !errors.Is(calls[0].err, context.Canceled) {
		t.Errorf("caller with an ended context got %d, %v; want its context's error", calls[0].n, calls[0].err)
	}

	// The other callers wait for the read under way (or, arriving once it failed, make their own):
	// never more than one request at a time.
	done, calls = callCeilings(context.Background(), p, 50)
	proxy.open(true) // Nomad goes away
	<-done
	got := <-first
	for i, c := range append(calls, got) {
		if c.err == nil {
			t.Errorf("caller %d got %d and no error from an unreachable Nomad", i, c.n)
		}
	}
	if _, _, maxIn := proxy.counts(); maxIn != 1 {
		t.Errorf("Nomad had up to %d ceiling reads in flight at once; want 1", maxIn)
	}

	// Nomad back: the next caller reads the figure.
	proxy.open(false)
	if n, err := p.Ceiling(context.Background()); err != nil || n <= 0 {
		t.Errorf("ceiling with Nomad back = %d, %v", n, err)
	}
}
