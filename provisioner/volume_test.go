package provisioner

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	nomadapi "github.com/hashicorp/nomad/api"

	"github.com/assospaces/spaces/provisioner/nomad"
	"github.com/assospaces/spaces/quota"
	"github.com/assospaces/spaces/templates"
	"github.com/assospaces/spaces/tenants"
	"github.com/assospaces/spaces/tenants/pgtest"
)

// countingNomad is the real Nomad, counting the volumes the provisioner asks to create.
type countingNomad struct {
	*nomad.Client
	creates atomic.Int32
}

func (c *countingNomad) CreateHostVolume(ctx context.Context, vol *nomadapi.HostVolume) (*nomadapi.HostVolume, error) {
	c.creates.Add(1)
	return c.Client.CreateHostVolume(ctx, vol)
}

// newVolumeProvisioner is a provisioner on the real Nomad agent, whose client runs on this
// machine: the volumes' host paths are folders here.
func newVolumeProvisioner(t *testing.T) (*Provisioner, *countingNomad) {
	t.Helper()
	addr := os.Getenv("NOMAD_ADDR")
	if addr == "" {
		t.Fatal("NOMAD_ADDR is not set: these tests need a real Nomad agent (run them with `make test`)")
	}
	direct, err := nomad.New(nomad.Config{Address: addr})
	if err != nil {
		t.Fatal(err)
	}
	nc := &countingNomad{Client: direct}
	pool, _ := pgtest.New(t)
	set, err := templates.Load("")
	if err != nil {
		t.Fatal(err)
	}
	p, err := New(context.Background(), Config{BaseDomain: "spaces.test", Template: templates.Dev, Templates: set,
		StandinBin: "/bin/true", TenantDatabaseURL: pgtest.ServerURL(t)}, pool, nc, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p, nc
}

// volumeSpace is a space of this test whose volume, if any is left, is deleted at the end.
func volumeSpace(t *testing.T, p *Provisioner, prefix string, storage int64) tenants.Space {
	t.Helper()
	s := tenants.Space{ID: 1, Slug: prefix + "-" + strings.ToLower(newSecret()[:8]), Generation: 1,
		Limits: quota.Limits{StorageBytes: storage, Accounts: 5}}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		p.nomad.DeregisterJob(ctx, JobID(s.Slug), true) //nolint:errcheck
		if err := p.deleteVolume(ctx, s); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	return s
}

// Passes at once and one after the other make one volume, ready, with the space's storage limit
// as its requested capacity; deleting it removes it from Nomad and its folder from the disk, and
// deleting it again is no error.
func TestVolumeEnsuredOnceThenDeleted(t *testing.T) {
	p, nc := newVolumeProvisioner(t)
	ctx := context.Background()
	s := volumeSpace(t, p, "vol", 3*quota.GB)

	paths := make([]string, 4)
	errs := make([]error, 4)
	var wg sync.WaitGroup
	for i := range paths {
		wg.Go(func() { paths[i], errs[i] = p.ensureVolume(ctx, s) })
	}
	wg.Wait()
	for i := range paths {
		if errs[i] != nil || paths[i] == "" || paths[i] != paths[0] {
			t.Fatalf("concurrent passes: paths %q, errors %v; want one path, no error", paths, errs)
		}
	}
	created := nc.creates.Load()
	again, err := p.ensureVolume(ctx, s)
	if err != nil || again != paths[0] {
		t.Fatalf("a later pass: %q, %v; want %q", again, err, paths[0])
	}
	if n := nc.creates.Load() - created; n != 0 {
		t.Errorf("a pass finding the volume asked Nomad to create %d more", n)
	}
	vols, err := nc.HostVolumes(ctx, VolumeName(s.Slug))
	if err != nil || len(vols) != 1 {
		t.Fatalf("volumes named %s: %d, %v; want 1", VolumeName(s.Slug), len(vols), err)
	}
	vol, _, err := nc.HostVolume(ctx, vols[0].ID, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if vol.State != nomadapi.HostVolumeStateReady || vol.PluginID != "mkdir" || vol.HostPath != paths[0] || vol.Namespace != "default" {
		t.Errorf("volume: state %s, plugin %s, host path %s, namespace %s", vol.State, vol.PluginID, vol.HostPath, vol.Namespace)
	}
	if vol.RequestedCapacityMinBytes != 3*quota.GB || vol.RequestedCapacityMaxBytes != 3*quota.GB {
		t.Errorf("requested capacity %d–%d, want the storage limit %d", vol.RequestedCapacityMinBytes, vol.RequestedCapacityMaxBytes, 3*quota.GB)
	}
	// mkdir makes a plain folder: it reports no capacity and enforces none.
	if vol.CapacityBytes != 0 {
		t.Errorf("mkdir reports a capacity of %d bytes", vol.CapacityBytes)
	}
	if c := vol.RequestedCapabilities; len(c) != 1 || c[0].AccessMode != volumeAccessMode || c[0].AttachmentMode != volumeAttachmentMode {
		t.Errorf("capabilities = %+v", c)
	}
	if fi, err := os.Stat(paths[0]); err != nil || !fi.IsDir() {
		t.Fatalf("host path %s: %v", paths[0], err)
	}

	if err := p.deleteVolume(ctx, s); err != nil {
		t.Fatal(err)
	}
	if vols, err := nc.HostVolumes(ctx, VolumeName(s.Slug)); err != nil || len(vols) != 0 {
		t.Errorf("volumes after delete: %d, %v", len(vols), err)
	}
	if _, err := os.Stat(paths[0]); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("host path after delete: %v, want it gone", err)
	}
	if err := p.deleteVolume(ctx, s); err != nil {
		t.Errorf("delete twice: %v", err)
	}
}

// A raw_exec task reaches the volume at the host path the job's meta carries, its group's volume
// block claims the volume (Nomad refuses to delete it then), and Purge deletes it with its files
// once the job's task has exited (this one ignores the stop signal until its kill_timeout).
func TestVolumeUsedByAJobThenPurged(t *testing.T) {
	p, nc := newVolumeProvisioner(t)
	ctx := context.Background()
	s := volumeSpace(t, p, "volj", quota.GB)
	path, err := p.ensureVolume(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	jobID := JobID(s.Slug)
	job, err := nc.ParseJob(ctx, `job "`+jobID+`" {
  datacenters = ["*"]
  group "g" {
    volume "data" {
      type            = "host"
      source          = "`+VolumeName(s.Slug)+`"
      access_mode     = "single-node-single-writer"
      attachment_mode = "file-system"
    }
    task "t" {
      driver = "raw_exec"
      # It ignores the stop signal: its allocation holds the volume for kill_timeout after a stop.
      kill_timeout = "3s"
      config {
        command = "/bin/sh"
        args    = ["-c", "trap '' INT TERM; echo $$ > \"$DATA/pid\"; echo written > \"$DATA/proof\"; while :; do sleep 1; done"]
      }
      env {
        DATA = "${NOMAD_META_`+MetaVolumePath+`}"
      }
      resources {
        cpu    = 10
        memory = 16
      }
    }
  }
}`)
	if err != nil {
		t.Fatal(err)
	}
	job.Meta = map[string]string{MetaVolumePath: path}
	if _, err := nc.RegisterJob(ctx, job); err != nil {
		t.Fatal(err)
	}
	proof := filepath.Join(path, "proof")
	deadline := time.Now().Add(2 * time.Minute) // guards a hung test only
	for {
		if b, err := os.ReadFile(proof); err == nil && string(b) == "written\n" {
			break
		}
		if time.Now().After(deadline) {
			allocs, _, _ := nc.Allocations(ctx, jobID, 0, 0)
			t.Fatalf("the task wrote no %s (allocations %+v)", proof, allocs)
		}
		time.Sleep(100 * time.Millisecond)
	}

	vols, err := nc.HostVolumes(ctx, VolumeName(s.Slug))
	if err != nil || len(vols) != 1 {
		t.Fatalf("volumes: %d, %v", len(vols), err)
	}
	if err := nc.DeleteHostVolume(ctx, vols[0].ID); !errors.Is(err, nomad.ErrVolumeInUse) {
		t.Fatalf("delete of a volume a running job claims: %v, want ErrVolumeInUse", err)
	}

	b, err := os.ReadFile(filepath.Join(path, "pid"))
	pid, perr := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || perr != nil {
		t.Fatalf("the task's pid: %q, %v %v", b, err, perr)
	}

	s.State = tenants.SpaceDeleting
	if err := p.Purge(ctx, s); err != nil {
		t.Fatal(err)
	}
	// The task had exited before its files went: Purge stops the job and waits for it first.
	if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("the task (pid %d) still runs after the purge of its volume: %v", pid, err)
	}
	if _, err := nc.Job(ctx, jobID); !errors.Is(err, nomad.ErrNotFound) {
		t.Errorf("job after purge: %v", err)
	}
	if vols, err := nc.HostVolumes(ctx, VolumeName(s.Slug)); err != nil || len(vols) != 0 {
		t.Errorf("volumes after purge: %d, %v", len(vols), err)
	}
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the space's files after purge: %v, want them gone", err)
	}
}

// A plugin no client has fails the step with Nomad's reason, and leaves no volume behind.
func TestVolumeWithAMissingPlugin(t *testing.T) {
	p, nc := newVolumeProvisioner(t)
	p.cfg.VolumePlugin = "no-such-plugin"
	ctx := context.Background()
	s := volumeSpace(t, p, "volp", quota.GB)
	if _, err := p.ensureVolume(ctx, s); err == nil || !strings.Contains(err.Error(), "no node meets constraints") {
		t.Fatalf("ensureVolume with a missing plugin: %v", err)
	}
	if vols, err := nc.HostVolumes(ctx, VolumeName(s.Slug)); err != nil || len(vols) != 0 {
		t.Errorf("volumes: %d, %v; want none", len(vols), err)
	}
}
