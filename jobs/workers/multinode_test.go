package workers_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	nomadapi "github.com/hashicorp/nomad/api"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/assospaces/spaces/provisioner"
	"github.com/assospaces/spaces/provisioner/nomad"
	"github.com/assospaces/spaces/quota"
	"github.com/assospaces/spaces/templates"
	"github.com/assospaces/spaces/tenants"
	"github.com/assospaces/spaces/tenants/pgtest"
)

// The multi-node tests run against the Nomad cluster testenv starts beside the single agent: one
// server and two client nodes, client-1 and client-2, on this machine (cmd/internal/devenv's
// Cluster). They fail without it.
func testCluster(t *testing.T) (addr, dir string) {
	t.Helper()
	addr, dir = os.Getenv("SPACES_TEST_NOMAD_CLUSTER_ADDR"), os.Getenv("SPACES_TEST_NOMAD_CLUSTER_DIR")
	if addr == "" || dir == "" {
		t.Fatal("SPACES_TEST_NOMAD_CLUSTER_ADDR and SPACES_TEST_NOMAD_CLUSTER_DIR are not set: this test needs the " +
			"multi-node Nomad cluster of testenv (run it with `make test`, or through .bin/testenv)")
	}
	return addr, dir
}

// The whole service on two nodes: the control plane (two `spaces serve` from
// templates/spaces-dev.nomad.hcl) healthy on both; spaces spread over both; one node killed
// (SIGKILL of its agent): the control plane serves again from the other node with two healthy
// instances, the spaces of the other node stay healthy, the lost node's spaces are reported
// unhealthy and are not started elsewhere, away from their data (a node-local host volume), and
// a space approved meanwhile runs on the node that is up; an operator moves one lost space by
// forgetting its volume and stopping its job; the node back, the other lost spaces are healthy
// again on it.
func TestMultiNodeSpreadAndNodeLoss(t *testing.T) {
	t.Parallel() // mostly waiting: for heartbeats to lapse, checks to pass
	addr, dir := testCluster(t)
	e := newEnv(t, envOptions{cluster: addr})
	api := e.nomad.API()
	nodes := waitClusterNodes(t, api, "client-1", "client-2")
	start := time.Now()
	step := func(what string) { t.Logf("%5.1fs %s", time.Since(start).Seconds(), what) }

	// The control plane: two healthy instances, one on each node.
	startControlPlane(t, api, addr)
	instances := waitControlPlane(t, api, nil)
	if instances[0].NodeID == instances[1].NodeID {
		t.Errorf("both instances of spaces serve run on %s: the jobspec spreads them over nodes", nodes.name(instances[0].NodeID))
	}

	step("control plane healthy")
	// Four spaces at once, spread over both nodes (two each: each new data volume goes to the
	// node holding fewest).
	var spaces []tenants.Space
	for i := range 4 {
		s := approveSpaceWith(t, e.pool, e.client, randomSlug(fmt.Sprintf("multi%d", i)), quota.Limits{StorageBytes: quota.GB, Accounts: 5})
		spaces = append(spaces, s)
	}
	cleanupClusterSpaces(t, e, spaces)
	for i, s := range spaces {
		spaces[i] = waitState(t, e.pool, s.ID, tenants.SpaceActive)
	}
	on := map[string][]tenants.Space{}
	for _, s := range spaces {
		node := nodes.name(runningAllocation(t, api, provisioner.JobID(s.Slug)).NodeID)
		on[node] = append(on[node], s)
	}
	if len(on["client-1"]) != 2 || len(on["client-2"]) != 2 {
		t.Fatalf("spaces per node: client-1 %d, client-2 %d; want 2 and 2", len(on["client-1"]), len(on["client-2"]))
	}

	step("spaces active on both nodes")
	// client-2 is lost: its agent killed, its tasks left running as a crashed node's would be.
	killClusterClient(t, dir, "client-2")
	waitNodeStatus(t, api, nodes.id["client-2"], nomadapi.NodeStatusDown)

	step("client-2 down")
	// The control plane: its lost instance started again on client-1, both healthy there.
	instances = waitControlPlane(t, api, func(a *nomadapi.AllocationListStub) bool { return a.NodeID == nodes.id["client-1"] })
	t.Logf("control plane serving from %s and %s", nodes.name(instances[0].NodeID), nodes.name(instances[1].NodeID))

	step("control plane healthy on client-1")
	// The lost spaces: unhealthy, and not started on client-1 without their data (checked again
	// before client-2 comes back).
	notMoved := func(spaces []tenants.Space) {
		t.Helper()
		for _, s := range spaces {
			allocs, _, err := api.Jobs().Allocations(provisioner.JobID(s.Slug), false, nil)
			if err != nil {
				t.Fatal(err)
			}
			for _, a := range allocs {
				if a.NodeID != nodes.id["client-2"] {
					t.Errorf("space %s has allocation %s %s on %s, away from its data volume", s.Slug, a.ID[:8], a.ClientStatus, nodes.name(a.NodeID))
				}
			}
		}
	}
	for _, s := range on["client-2"] {
		got := waitHealthy(t, e.pool, s.ID, "False")
		t.Logf("%s: %s", s.Slug, condition(got, provisioner.CondHealthy).Message)
	}
	notMoved(on["client-2"])
	// The spaces of client-1 are still healthy.
	for _, s := range on["client-1"] {
		got, err := tenants.GetSpace(context.Background(), e.pool, s.ID)
		if err != nil {
			t.Fatal(err)
		}
		if c := condition(got, provisioner.CondHealthy); c.Status != "True" {
			t.Errorf("space %s on the remaining node: Healthy %s (%s)", s.Slug, c.Status, c.Message)
		}
	}

	step("lost spaces reported unhealthy")
	// A space approved meanwhile gets its volume, and runs, on the node that is up.
	late := approveSpaceWith(t, e.pool, e.client, randomSlug("multi4"), quota.Limits{StorageBytes: quota.GB, Accounts: 5})
	cleanupClusterSpaces(t, e, []tenants.Space{late})
	waitState(t, e.pool, late.ID, tenants.SpaceActive)
	if a := runningAllocation(t, api, provisioner.JobID(late.Slug)); a.NodeID != nodes.id["client-1"] {
		t.Errorf("space %s approved while client-2 is down runs on %s", late.Slug, nodes.name(a.NodeID))
	}

	step("space approved meanwhile active on client-1")

	// A node gone for good is an operator's decision, space by space: forget the space's volume on
	// it (forced: the node does not answer), then stop its job. The reconciler starts it again, on
	// a new, empty volume on a node that is up (its files are to be restored from backups).
	moved, stay := on["client-2"][0], on["client-2"][1:]
	vols, err := e.nomad.HostVolumes(context.Background(), provisioner.VolumeName(moved.Slug))
	if err != nil || len(vols) != 1 {
		t.Fatalf("volumes of %s: %v, %v", moved.Slug, vols, err)
	}
	if _, _, err := api.HostVolumes().Delete(&nomadapi.HostVolumeDeleteRequest{ID: vols[0].ID, Force: true}, nil); err != nil {
		t.Fatalf("forget the volume of %s on the lost node: %v", moved.Slug, err)
	}
	if err := e.nomad.DeregisterJob(context.Background(), provisioner.JobID(moved.Slug), false); err != nil {
		t.Fatal(err)
	}
	waitHealthy(t, e.pool, moved.ID, "True")
	if a := runningAllocation(t, api, provisioner.JobID(moved.Slug)); a.NodeID != nodes.id["client-1"] {
		t.Errorf("space %s moved by hand runs on %s, want client-1", moved.Slug, nodes.name(a.NodeID))
	}
	step("space moved by hand healthy on client-1")
	notMoved(stay)

	// client-2 back, with its data directory: its spaces start again there, on their volumes.
	restartClusterClient(t, dir, "client-2")
	waitNodeStatus(t, api, nodes.id["client-2"], nomadapi.NodeStatusReady)
	step("client-2 back")
	for _, s := range stay {
		waitHealthy(t, e.pool, s.ID, "True")
		if a := runningAllocation(t, api, provisioner.JobID(s.Slug)); a.NodeID != nodes.id["client-2"] {
			t.Errorf("space %s back on %s, want client-2 where its volume is", s.Slug, nodes.name(a.NodeID))
		}
	}
	step("lost spaces healthy again on client-2")
	// And the control plane is still two healthy instances.
	waitControlPlane(t, api, nil)
}

// clusterNodes maps the cluster's node names and ids.
type clusterNodes struct{ id, names map[string]string }

func (n clusterNodes) name(id string) string {
	if name, ok := n.names[id]; ok {
		return name
	}
	return id
}

// waitClusterNodes waits until the named nodes are ready.
func waitClusterNodes(t *testing.T, api *nomadapi.Client, names ...string) clusterNodes {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		list, _, err := api.Nodes().List(nil)
		if err != nil {
			t.Fatal(err)
		}
		n := clusterNodes{id: map[string]string{}, names: map[string]string{}}
		for _, node := range list {
			if node.Status == nomadapi.NodeStatusReady {
				n.id[node.Name], n.names[node.ID] = node.ID, node.Name
			}
		}
		ready := 0
		for _, name := range names {
			if n.id[name] != "" {
				ready++
			}
		}
		if ready == len(names) {
			return n
		}
		if time.Now().After(deadline) {
			t.Fatalf("cluster nodes ready: %v, want %v", n.id, names)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// startControlPlane runs templates/spaces-dev.nomad.hcl on the cluster with its own database, its
// secrets in the job's Variable.
func startControlPlane(t *testing.T, api *nomadapi.Client, addr string) {
	t.Helper()
	_, dbURL := pgtest.New(t)
	key := make([]byte, 32)
	rand.Read(key) //nolint:errcheck
	const path = "nomad/jobs/spaces"
	if _, _, err := api.Variables().Update(&nomadapi.Variable{Namespace: "default", Path: path, Items: nomadapi.VariableItems{
		"database_url": dbURL, "tenant_database_url": pgtest.ProvisionerURL(t),
		"secret_key": base64.StdEncoding.EncodeToString(key), "smtp_url": "",
	}}, nil); err != nil {
		t.Fatal(err)
	}
	hcl, err := templates.ControlPlaneJobspec(templates.ControlPlaneDev)
	if err != nil {
		t.Fatal(err)
	}
	vars := fmt.Sprintf("spaces_bin = %q\nstandin_bin = %q\nnomad_addr = %q\n", goBinary(t, "spaces", "SPACES_BIN"), standinBin(t), addr)
	job, err := api.Jobs().ParseHCLOpts(&nomadapi.JobsParseRequest{JobHCL: hcl, Variables: vars, Canonicalize: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := api.Jobs().Register(job, nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		api.Jobs().Deregister(*job.ID, true, nil) //nolint:errcheck
		api.Variables().Delete(path, nil)         //nolint:errcheck
	})
}

// waitControlPlane waits until exactly two instances of spaces serve run (on the nodes where,
// when given), each passing both its checks in Nomad and answering /readyz itself, and returns
// them.
func waitControlPlane(t *testing.T, api *nomadapi.Client, where func(*nomadapi.AllocationListStub) bool) []*nomadapi.AllocationListStub {
	t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	var seen []string
	for {
		seen = seen[:0]
		allocs, _, err := api.Jobs().Allocations("spaces", false, nil)
		if err != nil {
			t.Fatal(err)
		}
		var healthy []*nomadapi.AllocationListStub
		for _, a := range allocs {
			if a.DesiredStatus != nomadapi.AllocDesiredStatusRun || a.ClientStatus != nomadapi.AllocClientStatusRunning {
				continue
			}
			checks, err := api.Allocations().Checks(a.ID, nil)
			passing := 0
			for _, c := range checks {
				if c.Status == "success" {
					passing++
				}
			}
			seen = append(seen, fmt.Sprintf("%s %d/%d checks passing %v", a.ID[:8], passing, len(checks), err))
			if err == nil && passing == 2 && len(checks) == 2 && (where == nil || where(a)) {
				healthy = append(healthy, a)
			}
		}
		if len(healthy) == 2 && readyz(t, api, healthy) {
			sort.Slice(healthy, func(i, j int) bool { return healthy[i].ID < healthy[j].ID })
			return healthy
		}
		if time.Now().After(deadline) {
			t.Fatalf("control plane: want two healthy instances, have %v", seen)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// readyz asks each instance's /readyz at the address its service registration gives.
func readyz(t *testing.T, api *nomadapi.Client, allocs []*nomadapi.AllocationListStub) bool {
	t.Helper()
	regs, _, err := api.Services().Get("spaces", nil)
	if err != nil {
		return false
	}
	for _, a := range allocs {
		ok := false
		for _, r := range regs {
			if r.AllocID != a.ID {
				continue
			}
			resp, err := http.Get(fmt.Sprintf("http://%s:%d/readyz", r.Address, r.Port))
			if err != nil {
				return false
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			ok = resp.StatusCode == http.StatusOK && string(body) == "ready\n"
		}
		if !ok {
			return false
		}
	}
	return true
}

// runningAllocation is the job's running allocation.
func runningAllocation(t *testing.T, api *nomadapi.Client, jobID string) *nomadapi.AllocationListStub {
	t.Helper()
	allocs, _, err := api.Jobs().Allocations(jobID, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range allocs {
		if a.DesiredStatus == nomadapi.AllocDesiredStatusRun && a.ClientStatus == nomadapi.AllocClientStatusRunning {
			return a
		}
	}
	t.Fatalf("job %s has no running allocation", jobID)
	return nil
}

// killClusterClient kills the node's agent with SIGKILL, as a crashed machine would stop it.
func killClusterClient(t *testing.T, dir, node string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, node, "nomad.pid"))
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatalf("kill the agent of %s: %v", node, err)
	}
}

// restartClusterClient starts the node's agent again from its config and data directory, and
// writes its process id where the cluster's Stop finds it.
func restartClusterClient(t *testing.T, dir, node string) {
	t.Helper()
	bin := os.Getenv("SPACES_NOMAD_BIN")
	if bin == "" {
		t.Fatal("SPACES_NOMAD_BIN is not set: the test starts a Nomad agent again")
	}
	log, err := os.OpenFile(filepath.Join(dir, node, "nomad.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	cmd := exec.Command(bin, "agent", "-config", filepath.Join(dir, node, "agent.hcl"))
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go cmd.Wait() //nolint:errcheck // reaped whenever it stops
	if err := os.WriteFile(filepath.Join(dir, node, "nomad.pid"), []byte(strconv.Itoa(cmd.Process.Pid)), 0o600); err != nil {
		t.Fatal(err)
	}
}

// waitNodeStatus waits until the server reports the node in that status.
func waitNodeStatus(t *testing.T, api *nomadapi.Client, id, status string) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		node, _, err := api.Nodes().Info(id, nil)
		if err == nil && node.Status == status {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("node %s: want %s (%v, %v)", id, status, node, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// waitHealthy waits until the reconciler reports the space's Healthy condition with that status.
func waitHealthy(t *testing.T, pool *pgxpool.Pool, id int64, status string) tenants.Space {
	t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	for {
		s, err := tenants.GetSpace(context.Background(), pool, id)
		if err != nil {
			t.Fatal(err)
		}
		c := condition(s, provisioner.CondHealthy)
		if c.Status == status {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("space %s: Healthy %s (%s: %s), want %s", s.Slug, c.Status, c.Reason, c.Message, status)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// cleanupClusterSpaces removes the spaces' jobs, variables and volumes from the cluster, after
// the service is stopped (its reconciler would register them again).
func cleanupClusterSpaces(t *testing.T, e *env, spaces []tenants.Space) {
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		e.client.Stop(ctx) //nolint:errcheck
		for _, s := range spaces {
			e.nomad.DeregisterJob(ctx, provisioner.JobID(s.Slug), true)                //nolint:errcheck
			e.nomad.DeleteVariable(ctx, nomad.VariablePath(provisioner.JobID(s.Slug))) //nolint:errcheck
			deleteVolumes(ctx, e.nomad, provisioner.VolumeName(s.Slug))
		}
	})
}
