package main

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"os/exec"
	"strings"
	"testing"

	"github.com/assospaces/spaces/tenants/pgtest"
	"github.com/assospaces/spaces/webui"
)

// TestMetricsListenerIsOpenOnLoopbackOnly: /metrics answers a scrape without a token on a
// loopback address only; on any other address it asks for an API token.
func TestMetricsListenerIsOpenOnLoopbackOnly(t *testing.T) {
	pool, _ := pgtest.New(t)
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	m := webui.NewMetrics(pool, logger, nil)
	for addr, want := range map[string]int{"127.0.0.1:0": http.StatusOK, "0.0.0.0:0": http.StatusUnauthorized} {
		t.Run(addr, func(t *testing.T) {
			srv, ln, err := listenMetrics(&Config{MetricsAddr: addr}, m, logger)
			if err != nil {
				t.Fatal(err)
			}
			go srv.Serve(ln) //nolint:errcheck
			defer srv.Close()
			port := ln.Addr().String()[strings.LastIndex(ln.Addr().String(), ":"):]
			resp, err := http.Get("http://127.0.0.1" + port + "/metrics")
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != want {
				t.Fatalf("GET /metrics on %s: %d, want %d\n%s", addr, resp.StatusCode, want, body)
			}
			if want == http.StatusOK && !strings.Contains(string(body), "# TYPE spaces_spaces gauge") {
				t.Errorf("GET /metrics on %s lacks spaces_spaces:\n%s", addr, body)
			}
		})
	}
}

// TestMetricsAddressErrors: a malformed SPACES_METRICS_ADDR, or the web UI's own address, is a
// usage error naming the setting.
func TestMetricsAddressErrors(t *testing.T) {
	good := []string{"SPACES_DATABASE_URL=postgres://u:p@127.0.0.1:1/db", "SPACES_SECRET_KEY=" + strings.Repeat("A", 43) + "="}
	for name, tc := range map[string]struct {
		env  []string
		want string
	}{
		"not host:port": {[]string{"SPACES_METRICS_ADDR=9464"}, "SPACES_METRICS_ADDR (--metrics-addr): not a HOST:PORT address"},
		"the web UI's":  {[]string{"SPACES_LISTEN=127.0.0.1:8080", "SPACES_METRICS_ADDR=127.0.0.1:8080"}, "SPACES_METRICS_ADDR (--metrics-addr): is SPACES_LISTEN's address"},
	} {
		t.Run(name, func(t *testing.T) {
			var stderr bytes.Buffer
			cmd := spacesCommand(t, append(good, tc.env...), "serve")
			cmd.Stderr = &stderr
			err := cmd.Run()
			exit, ok := err.(*exec.ExitError)
			if !ok || exit.ExitCode() != 2 || !strings.Contains(stderr.String(), tc.want) {
				t.Fatalf("exit %v, stderr %q; want code 2 and %q", err, stderr.String(), tc.want)
			}
		})
	}
}
