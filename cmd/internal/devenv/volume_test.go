package devenv

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	nomadapi "github.com/hashicorp/nomad/api"
)

// The agent of make dev makes dynamic host volumes with the mkdir plugin, inside its data
// directory, and keeps them, ready and with their files, across a restart.
func TestPersistentAgentKeepsHostVolumes(t *testing.T) {
	bin := os.Getenv("SPACES_NOMAD_BIN")
	if bin == "" {
		t.Fatal("SPACES_NOMAD_BIN is not set: this test runs a real Nomad agent (run it with `make test`)")
	}
	ctx := context.Background()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	dir := t.TempDir()
	port, err := FreePort()
	if err != nil {
		t.Fatal(err)
	}
	start := func() *Nomad {
		t.Helper()
		n := &Nomad{Bin: bin, Dir: dir, HTTPPort: port, Persistent: true}
		if err := n.Start(ctx, logger); err != nil {
			n.Stop() //nolint:errcheck
			t.Fatal(err)
		}
		return n
	}
	n := start()
	t.Cleanup(func() { n.Stop() }) //nolint:errcheck
	cfg := nomadapi.DefaultConfig()
	cfg.Address = n.Addr()
	c, err := nomadapi.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	resp, _, err := c.HostVolumes().Create(&nomadapi.HostVolumeCreateRequest{Volume: &nomadapi.HostVolume{
		Name: "space-devenv", PluginID: "mkdir",
		RequestedCapabilities: []*nomadapi.HostVolumeCapability{{
			AccessMode: nomadapi.HostVolumeAccessModeSingleNodeSingleWriter, AttachmentMode: nomadapi.HostVolumeAttachmentModeFilesystem}},
	}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	id := resp.Volume.ID
	ready := func() *nomadapi.HostVolume {
		t.Helper()
		for deadline := time.Now().Add(time.Minute); ; time.Sleep(100 * time.Millisecond) {
			vol, _, err := c.HostVolumes().Get(id, nil)
			if err == nil && vol.State == nomadapi.HostVolumeStateReady {
				return vol
			}
			if time.Now().After(deadline) {
				t.Fatalf("volume %s not ready: %+v, %v", id, vol, err)
			}
		}
	}
	vol := ready()
	if !strings.HasPrefix(vol.HostPath, filepath.Join(dir, "data", "host_volumes")+"/") {
		t.Errorf("host path %s is not in the agent's data directory %s", vol.HostPath, dir)
	}
	if err := os.WriteFile(filepath.Join(vol.HostPath, "kept.txt"), []byte("kept"), 0o600); err != nil {
		t.Fatal(err)
	}

	if err := n.Stop(); err != nil {
		t.Fatal(err)
	}
	n = start()
	// The server remembers the volume; the restarted client must have it back too, at the same
	// path, for jobs to be placed on it.
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(100 * time.Millisecond) {
		node, _, err := c.Nodes().Info(vol.NodeID, nil)
		if err == nil && node.HostVolumes["space-devenv"] != nil && node.HostVolumes["space-devenv"].Path == vol.HostPath {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the restarted client does not report volume space-devenv at %s (%v)", vol.HostPath, err)
		}
	}
	if again := ready(); again.HostPath != vol.HostPath {
		t.Errorf("host path after a restart: %s, want %s", again.HostPath, vol.HostPath)
	}
	if b, err := os.ReadFile(filepath.Join(vol.HostPath, "kept.txt")); err != nil || string(b) != "kept" {
		t.Errorf("the volume's file after a restart: %q, %v", b, err)
	}
	// The server reaches the client a moment after the node is ready.
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(200 * time.Millisecond) {
		_, _, err := c.HostVolumes().Delete(&nomadapi.HostVolumeDeleteRequest{ID: id}, nil)
		if err == nil {
			break
		}
		if !strings.Contains(err.Error(), "unknown node") || time.Now().After(deadline) {
			t.Fatal(err)
		}
	}
	if _, err := os.Stat(vol.HostPath); !os.IsNotExist(err) {
		t.Errorf("the volume's folder after its deletion: %v", err)
	}
}
