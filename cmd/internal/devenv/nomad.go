package devenv

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Nomad is a single-node Nomad agent (server and client) bound to 127.0.0.1 with the raw_exec
// driver enabled.
//
// By default it is a `nomad agent -dev`: it keeps its state in memory, starts in about 1.5 s and
// is meant to be thrown away (make test). With Persistent it is a regular agent whose state lives
// in Dir/data and survives restarts (make dev): jobs and their versions, Variables, and the
// client's allocations, which the agent starts again by itself.
type Nomad struct {
	// Bin is the nomad binary (see .ci/build-nomad).
	Bin string
	// Dir holds the agent's config, data directory and log.
	Dir string
	// HTTPPort is the API port. A dev agent's RPC and Serf ports are picked free; a persistent
	// agent keeps the ones it was first given (see ports).
	HTTPPort int
	// Persistent runs a regular agent that keeps its state in Dir/data instead of a dev agent.
	Persistent bool

	cmd     *exec.Cmd
	done    chan error
	started time.Time
}

// Addr is the agent's HTTP address, the value for NOMAD_ADDR.
func (n *Nomad) Addr() string { return fmt.Sprintf("http://127.0.0.1:%d", n.HTTPPort) }

func (n *Nomad) configPath() string { return filepath.Join(n.Dir, "agent.hcl") }
func (n *Nomad) logPath() string    { return filepath.Join(n.Dir, "nomad.log") }
func (n *Nomad) pidPath() string    { return filepath.Join(n.Dir, "nomad.pid") }

// nomadConfig is the agent configuration, the same for a dev and a persistent agent (-dev sets
// the same server and client blocks). The cloud fingerprinters are denied because this machine's
// environment (AWS_CA_BUNDLE) makes them fail the agent's start. A regular agent refuses to
// advertise a loopback address unless told to. Each space's data volume is a dynamic host volume
// made by Nomad's built-in mkdir plugin: a directory under host_volumes_dir, inside the agent's
// data directory, so that it goes with the agent's state (kept by make dev, thrown away by
// make test); host_volume_plugin_dir is where plugins other than mkdir would be.
const nomadConfig = `
bind_addr            = "127.0.0.1"
data_dir             = %[1]q
log_level            = "WARN"
disable_update_check = true
ports {
  http = %[2]d
  rpc  = %[3]d
  serf = %[4]d
}
advertise {
  http = "127.0.0.1"
  rpc  = "127.0.0.1"
  serf = "127.0.0.1"
}
server {
  enabled          = true
  bootstrap_expect = 1
}
client {
  enabled                = %[5]t
  network_interface      = "lo"
  host_volumes_dir       = %[6]q
  host_volume_plugin_dir = %[7]q
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

// agentPorts are the agent's RPC and Serf ports.
type agentPorts struct {
	RPC  int `json:"rpc"`
	Serf int `json:"serf"`
}

// Start writes the config, starts the agent and waits until its node is ready with raw_exec.
func (n *Nomad) Start(ctx context.Context, logger *slog.Logger) error {
	if n.Bin == "" {
		return fmt.Errorf("no nomad binary: set SPACES_NOMAD_BIN (make builds it with .ci/build-nomad)")
	}
	data := filepath.Join(n.Dir, "data")
	if err := os.MkdirAll(data, 0o700); err != nil {
		return err
	}
	n.stopLeftover()
	ports, err := n.ports()
	if err != nil {
		return err
	}
	if n.Persistent && !hasRaftSnapshot(data) {
		logger.InfoContext(ctx, "initialising nomad server state", "dir", data)
		if err := n.seedSnapshot(ctx, logger, data, ports); err != nil {
			return err
		}
	}
	if err := n.launch(ctx, logger, data, ports, true); err != nil {
		return err
	}
	// A persistent agent whose latest snapshot lacks its keyring (it should not happen, see
	// seedSnapshot) has its node ready only at the client's second try, 15 to 30 s later.
	limit := 60 * time.Second
	if n.Persistent {
		limit = 90 * time.Second
	}
	return n.waitFor(ctx, limit, "node ready with raw_exec and the mkdir volume plugin", n.nodeReady)
}

// ports are the RPC and Serf ports. A persistent agent keeps them in Dir/ports.json across runs,
// because its server's raft configuration records its own address. They are HTTPPort+1 and +2
// when those are free the first time (4647 and 4648 for the default 4646, as Nomad's own defaults).
func (n *Nomad) ports() (agentPorts, error) {
	var p agentPorts
	path := filepath.Join(n.Dir, "ports.json")
	if n.Persistent {
		if b, err := os.ReadFile(path); err == nil {
			if err := json.Unmarshal(b, &p); err != nil || p.RPC == 0 || p.Serf == 0 {
				return p, fmt.Errorf("%s: want {\"rpc\": PORT, \"serf\": PORT} (%v)", path, err)
			}
			return p, nil
		}
	}
	pick := func(want int) (int, error) {
		if n.Persistent && want < 65536 {
			if l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", want)); err == nil {
				l.Close()
				return want, nil
			}
		}
		return FreePort()
	}
	var err error
	if p.RPC, err = pick(n.HTTPPort + 1); err != nil {
		return p, err
	}
	if p.Serf, err = pick(n.HTTPPort + 2); err != nil {
		return p, err
	}
	if p.Serf == p.RPC {
		if p.Serf, err = FreePort(); err != nil {
			return p, err
		}
	}
	if n.Persistent {
		b, _ := json.Marshal(p)
		if err := os.WriteFile(path, b, 0o600); err != nil {
			return p, err
		}
	}
	return p, nil
}

// hasRaftSnapshot tells whether the server state in data has a raft snapshot (Nomad keeps them in
// server/raft/snapshots).
func hasRaftSnapshot(data string) bool {
	entries, _ := os.ReadDir(filepath.Join(data, "server", "raft", "snapshots"))
	return len(entries) > 0
}

// seedSnapshot runs the server alone the first time, until it has made its keyring, and saves its
// state in a raft snapshot.
//
// The client signs in with an identity signed by the server's keyring, and tries once, about half
// a second after the agent starts; when refused, it tries again only 15 to 30 s later. A restarted
// server has the state of its latest raft snapshot back at once, but what it logged since then
// comes back only when it is leader again, about a second later; on the very first start the
// keyring is made only after that election. So the first start runs the server alone until its
// keyring exists and snapshots it, and Stop takes a snapshot too: a restarted agent's node is then
// ready in about 2 s on this machine (the dev agent's in 1.5 s).
func (n *Nomad) seedSnapshot(ctx context.Context, logger *slog.Logger, data string, ports agentPorts) error {
	if err := n.launch(ctx, logger, data, ports, false); err != nil {
		return err
	}
	err := n.waitFor(ctx, 60*time.Second, "keyring", n.keyringReady)
	if err == nil {
		err = n.snapshot(30 * time.Second)
	}
	n.interrupt()
	if err == nil && !hasRaftSnapshot(data) {
		err = fmt.Errorf("nomad made no raft snapshot in %s", data)
	}
	return err
}

// launch writes the config and starts the agent, with its client or not.
func (n *Nomad) launch(ctx context.Context, logger *slog.Logger, data string, ports agentPorts, client bool) error {
	volumes, plugins := filepath.Join(data, "host_volumes"), filepath.Join(data, "host_volume_plugins")
	if err := os.MkdirAll(plugins, 0o700); err != nil {
		return err
	}
	cfg := fmt.Appendf(nil, nomadConfig, data, n.HTTPPort, ports.RPC, ports.Serf, client, volumes, plugins)
	if err := os.WriteFile(n.configPath(), cfg, 0o600); err != nil {
		return err
	}
	logf, err := os.OpenFile(n.logPath(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	args := []string{"agent", "-config", n.configPath()}
	if !n.Persistent {
		args = []string{"agent", "-dev", "-config", n.configPath()}
	}
	n.cmd = exec.Command(n.Bin, args...)
	n.cmd.Stdout, n.cmd.Stderr = logf, logf
	// Its own process group, so a Ctrl-C in the terminal reaches us first and we stop it in order.
	n.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	n.started = time.Now()
	if err := n.cmd.Start(); err != nil {
		logf.Close()
		n.cmd = nil
		return fmt.Errorf("start nomad: %w", err)
	}
	_ = os.WriteFile(n.pidPath(), []byte(strconv.Itoa(n.cmd.Process.Pid)), 0o600)
	n.done = make(chan error, 1)
	go func() { n.done <- n.cmd.Wait(); logf.Close() }()
	logger.InfoContext(ctx, "nomad agent starting", "addr", n.Addr(), "persistent", n.Persistent, "client", client, "log", n.logPath())
	return nil
}

// stopLeftover stops an agent that a killed session left running on this folder: it would hold
// the ports. Its raw_exec tasks live on and the next agent takes them back.
func (n *Nomad) stopLeftover() {
	b, err := os.ReadFile(n.pidPath())
	if err != nil {
		return
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return
	}
	alive := func() bool {
		cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		stat, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		zombie := bytes.Contains(stat, []byte(") Z "))
		return err == nil && !zombie && bytes.Contains(cmdline, []byte(n.configPath()))
	}
	if !alive() {
		return
	}
	_ = syscall.Kill(pid, syscall.SIGINT)
	for deadline := time.Now().Add(15 * time.Second); alive(); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			_ = syscall.Kill(-pid, syscall.SIGKILL)
			_ = syscall.Kill(pid, syscall.SIGKILL)
			time.Sleep(200 * time.Millisecond)
			return
		}
	}
}

func (n *Nomad) waitFor(ctx context.Context, limit time.Duration, what string, ready func(context.Context) bool) error {
	deadline := time.Now().Add(limit)
	for {
		select {
		case err := <-n.done:
			n.done <- err
			return fmt.Errorf("nomad agent exited during start (log: %s): %v", n.logPath(), err)
		default:
		}
		if ready(ctx) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("nomad agent: no %s after %s (log: %s)", what, limit, n.logPath())
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// nodeReady tells whether a node is ready with raw_exec and the mkdir host volume plugin, and has
// signed in since this agent started (a persistent server first shows its nodes as they were when
// it stopped).
func (n *Nomad) nodeReady(ctx context.Context) bool {
	var nodes []struct {
		ID, Status string
		Drivers    map[string]struct{ Healthy bool }
	}
	if n.getJSON(ctx, "/v1/nodes?resources=false", &nodes) != nil {
		return false
	}
	for _, node := range nodes {
		if node.Status != "ready" || !node.Drivers["raw_exec"].Healthy {
			continue
		}
		var full struct {
			StatusUpdatedAt int64
			Attributes      map[string]string
		}
		if n.getJSON(ctx, "/v1/node/"+url.PathEscape(node.ID), &full) == nil && full.StatusUpdatedAt >= n.started.Unix() &&
			full.Attributes["plugins.host_volume.mkdir.version"] != "" {
			return true
		}
	}
	return false
}

// keyringReady tells whether the server has a leader and an active root key.
func (n *Nomad) keyringReady(ctx context.Context) bool {
	var keys []struct{ State string }
	if n.getJSON(ctx, "/v1/operator/keyring/keys", &keys) != nil {
		return false
	}
	for _, k := range keys {
		if k.State == "active" {
			return true
		}
	}
	return false
}

// snapshot makes the server write a raft snapshot of its whole state into its data directory
// (the snapshot it streams back is dropped), so that the next start restores the state at once.
func (n *Nomad) snapshot(limit time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, n.Addr()+"/v1/operator/snapshot", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("nomad snapshot: %w", err)
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return fmt.Errorf("nomad snapshot: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("nomad snapshot: %s", resp.Status)
	}
	return nil
}

// Stop stops the agent and makes sure that no raw_exec task outlives it.
//
// A dev agent's jobs are stopped first (it keeps no state between runs) and whatever still
// outlives it is reaped and reported. A persistent agent keeps its jobs registered, so that the
// next start runs them again: it takes a snapshot (see seedSnapshot), stops, and its tasks, which
// a regular client leaves running by design, are reaped; the next agent finds them gone and starts
// them again.
func (n *Nomad) Stop() error {
	if n.cmd == nil || n.cmd.Process == nil {
		return nil
	}
	var errs []error
	if n.Persistent {
		if err := n.snapshot(30 * time.Second); err != nil {
			errs = append(errs, err)
		}
	} else {
		n.stopJobs(60 * time.Second)
	}
	n.interrupt()
	killed, err := reapUnder(n.Dir)
	errs = append(errs, err)
	if killed > 0 && !n.Persistent {
		errs = append(errs, fmt.Errorf("%d processes outlived the nomad agent and were killed", killed))
	}
	return errors.Join(errs...)
}

// interrupt interrupts the agent and waits for it to leave, killing it after 15 s.
func (n *Nomad) interrupt() {
	if n.cmd == nil || n.cmd.Process == nil {
		return
	}
	_ = n.cmd.Process.Signal(os.Interrupt)
	select {
	case <-n.done:
	case <-time.After(15 * time.Second):
		_ = syscall.Kill(-n.cmd.Process.Pid, syscall.SIGKILL)
		<-n.done
	}
	n.cmd = nil
	_ = os.Remove(n.pidPath())
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
