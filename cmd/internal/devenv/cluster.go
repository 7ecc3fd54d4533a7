package devenv

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// Cluster is a Nomad cluster of several agents on this one machine: one server and Clients
// client agents, each with its own data directory (hence its own node identity, allocation and
// host volume folders), its own ports and its own node name, all bound to 127.0.0.1, raw_exec and
// the mkdir host volume plugin enabled on every client. The tests that need to see spaces spread
// over nodes, or a node lost, run against it; the other tests use the single dev agent.
//
// It is throwaway: a regular (not -dev) agent each, since -dev makes an agent server and client
// at once. Starting it takes about 5 s here: the server elects itself and makes its keyring (about
// 3 s), then the clients start together and sign in. Unlike the dev agent's, a regular client
// reports a new host volume with its next node update, 5 to 10 s after it is made.
//
// Each client agent lives in Dir/<node name>: agent.hcl (its config, enough to start it again with
// `nomad agent -config`), nomad.pid (its process), data/ and nomad.log. A test may kill one and
// start it again from its agent.hcl (writing the new process's id in nomad.pid): Stop stops
// whatever runs there.
type Cluster struct {
	// Bin is the nomad binary (see .ci/build-nomad).
	Bin string
	// Dir holds one folder per agent.
	Dir string
	// Clients is the number of client agents (nodes), 2 when zero.
	Clients int

	server  *clusterAgent
	clients []*clusterAgent
	// tmp is removed on Stop when StartCluster made it.
	tmp string
}

// StartCluster starts a throwaway cluster of two clients in a new temporary folder (in memory
// when /dev/shm has room, as the single agent's). On error the returned Cluster, when not nil,
// still holds what started and must be stopped.
func StartCluster(ctx context.Context, nomadBin string, logger *slog.Logger) (*Cluster, error) {
	tmp, err := os.MkdirTemp(throwawayParent(), "spaces-cluster-")
	if err != nil {
		return nil, err
	}
	c := &Cluster{Bin: nomadBin, Dir: tmp, tmp: tmp}
	return c, c.Start(ctx, logger)
}

// ClusterClientName is the node name of the i-th client agent (from 1), also its folder's name.
func ClusterClientName(i int) string { return fmt.Sprintf("client-%d", i) }

// Addr is the server's HTTP address, the NOMAD_ADDR for programs driving the cluster.
func (c *Cluster) Addr() string { return c.server.addr() }

// clusterAgent is one agent process of the cluster.
type clusterAgent struct {
	name           string
	dir            string
	http, rpc, srf int
	cmd            *exec.Cmd
	done           chan error
}

func (a *clusterAgent) addr() string       { return fmt.Sprintf("http://127.0.0.1:%d", a.http) }
func (a *clusterAgent) configPath() string { return filepath.Join(a.dir, "agent.hcl") }
func (a *clusterAgent) logPath() string    { return filepath.Join(a.dir, "nomad.log") }
func (a *clusterAgent) pidPath() string    { return filepath.Join(a.dir, "nomad.pid") }

// clusterCommon is the part of every agent's config that the single agent's has too (see
// nomadConfig): loopback only, the cloud fingerprinters denied.
const clusterCommon = `
name                 = %[1]q
bind_addr            = "127.0.0.1"
data_dir             = %[2]q
log_level            = "WARN"
disable_update_check = true
ports {
  http = %[3]d
  rpc  = %[4]d
  serf = %[5]d
}
advertise {
  http = "127.0.0.1"
  rpc  = "127.0.0.1"
  serf = "127.0.0.1"
}
`

// clusterServerConfig makes the server notice a lost client within seconds rather than Nomad's
// default 10 s TTL plus 10 s grace: a client heartbeats every 5 s or so here and is marked down
// 5 s after a missed one. Production keeps Nomad's defaults.
const clusterServerConfig = `
server {
  enabled           = true
  bootstrap_expect  = 1
  min_heartbeat_ttl = "5s"
  heartbeat_grace   = "5s"
}
`

// clusterClientConfig is a client of the server at %[1]s. Every node of a machine has the same
// address, so each client hands out dynamic ports from its own range, outside the dev agent's
// (Nomad's default 20000–32000) and the kernel's ephemeral ports: two allocations on two nodes
// must never get the same port. Each client keeps its tasks in its own cgroup parent, so one
// never takes the other's cgroups for leftovers.
const clusterClientConfig = `
client {
  enabled                = true
  servers                = [%[1]q]
  network_interface      = "lo"
  min_dynamic_port       = %[2]d
  max_dynamic_port       = %[3]d
  cgroup_parent          = %[4]q
  host_volumes_dir       = %[5]q
  host_volume_plugin_dir = %[6]q
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

// clusterPortsPerClient is the width of each client's range of dynamic ports.
const clusterPortsPerClient = 1000

// clusterPortBase is the first dynamic port of the i-th client (from 1): ranges between 10000
// and 19999, picked by the server's port, so that two clusters on one machine (two test runs at
// once) rarely share one.
func clusterPortBase(serverPort, i int) int {
	return 10000 + (serverPort%5)*2*clusterPortsPerClient + ((i-1)%2)*clusterPortsPerClient
}

// Start starts the server, waits until it leads with a keyring (a client signs in with an
// identity the keyring signs; one that tries too early waits 15 to 30 s to try again), then
// starts the clients together and waits until every node is ready with raw_exec and mkdir.
func (c *Cluster) Start(ctx context.Context, logger *slog.Logger) error {
	if c.Bin == "" {
		return fmt.Errorf("no nomad binary: set SPACES_NOMAD_BIN (make builds it with .ci/build-nomad)")
	}
	if c.Clients == 0 {
		c.Clients = 2
	}
	var err error
	if c.server, err = c.newAgent("server"); err != nil {
		return err
	}
	cfg := fmt.Sprintf(clusterCommon, c.server.name, filepath.Join(c.server.dir, "data"),
		c.server.http, c.server.rpc, c.server.srf) + clusterServerConfig
	if err := c.server.launch(ctx, logger, c.Bin, cfg); err != nil {
		return err
	}
	probe := &Nomad{HTTPPort: c.server.http}
	if err := c.server.waitFor(ctx, 60*time.Second, "leader with a keyring", probe.keyringReady); err != nil {
		return err
	}
	for i := 1; i <= c.Clients; i++ {
		a, err := c.newAgent(ClusterClientName(i))
		if err != nil {
			return err
		}
		data := filepath.Join(a.dir, "data")
		plugins := filepath.Join(data, "host_volume_plugins")
		if err := os.MkdirAll(plugins, 0o700); err != nil {
			return err
		}
		low := clusterPortBase(c.server.http, i)
		cfg := fmt.Sprintf(clusterCommon, a.name, data, a.http, a.rpc, a.srf) +
			fmt.Sprintf(clusterClientConfig, fmt.Sprintf("127.0.0.1:%d", c.server.rpc), low, low+clusterPortsPerClient-1,
				fmt.Sprintf("/nomad-cluster-%d-%s", c.server.http, a.name), filepath.Join(data, "host_volumes"), plugins)
		if err := a.launch(ctx, logger, c.Bin, cfg); err != nil {
			return err
		}
		c.clients = append(c.clients, a)
	}
	for _, a := range c.clients {
		ready := func(ctx context.Context) bool { return c.nodeReady(ctx, a.name) }
		if err := a.waitFor(ctx, 60*time.Second, "node ready with raw_exec and the mkdir volume plugin", ready); err != nil {
			return err
		}
	}
	logger.InfoContext(ctx, "nomad cluster ready", "addr", c.Addr(), "clients", c.Clients, "dir", c.Dir)
	return nil
}

// newAgent makes an agent's folder and picks its ports.
func (c *Cluster) newAgent(name string) (*clusterAgent, error) {
	a := &clusterAgent{name: name, dir: filepath.Join(c.Dir, name)}
	if err := os.MkdirAll(filepath.Join(a.dir, "data"), 0o700); err != nil {
		return nil, err
	}
	for _, p := range []*int{&a.http, &a.rpc, &a.srf} {
		port, err := FreePort()
		if err != nil {
			return nil, err
		}
		*p = port
	}
	return a, nil
}

// launch writes the agent's config and starts it.
func (a *clusterAgent) launch(ctx context.Context, logger *slog.Logger, bin, cfg string) error {
	if err := os.WriteFile(a.configPath(), []byte(cfg), 0o600); err != nil {
		return err
	}
	logf, err := os.OpenFile(a.logPath(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	a.cmd = exec.Command(bin, "agent", "-config", a.configPath())
	a.cmd.Stdout, a.cmd.Stderr = logf, logf
	a.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := a.cmd.Start(); err != nil {
		logf.Close()
		a.cmd = nil
		return fmt.Errorf("start nomad %s: %w", a.name, err)
	}
	_ = os.WriteFile(a.pidPath(), []byte(strconv.Itoa(a.cmd.Process.Pid)), 0o600)
	a.done = make(chan error, 1)
	go func() { a.done <- a.cmd.Wait(); logf.Close() }()
	logger.InfoContext(ctx, "nomad cluster agent starting", "agent", a.name, "addr", a.addr(), "log", a.logPath())
	return nil
}

func (a *clusterAgent) waitFor(ctx context.Context, limit time.Duration, what string, ready func(context.Context) bool) error {
	deadline := time.Now().Add(limit)
	for {
		select {
		case err := <-a.done:
			a.done <- err
			return fmt.Errorf("nomad %s exited during start (log: %s): %v", a.name, a.logPath(), err)
		default:
		}
		if ready(ctx) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("nomad %s: no %s after %s (log: %s)", a.name, what, limit, a.logPath())
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// nodeReady tells whether the server sees the node named name ready, with raw_exec healthy and
// the mkdir host volume plugin fingerprinted.
func (c *Cluster) nodeReady(ctx context.Context, name string) bool {
	probe := &Nomad{HTTPPort: c.server.http}
	var nodes []struct {
		ID, Name, Status string
		Drivers          map[string]struct{ Healthy bool }
	}
	if probe.getJSON(ctx, "/v1/nodes", &nodes) != nil {
		return false
	}
	for _, n := range nodes {
		if n.Name != name || n.Status != "ready" || !n.Drivers["raw_exec"].Healthy {
			continue
		}
		var full struct{ Attributes map[string]string }
		if probe.getJSON(ctx, "/v1/node/"+url.PathEscape(n.ID), &full) == nil &&
			full.Attributes["plugins.host_volume.mkdir.version"] != "" {
			return true
		}
	}
	return false
}

// Stop stops every job, then the clients and the server, and kills whatever task outlives them
// (a raw_exec task outlives an agent killed by a test, by design). A client a test started again
// is found by its nomad.pid.
func (c *Cluster) Stop() error {
	var errs []error
	if c.server != nil && c.server.cmd != nil {
		(&Nomad{HTTPPort: c.server.http}).stopJobs(60 * time.Second)
	}
	var wg sync.WaitGroup
	for _, a := range c.clients {
		wg.Go(func() {
			a.interrupt()
			(&Nomad{Dir: a.dir}).stopLeftover()
		})
	}
	wg.Wait()
	if c.server != nil {
		c.server.interrupt()
	}
	if c.Dir != "" {
		if _, err := reapUnder(c.Dir); err != nil {
			errs = append(errs, err)
		}
	}
	if c.tmp != "" {
		if err := os.RemoveAll(c.tmp); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// interrupt interrupts the agent it started and waits for it to leave, killing it after 15 s.
func (a *clusterAgent) interrupt() {
	if a.cmd == nil || a.cmd.Process == nil {
		return
	}
	_ = a.cmd.Process.Signal(os.Interrupt)
	select {
	case <-a.done:
	case <-time.After(15 * time.Second):
		_ = syscall.Kill(-a.cmd.Process.Pid, syscall.SIGKILL)
		<-a.done
	}
	a.cmd = nil
}

// ClusterVars are the environment variables that point tests at the cluster: the server's HTTP
// address, and the folder holding each client agent's folder (named after its node, see
// ClusterClientName), for tests that kill a client and start it again.
func ClusterVars(c *Cluster) []string {
	return []string{
		"SPACES_TEST_NOMAD_CLUSTER_ADDR=" + c.Addr(),
		"SPACES_TEST_NOMAD_CLUSTER_DIR=" + c.Dir,
	}
}
