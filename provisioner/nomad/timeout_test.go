package nomad_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/assospaces/spaces/provisioner/nomad"
)

// silentProxy stands in front of the real Nomad agent: it forwards, or, once silenced, accepts
// every request and never answers it (an agent that hangs), until the client gives up.
type silentProxy struct {
	URL string

	mu      sync.Mutex
	silent  bool
	waiting int // requests held now
	held    int // requests held in all
}

func newSilentProxy(t *testing.T) *silentProxy {
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
	p := &silentProxy{}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		silent := p.silent
		if silent {
			p.waiting++
			p.held++
		}
		p.mu.Unlock()
		if !silent {
			rp.ServeHTTP(w, r)
			return
		}
		// With the body read, the server notices when the client hangs up.
		io.Copy(io.Discard, r.Body) //nolint:errcheck
		select {
		case <-r.Context().Done():
		case <-stop:
		}
		p.mu.Lock()
		p.waiting--
		p.mu.Unlock()
	})}
	go srv.Serve(ln) //nolint:errcheck
	t.Cleanup(func() {
		close(stop)
		srv.Close()
	})
	p.URL = "http://" + ln.Addr().String()
	return p
}

func (p *silentProxy) silence() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.silent = true
}

func (p *silentProxy) counts() (waiting, held int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.waiting, p.held
}

// returns runs call and fails the test when it does not return: the limit only guards a hung
// test (it is far above the client's call timeout), it asserts nothing about speed.
func returns(t *testing.T, what string, call func() error) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- call() }()
	select {
	case err := <-done:
		return err
	case <-time.After(2 * time.Minute):
		t.Fatalf("%s: still waiting for a Nomad that does not answer", what)
		return nil
	}
}

const sampleJob = `job "JOBID" {
  datacenters = ["*"]
  type = "service"
  group "g" {
    task "t" {
      driver = "raw_exec"
      config {
        command = "/bin/sleep"
        args    = ["3600"]
      }
      resources {
        cpu    = 10
        memory = 16
      }
    }
  }
}
`

// Every call that is not a wait gives up on a Nomad that accepts it and never answers, even on a
// context that never ends; and the parse leaves no request behind.
func TestPlainCallsGiveUpOnASilentNomad(t *testing.T) {
	proxy := newSilentProxy(t)
	c, err := nomad.New(nomad.Config{Address: proxy.URL, CallTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	id := "space-timeout" + suffix()

	// Forwarded, the calls work (the parse sends the same request as the api package's).
	job, err := c.ParseJob(ctx, strings.ReplaceAll(sampleJob, "JOBID", id))
	if err != nil || job.ID == nil || *job.ID != id || len(job.TaskGroups) != 1 {
		t.Fatalf("parse through the proxy: %+v, %v", job, err)
	}
	if job.TaskGroups[0].Count == nil || *job.TaskGroups[0].Count != 1 {
		t.Errorf("parsed job not canonicalized: count %v", job.TaskGroups[0].Count)
	}
	if _, err := c.ParseJob(ctx, `job "x" { group "g" { nonsense = 1 } }`); !errors.Is(err, nomad.ErrInvalidJob) {
		t.Errorf("parse of a broken jobspec: %v, want ErrInvalidJob", err)
	}
	if _, err := c.Nodes(ctx); err != nil {
		t.Fatalf("nodes through the proxy: %v", err)
	}

	proxy.silence()
	calls := []struct {
		name string
		call func() error
	}{
		{"ParseJob", func() error { _, err := c.ParseJob(ctx, strings.ReplaceAll(sampleJob, "JOBID", id)); return err }},
		{"RegisterJob", func() error { _, err := c.RegisterJob(ctx, job); return err }},
		{"Job", func() error { _, err := c.Job(ctx, id); return err }},
		{"DeregisterJob", func() error { return c.DeregisterJob(ctx, id, true) }},
		{"Nodes", func() error { _, err := c.Nodes(ctx); return err }},
		{"ListJobs", func() error { _, err := c.ListJobs(ctx, "space-"); return err }},
		{"ListAllocations", func() error { _, err := c.ListAllocations(ctx, "space-"); return err }},
		{"Allocations at once", func() error { _, _, err := c.Allocations(ctx, id, 0, 0); return err }},
		{"Services at once", func() error { _, _, err := c.Services(ctx, id, 0, 0); return err }},
		{"GetVariable", func() error { _, err := c.GetVariable(ctx, nomad.VariablePath(id)); return err }},
		{"CreateVariable", func() error {
			_, err := c.CreateVariable(ctx, nomad.VariablePath(id), map[string]string{"a": "1"})
			return err
		}},
		{"UpdateVariable", func() error {
			_, err := c.UpdateVariable(ctx, nomad.Variable{Path: nomad.VariablePath(id), Items: map[string]string{"a": "1"}, ModifyIndex: 1})
			return err
		}},
		{"DeleteVariable", func() error { return c.DeleteVariable(ctx, nomad.VariablePath(id)) }},
		// A blocking query is bounded by its own wait, then the call timeout.
		{"Allocations blocking", func() error { _, _, err := c.Allocations(ctx, id, 1<<40, time.Second); return err }},
		{"Services blocking", func() error { _, _, err := c.Services(ctx, id, 1<<40, time.Second); return err }},
	}
	for i, tc := range calls {
		err := returns(t, tc.name, tc.call)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("%s on a silent Nomad: %v, want a deadline error", tc.name, err)
		}
		if _, held := proxy.counts(); held != i+1 {
			t.Fatalf("%s: the proxy held %d requests in all, want %d", tc.name, held, i+1)
		}
	}
	// No call left its request behind (the parse used to leave its own running).
	deadline := time.Now().Add(2 * time.Minute) // guards a hung test only
	for {
		waiting, _ := proxy.counts()
		if waiting == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d requests still open after their calls returned", waiting)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A blocking query waits as long as it asked, past the call timeout: that bound is for calls
// that do not wait.
func TestBlockingQueryOutlastsTheCallTimeout(t *testing.T) {
	addr := os.Getenv("NOMAD_ADDR")
	if addr == "" {
		t.Fatal("NOMAD_ADDR is not set: these tests need a real Nomad agent (run them with `make test`)")
	}
	c, err := nomad.New(nomad.Config{Address: addr, CallTimeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	// The service table's index, then a wait past it for a service nobody registers: Nomad answers
	// when the wait elapses (or earlier if another test changes the table).
	_, index, err := c.Services(ctx, "nobody-"+suffix(), 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, _, err = c.Services(ctx, "nobody-"+suffix(), index+1_000_000, 2*time.Second)
	if err != nil {
		t.Fatalf("blocking query with a wait longer than the call timeout: %v", err)
	}
	t.Logf("answered after %s", time.Since(start).Round(time.Millisecond))
}
