package workers_test

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	nomadapi "github.com/hashicorp/nomad/api"

	"github.com/assospaces/spaces/provisioner"
	"github.com/assospaces/spaces/quota"
	"github.com/assospaces/spaces/tenants"
)

// spaceVolume is the one data volume of the space, as Nomad has it.
func spaceVolume(t *testing.T, e *env, s tenants.Space) *nomadapi.HostVolume {
	t.Helper()
	ctx := context.Background()
	vols, err := e.nomad.HostVolumes(ctx, provisioner.VolumeName(s.Slug))
	if err != nil || len(vols) != 1 {
		t.Fatalf("volumes named %s: %d, %v; want 1", provisioner.VolumeName(s.Slug), len(vols), err)
	}
	vol, _, err := e.nomad.HostVolume(ctx, vols[0].ID, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	return vol
}

// davGet reads a file through WebDAV as the association's first account.
func (a spaceAccess) davGet(t *testing.T, name string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, "http://"+a.addr+"/remote.php/dav/files/"+a.ownerID+"/"+name, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = a.host
	req.SetBasicAuth(a.ownerID, a.password)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// TestSpaceFilesLiveOnItsVolume provisions a space: it gets one data volume, created by the
// provisioning step and ready; the stand-in keeps its files there (a file uploaded through WebDAV
// is under the volume's host path); and the files outlive the job: stopped (as a soft delete
// stops it), or purged, the reconciler registers the job again on the same volume and the file
// reads back.
func TestSpaceFilesLiveOnItsVolume(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	s := activeSpace(t, e, "vol", quota.Limits{StorageBytes: 2 * quota.GB, Accounts: 3})
	ctx := context.Background()
	vol := spaceVolume(t, e, s)
	if vol.State != nomadapi.HostVolumeStateReady || vol.PluginID != "mkdir" || vol.RequestedCapacityMaxBytes != 2*quota.GB {
		t.Errorf("volume: state %s, plugin %s, capacity asked %d", vol.State, vol.PluginID, vol.RequestedCapacityMaxBytes)
	}
	if c := condition(s, provisioner.CondVolumeReady); c.Status != "True" {
		t.Errorf("VolumeReady = %+v", c)
	}
	a := accessSpace(t, e, s)
	if dir := a.dataDir(t, e); dir != vol.HostPath {
		t.Fatalf("the job's data directory is %s, the volume's host path %s", dir, vol.HostPath)
	}

	const body = "compte rendu de l'assemblée générale"
	if code := a.dav(t, http.MethodPut, "ag.txt", []byte(body)); code != http.StatusCreated {
		t.Fatalf("upload: HTTP %d", code)
	}
	onDisk, err := os.ReadFile(filepath.Join(vol.HostPath, a.ownerID, "files", "ag.txt"))
	if err != nil || string(onDisk) != body {
		t.Fatalf("the uploaded file under the volume's host path: %q, %v", onDisk, err)
	}

	jobID := provisioner.JobID(s.Slug)
	for _, purge := range []bool{false, true} {
		name := map[bool]string{false: "stopped", true: "purged"}[purge]
		t.Run(name, func(t *testing.T) {
			if err := e.nomad.DeregisterJob(ctx, jobID, purge); err != nil {
				t.Fatal(err)
			}
			job := waitHealthyAgain(t, e, s)
			if job.Meta[provisioner.MetaVolumePath] != vol.HostPath {
				t.Errorf("job registered again on %q, want the volume at %s", job.Meta[provisioner.MetaVolumePath], vol.HostPath)
			}
			if again := spaceVolume(t, e, s); again.ID != vol.ID {
				t.Errorf("volume %s after the repair, want %s", again.ID, vol.ID)
			}
			a := accessSpace(t, e, s)
			if code, got := a.davGet(t, "ag.txt"); code != http.StatusOK || got != body {
				t.Errorf("the file after the job came back: HTTP %d %q, want %q", code, got, body)
			}
		})
	}
}
