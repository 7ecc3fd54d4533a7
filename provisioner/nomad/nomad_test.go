package nomad_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/assospaces/spaces/provisioner/nomad"
)

func client(t *testing.T) *nomad.Client {
	t.Helper()
	addr := os.Getenv("NOMAD_ADDR")
	if addr == "" {
		t.Fatal("NOMAD_ADDR is not set: these tests need a real Nomad agent (run them with `make test`)")
	}
	c, err := nomad.New(nomad.Config{Address: addr})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func suffix() string {
	b := make([]byte, 4)
	rand.Read(b) //nolint:errcheck
	return hex.EncodeToString(b)
}

func TestVariableCheckAndSet(t *testing.T) {
	ctx := context.Background()
	c := client(t)
	path := nomad.VariablePath("space-var" + suffix())
	t.Cleanup(func() { c.DeleteVariable(context.Background(), path) }) //nolint:errcheck

	if _, err := c.GetVariable(ctx, path); !errors.Is(err, nomad.ErrNotFound) {
		t.Fatalf("get missing: %v", err)
	}
	v, err := c.CreateVariable(ctx, path, map[string]string{"a": "1"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateVariable(ctx, path, map[string]string{"a": "2"}); !errors.Is(err, nomad.ErrConflict) {
		t.Fatalf("second create: %v", err)
	}
	got, err := c.GetVariable(ctx, path)
	if err != nil || got.Items["a"] != "1" || got.ModifyIndex != v.ModifyIndex {
		t.Fatalf("get = %+v, %v", got, err)
	}
	got.Items["b"] = "2"
	if _, err := c.UpdateVariable(ctx, got); err != nil {
		t.Fatal(err)
	}
	if _, err := c.UpdateVariable(ctx, got); !errors.Is(err, nomad.ErrConflict) {
		t.Fatalf("stale update: %v", err)
	}
	if err := c.DeleteVariable(ctx, path); err != nil {
		t.Fatal(err)
	}
	if err := c.DeleteVariable(ctx, path); err != nil {
		t.Fatalf("delete twice: %v", err)
	}
}

func TestJobLifecycle(t *testing.T) {
	ctx := context.Background()
	c := client(t)
	if _, err := c.ParseJob(ctx, `job "x" { group "g" {`); !errors.Is(err, nomad.ErrInvalidJob) {
		t.Fatalf("broken HCL: %v", err)
	}
	id := "space-job" + suffix()
	job, err := c.ParseJob(ctx, `job "`+id+`" {
  datacenters = ["*"]
  group "g" {
    network {
      port "http" {}
    }
    service {
      name     = "`+id+`"
      port     = "http"
      provider = "nomad"
    }
    task "t" {
      driver = "raw_exec"
      config {
        command = "/bin/sleep"
        args    = ["600"]
      }
      resources {
        cpu    = 10
        memory = 16
      }
    }
  }
}`)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Job(ctx, id); !errors.Is(err, nomad.ErrNotFound) {
		t.Fatalf("job before register: %v", err)
	}
	if _, err := c.RegisterJob(ctx, job); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.DeregisterJob(context.Background(), id, true) }) //nolint:errcheck

	// Blocking queries: wait for a running allocation, then for its service registration.
	var index uint64
	deadline := time.Now().Add(2 * time.Minute)
	for running := false; !running; {
		if time.Now().After(deadline) {
			t.Fatal("no running allocation")
		}
		allocs, next, err := c.Allocations(ctx, id, index, 10*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		index = next
		for _, a := range allocs {
			running = running || a.ClientStatus == "running"
		}
	}
	index = 0
	for found := false; !found; {
		if time.Now().After(deadline) {
			t.Fatal("no service registration")
		}
		regs, next, err := c.Services(ctx, id, index, 10*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		index = next
		found = len(regs) > 0 && regs[0].Port > 0
	}
	if err := c.DeregisterJob(ctx, id, true); err != nil {
		t.Fatal(err)
	}
	if err := c.DeregisterJob(ctx, id, true); err != nil {
		t.Fatalf("deregister twice: %v", err)
	}
}

// A burst of calls, more than Nomad takes at once from one address (http_max_conns_per_client,
// 100 by default), waits for the client's connections instead of being refused with 429. Each
// call here is a blocking query that holds its connection for a moment.
func TestBurstWaitsForConnections(t *testing.T) {
	ctx := context.Background()
	c := client(t)
	jobID := "space-burst" + suffix()
	var wg sync.WaitGroup
	errs := make(chan error, 150)
	for range 150 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, _, err := c.Allocations(ctx, jobID, 1<<40, 300*time.Millisecond); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}
