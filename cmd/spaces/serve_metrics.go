package main

import (
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/assospaces/spaces/webui"
)

// listenMetrics opens the metrics listener (SPACES_METRICS_ADDR) and builds its server. On a
// loopback address a scrape needs nothing more (only local users reach it); on any other, it
// needs an API token, as the JSON API does, so /metrics is never open to the network.
func listenMetrics(cfg *Config, m *webui.Metrics, logger *slog.Logger) (*http.Server, net.Listener, error) {
	ln, err := net.Listen("tcp", cfg.MetricsAddr)
	if err != nil {
		return nil, nil, &ConfigError{Env: "SPACES_METRICS_ADDR", Flag: "metrics-addr", Msg: fmt.Sprintf("cannot listen on %s: %v", cfg.MetricsAddr, err)}
	}
	open := false
	if a, ok := ln.Addr().(*net.TCPAddr); ok && a.IP.IsLoopback() {
		open = true
	}
	logger.Info("serving metrics", "addr", ln.Addr().String(), "token_required", !open)
	return &http.Server{
		Handler:           m.MetricsHandler(open),
		ReadHeaderTimeout: 10 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}, ln, nil
}
