package devenv

import (
	"context"
	"io"
	"log/slog"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	nomadapi "github.com/hashicorp/nomad/api"
)

// The cluster is one server and two client nodes, each ready with raw_exec and able to make a
// data volume with the mkdir plugin in its own data directory; Stop leaves nothing behind.
func TestClusterHasTwoNodes(t *testing.T) {
	t.Parallel()
	bin := os.Getenv("SPACES_NOMAD_BIN")
	if bin == "" {
		t.Fatal("SPACES_NOMAD_BIN is not set: this test runs real Nomad agents (run it with `make test`)")
	}
	ctx := context.Background()
	c, err := StartCluster(ctx, bin, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if c != nil {
		t.Cleanup(func() {
			if err := c.Stop(); err != nil {
				t.Error(err)
			}
			if _, err := os.Stat(c.Dir); !os.IsNotExist(err) {
				t.Errorf("cluster folder %s left after Stop (%v)", c.Dir, err)
			}
		})
	}
	if err != nil {
		t.Fatal(err)
	}
	api, err := nomadapi.NewClient(&nomadapi.Config{Address: c.Addr()})
	if err != nil {
		t.Fatal(err)
	}
	nodes, _, err := api.Nodes().List(nil)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, n := range nodes {
		if n.Status == nomadapi.NodeStatusReady {
			names = append(names, n.Name)
		}
	}
	sort.Strings(names)
	if strings.Join(names, ",") != "client-1,client-2" {
		t.Fatalf("ready nodes = %v, want client-1 and client-2", names)
	}
	for _, n := range nodes {
		resp, _, err := api.HostVolumes().Create(&nomadapi.HostVolumeCreateRequest{Volume: &nomadapi.HostVolume{
			Name: "probe", PluginID: "mkdir", NodeID: n.ID,
			RequestedCapabilities: []*nomadapi.HostVolumeCapability{{
				AccessMode:     nomadapi.HostVolumeAccessModeSingleNodeSingleWriter,
				AttachmentMode: nomadapi.HostVolumeAttachmentModeFilesystem}},
		}}, nil)
		if err != nil {
			t.Fatalf("create a volume on %s: %v", n.Name, err)
		}
		vol, index := resp.Volume, uint64(0)
		for vol.State != nomadapi.HostVolumeStateReady {
			got, meta, err := api.HostVolumes().Get(vol.ID, &nomadapi.QueryOptions{WaitIndex: index, WaitTime: 5 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			vol, index = got, meta.LastIndex
		}
		want := c.Dir + "/" + n.Name + "/data/host_volumes/"
		if !strings.HasPrefix(vol.HostPath, want) {
			t.Errorf("volume on %s at %s, want under %s", n.Name, vol.HostPath, want)
		}
	}
}
