package webui

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/assospaces/spaces/tenants/schema"
)

// healthz answers 200 when the database answers, for load balancers and `make dev`'s wait.
func (h *handler) healthz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := h.Pool.Ping(ctx); err != nil {
		h.Logger.ErrorContext(ctx, "health check: database", "err", err)
		http.Error(w, "database unavailable", http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Write([]byte("ok\n")) //nolint:errcheck
}

// readyz answers 200 when this server can serve: the database answers, every migration this
// binary knows is applied and its job workers run (a server started before `spaces migrate` ran, or beside an older
// database, is alive but not ready). Nomad's service check of the control plane asks it, so an
// instance that is not ready gets no traffic; /healthz stays for liveness.
func (h *handler) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	pending, err := schema.Pending(ctx, h.Pool)
	switch {
	case err != nil:
		h.Logger.ErrorContext(ctx, "readiness check: database", "err", err)
		w.WriteHeader(http.StatusServiceUnavailable)
		w.Write([]byte("not ready: the database does not answer\n")) //nolint:errcheck
	case h.WorkersRunning != nil && !h.WorkersRunning():
		w.WriteHeader(http.StatusServiceUnavailable)
		w.Write([]byte("not ready: the job workers are not running\n")) //nolint:errcheck
	case len(pending) > 0:
		h.Logger.WarnContext(ctx, "readiness check: migrations pending", "count", len(pending), "first", pending[0].Version)
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintf(w, "not ready: %d migrations not applied, from %04d (run spaces migrate)\n", len(pending), pending[0].Version)
	default:
		w.Write([]byte("ready\n")) //nolint:errcheck
	}
}
