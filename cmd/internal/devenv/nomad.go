package devenv

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"
)

// Nomad is a `nomad agent -dev` bound to 127.0.0.1 with the raw_exec driver enabled.
type Nomad struct {
	// Bin is the nomad binary (see .ci/build-nomad).
	Bin string
	// Dir holds the agent's config, data directory and log.
	Dir string
	// HTTPPort is the API port; RPC and Serf ports are picked free.
	HTTPPort int

	cmd  *exec.Cmd
	done chan error
}

// Addr is the agent's HTTP address, the value for NOMAD_ADDR.
func (n *Nomad) Addr() string { return fmt.Sprintf("http://127.0.0.1:%d", n.HTTPPort) }

// config is the agent configuration. The cloud fingerprinters are denied because this machine's
// environment (AWS_CA_BUNDLE) makes them fail the agent's start.
const nomadConfig = `
bind_addr = "127.0.0.1"
data_dir  = %q
log_level = "WARN"
ports {
  http = %d
  rpc  = %d
  serf = %d
}
client {
  network_interface = "lo"
  options = {
    "fingerprint.denylist" = "env_aws,env_gce,env_azure,env_digitalocean"
  }
}
plugin "raw_exec" {
  config {
    enabled = true
  }
}
`

// Start writes the config, starts the agent and waits until its node is ready with raw_exec.
func (n *Nomad) Start(ctx context.Context, logger *slog.Logger) error {
	if n.Bin == "" {
		return fmt.Errorf("no nomad binary: set SPACES_NOMAD_BIN (make builds it with .ci/build-nomad)")
	}
	rpc, err := FreePort()
	if err != nil {
		return err
	}
	serf, err := FreePort()
	if err != nil {
		return err
	}
	data := filepath.Join(n.Dir, "data")
	if err := os.MkdirAll(data, 0o700); err != nil {
		return err
	}
	cfg := filepath.Join(n.Dir, "agent.hcl")
	if err := os.WriteFile(cfg, fmt.Appendf(nil, nomadConfig, data, n.HTTPPort, rpc, serf), 0o600); err != nil {
		return err
	}
	logf, err := os.Create(filepath.Join(n.Dir, "nomad.log"))
	if err != nil {
		return err
	}
	n.cmd = exec.Command(n.Bin, "agent", "-dev", "-config", cfg)
	n.cmd.Stdout, n.cmd.Stderr = logf, logf
	// Its own process group, so a Ctrl-C in the terminal reaches us first and we stop it in order.
	n.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := n.cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("start nomad: %w", err)
	}
	n.done = make(chan error, 1)
	go func() { n.done <- n.cmd.Wait(); logf.Close() }()
	logger.InfoContext(ctx, "nomad agent starting", "addr", n.Addr(), "log", logf.Name())
	return n.waitReady(ctx, 60*time.Second)
}

func (n *Nomad) waitReady(ctx context.Context, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		select {
		case err := <-n.done:
			return fmt.Errorf("nomad agent exited during start (log: %s): %v", filepath.Join(n.Dir, "nomad.log"), err)
		default:
		}
		if n.nodeReady(ctx) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("nomad agent not ready after %s (log: %s)", limit, filepath.Join(n.Dir, "nomad.log"))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func (n *Nomad) nodeReady(ctx context.Context) bool {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, n.Addr()+"/v1/nodes?resources=false", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	var nodes []struct {
		Status  string
		Drivers map[string]struct{ Healthy bool }
	}
	if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&nodes) != nil {
		return false
	}
	for _, node := range nodes {
		if node.Status == "ready" && node.Drivers["raw_exec"].Healthy {
			return true
		}
	}
	return false
}

// Stop stops every job (so that raw_exec tasks do not outlive the agent), then interrupts the
// agent and waits for it to leave; a dev agent keeps no state between runs. What still outlives
// it is reaped (see reapUnder).
func (n *Nomad) Stop() error {
	if n.cmd == nil || n.cmd.Process == nil {
		return nil
	}
	n.stopJobs(60 * time.Second)
	_ = n.cmd.Process.Signal(os.Interrupt)
	select {
	case <-n.done:
	case <-time.After(15 * time.Second):
		_ = syscall.Kill(-n.cmd.Process.Pid, syscall.SIGKILL)
		<-n.done
	}
	return reapUnder(n.Dir)
}

// stopJobs deregisters every job and waits until no allocation is still running. Jobs are not
// purged: their allocations must stay listed for the wait to see them stop.
func (n *Nomad) stopJobs(limit time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	var jobs []struct{ ID, Namespace string }
	if n.getJSON(ctx, "/v1/jobs?namespace=*", &jobs) != nil {
		return
	}
	for _, j := range jobs {
		req, _ := http.NewRequestWithContext(ctx, http.MethodDelete,
			fmt.Sprintf("%s/v1/job/%s?namespace=%s", n.Addr(), url.PathEscape(j.ID), url.QueryEscape(j.Namespace)), nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
		}
	}
	for ctx.Err() == nil {
		var allocs []struct{ ClientStatus string }
		if n.getJSON(ctx, "/v1/allocations?namespace=*", &allocs) != nil {
			return
		}
		running := false
		for _, a := range allocs {
			if a.ClientStatus == "running" || a.ClientStatus == "pending" {
				running = true
			}
		}
		if !running {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func (n *Nomad) getJSON(ctx context.Context, path string, v any) error {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, n.Addr()+path, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", path, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}
