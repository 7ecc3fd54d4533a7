package main

import (
	"io"
	"log/slog"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/assospaces/spaces/jobs"
	"github.com/assospaces/spaces/webui"
)

// apiServer serves the real web handler (UI and JSON API) on a test database, with a River client
// that only inserts jobs: the operators' commands are run against it.
func apiServer(t *testing.T, pool *pgxpool.Pool) *httptest.Server {
	t.Helper()
	jc, err := jobs.NewInsertClient(pool, nil)
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := url.Parse("http://spaces.test")
	h, err := webui.New(webui.Options{Pool: pool, Jobs: jc, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		PublicURL: pub, BaseDomain: "spaces.test", SecretKey: []byte(strings.Repeat("k", 32))})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}
