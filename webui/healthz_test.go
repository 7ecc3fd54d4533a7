package webui

import (
	"context"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/assospaces/spaces/tenants/schema"
)

// /readyz is 200 only while the database answers and every migration is applied; /healthz
// only asks the database.
func TestReadyz(t *testing.T) {
	e := newTestEnv(t, envOptions{})
	ctx := context.Background()
	resp, body := e.get(e.client, "/readyz")
	mustStatus(t, resp, body, http.StatusOK)
	if body != "ready\n" {
		t.Errorf("GET /readyz body = %q", body)
	}

	// The latest migration undone by hand: alive, not ready, and saying why.
	migrations, err := schema.Migrations()
	if err != nil {
		t.Fatal(err)
	}
	latest := migrations[len(migrations)-1]
	if _, err := e.pool.Exec(ctx, `DELETE FROM spaces_schema_migrations WHERE version = $1`, latest.Version); err != nil {
		t.Fatal(err)
	}
	resp, body = e.get(e.client, "/readyz")
	mustStatus(t, resp, body, http.StatusServiceUnavailable)
	if !strings.Contains(body, "1 migrations not applied") || !strings.Contains(body, "spaces migrate") {
		t.Errorf("GET /readyz with a migration pending = %q", body)
	}
	resp, body = e.get(e.client, "/healthz")
	mustStatus(t, resp, body, http.StatusOK)
	if _, err := e.pool.Exec(ctx, `INSERT INTO spaces_schema_migrations (version, name) VALUES ($1, $2)`, latest.Version, latest.Name); err != nil {
		t.Fatal(err)
	}
	resp, body = e.get(e.client, "/readyz")
	mustStatus(t, resp, body, http.StatusOK)

	// No database: neither alive nor ready.
	e.pool.Close()
	resp, body = e.get(e.client, "/readyz")
	mustStatus(t, resp, body, http.StatusServiceUnavailable)
	if !strings.Contains(body, "database") {
		t.Errorf("GET /readyz without a database = %q", body)
	}
	resp, body = e.get(e.client, "/healthz")
	mustStatus(t, resp, body, http.StatusServiceUnavailable)
}

// A server whose job workers do not run (not started yet, or stopping) is not ready.
func TestReadyzAsksTheWorkers(t *testing.T) {
	var running atomic.Bool
	e := newTestEnv(t, envOptions{configure: func(o *Options) { o.WorkersRunning = running.Load }})
	resp, body := e.get(e.client, "/readyz")
	mustStatus(t, resp, body, http.StatusServiceUnavailable)
	if body != "not ready: the job workers are not running\n" {
		t.Errorf("GET /readyz with the workers stopped = %q", body)
	}
	running.Store(true)
	resp, body = e.get(e.client, "/readyz")
	mustStatus(t, resp, body, http.StatusOK)
}
