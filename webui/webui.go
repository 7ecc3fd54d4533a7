// Package webui serves people and programs over HTTP: the public application form and status
// pages, the moderators' pages, and the operators' JSON API (/api/v1). Handlers call the domain
// packages; nothing here talks to Nomad.
package webui

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/url"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/assospaces/spaces/jobs"
	"github.com/assospaces/spaces/quota"
)

// Options are the server's dependencies and settings.
type Options struct {
	Pool          *pgxpool.Pool
	Jobs          *jobs.Client
	Logger        *slog.Logger
	PublicURL     *url.URL
	BaseDomain    string
	DefaultLimits quota.Limits
	Capacity      int
	ApplyPerHour  int
}

// handler holds what every handler needs.
type handler struct {
	Options
}

// New builds the HTTP handler. Templates are parsed here, so a broken one fails the start.
func New(opts Options) (http.Handler, error) {
	if opts.Pool == nil || opts.Logger == nil || opts.PublicURL == nil {
		return nil, fmt.Errorf("webui: Pool, Logger and PublicURL are required")
	}
	h := &handler{Options: opts}
	mux := http.NewServeMux()
	h.routes(mux)
	return mux, nil
}
