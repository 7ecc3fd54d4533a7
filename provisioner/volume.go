package provisioner

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	nomadapi "github.com/hashicorp/nomad/api"

	"github.com/assospaces/spaces/provisioner/nomad"
	"github.com/assospaces/spaces/tenants"
)

// A space's files live on its data volume: a Nomad dynamic host volume named like its job,
// created by a host volume plugin on one client node (Config.VolumePlugin, Nomad's built-in
// "mkdir" by default) before the job is registered, and deleted when the space is purged. Its
// jobspec names it in a group volume block, which makes Nomad place the job on the node that
// holds it and claim it for that one writer: stopping the job (a soft delete) and starting it
// again finds the same files.

// MetaVolumePath is the job meta key carrying the host path of the space's data volume on its
// node. The provisioner sets it, beside the jobspec hash and outside the rendered jobspec, since
// the path is known only once the volume exists. The dev template points the stand-in's
// NEXTCLOUD_DATA_DIR at it (raw_exec cannot mount a volume); the production template mounts the
// volume instead and the meta only tells an operator where the files are.
const MetaVolumePath = "spaces_volume_path"

// volumeAccessMode is the one capability a space's volume is created with, and the access mode
// both jobspecs ask for: one allocation writes it at a time.
const (
	volumeAccessMode     = nomadapi.HostVolumeAccessModeSingleNodeSingleWriter
	volumeAttachmentMode = nomadapi.HostVolumeAttachmentModeFilesystem
)

// volumeReadyTimeout bounds the wait for a volume's node to report it: a node that never does
// (down, or its plugin failing) fails the step, and the pass is retried.
const volumeReadyTimeout = 2 * time.Minute

// VolumeName is the name of a space's data volume, the source its jobspec mounts.
func VolumeName(slug string) string { return JobID(slug) }

// ensureVolume makes sure the space's data volume exists and is ready, and returns its host path.
// It finds the volume by name, and creates it only when there is none, its capacity asked
// between the space's storage limit and that limit (a plugin that enforces capacities makes a
// volume of that size; "mkdir" enforces none). The node is left to Nomad: a node in the
// namespace's node pools that has the plugin and no volume of that name.
//
// Two passes creating at once on a cluster of several nodes could make two volumes of one name
// on two nodes: the oldest wins, and the pass that made a newer one deletes it at once, before it
// is ready (a pending volume holds no job).
func (p *Provisioner) ensureVolume(ctx context.Context, s tenants.Space) (string, error) {
	name := VolumeName(s.Slug)
	vols, err := p.nomad.HostVolumes(ctx, name)
	if err != nil {
		return "", err
	}
	if len(vols) == 0 {
		created, err := p.createVolume(ctx, &nomadapi.HostVolume{
			Name: name, PluginID: p.cfg.VolumePlugin,
			RequestedCapacityMinBytes: s.Limits.StorageBytes, RequestedCapacityMaxBytes: s.Limits.StorageBytes,
			RequestedCapabilities: []*nomadapi.HostVolumeCapability{{
				AccessMode: volumeAccessMode, AttachmentMode: volumeAttachmentMode}},
		})
		if err != nil {
			// Another pass may be creating it: on its node, Nomad refuses a second one.
			if again := p.concurrentVolume(ctx, name, err); again != nil {
				return p.waitVolumeReady(ctx, again.ID)
			}
			return "", err
		}
		if vols, err = p.nomad.HostVolumes(ctx, name); err != nil {
			return "", err
		}
		if oldest(vols) == nil { // Nomad lists what it just wrote: trust the answer of the create
			vols = []*nomadapi.HostVolumeStub{{ID: created.ID, Name: name, CreateIndex: created.CreateIndex}}
		}
		if winner := oldest(vols); winner.ID != created.ID {
			p.logger.WarnContext(ctx, "another pass created the data volume first: deleting ours", "space", s.Slug,
				"volume", name, "kept", winner.ID, "deleted", created.ID)
			if err := p.nomad.DeleteHostVolume(ctx, created.ID); err != nil {
				return "", fmt.Errorf("delete the duplicate data volume %s: %w", created.ID, err)
			}
		} else {
			p.logger.InfoContext(ctx, "data volume created", "space", s.Slug, "volume", name, "id", created.ID,
				"plugin", p.cfg.VolumePlugin, "node", shortID(created.NodeID))
		}
	} else if len(vols) > 1 {
		p.logger.WarnContext(ctx, "several data volumes carry the space's name: the oldest is used", "space", s.Slug,
			"volume", name, "count", len(vols))
	}
	return p.waitVolumeReady(ctx, oldest(vols).ID)
}

// concurrentVolume finds the volume another pass created while this one's create failed with
// err. A client refuses a name it is still creating ("already exists on this node") before the
// server has registered the volume: the volume shows in Nomad's list a moment later, which is
// looked for during concurrentVolumeWait. Nil when there is none.
func (p *Provisioner) concurrentVolume(ctx context.Context, name string, err error) *nomadapi.HostVolumeStub {
	deadline := p.now().Add(concurrentVolumeWait)
	for {
		vols, lerr := p.nomad.HostVolumes(ctx, name)
		if lerr == nil && len(vols) > 0 {
			return oldest(vols)
		}
		if !strings.Contains(err.Error(), "already exists") || p.now().After(deadline) {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// concurrentVolumeWait bounds the wait for a volume another pass is creating to be registered:
// its plugin runs first (mkdir: a millisecond; another plugin may format a disk).
const concurrentVolumeWait = 30 * time.Second

// oldest is the volume Nomad registered first, nil for none.
func oldest(vols []*nomadapi.HostVolumeStub) *nomadapi.HostVolumeStub {
	var o *nomadapi.HostVolumeStub
	for _, v := range vols {
		if o == nil || v.CreateIndex < o.CreateIndex {
			o = v
		}
	}
	return o
}

// waitVolumeReady waits, with blocking queries, until the volume's node reports it (Nomad then
// marks it ready and places jobs on it), and returns its host path.
func (p *Provisioner) waitVolumeReady(parent context.Context, id string) (string, error) {
	ctx, cancel := context.WithTimeout(parent, volumeReadyTimeout)
	defer cancel()
	var index uint64
	state := nomadapi.HostVolumeStatePending
	for {
		vol, next, err := p.nomad.HostVolume(ctx, id, index, 30*time.Second)
		switch {
		case parent.Err() != nil:
			return "", fmt.Errorf("wait for data volume %s: %w", id, parent.Err())
		case ctx.Err() != nil:
			return "", fmt.Errorf("data volume %s is still %s after %s: %w", id, state, volumeReadyTimeout, ctx.Err())
		case err != nil:
			return "", err
		case vol.State == nomadapi.HostVolumeStateReady:
			if vol.HostPath == "" {
				return "", fmt.Errorf("data volume %s is ready without a host path", id)
			}
			return vol.HostPath, nil
		}
		index, state = next, vol.State
	}
}

// deleteVolume deletes the space's data volume, and with it every file of the space. A job just
// stopped still claims it until its allocations have exited: it waits for them (or fails, to be
// retried, when something else holds the volume). A missing volume is not an error.
func (p *Provisioner) deleteVolume(ctx context.Context, s tenants.Space) error {
	vols, err := p.nomad.HostVolumes(ctx, VolumeName(s.Slug))
	if err != nil {
		return err
	}
	for _, v := range vols {
		err := p.nomad.DeleteHostVolume(ctx, v.ID)
		if errors.Is(err, nomad.ErrVolumeInUse) {
			if werr := p.waitAllocationsStopped(ctx, JobID(s.Slug)); werr != nil {
				return errors.Join(err, werr)
			}
			err = p.nomad.DeleteHostVolume(ctx, v.ID)
		}
		if err != nil {
			return err
		}
		p.logger.InfoContext(ctx, "data volume deleted", "space", s.Slug, "volume", v.Name, "id", v.ID)
	}
	return nil
}

// stopJobAndWait stops the job, if there is one, and waits until its tasks have exited. A purge
// alone would not do before the volume is deleted: Nomad forgets a purged job's allocations at
// once, while their tasks may still be writing to the volume.
func (p *Provisioner) stopJobAndWait(ctx context.Context, jobID string) error {
	if err := p.nomad.DeregisterJob(ctx, jobID, false); err != nil && !errors.Is(err, nomad.ErrNotFound) {
		return err
	}
	return p.waitAllocationsStopped(ctx, jobID)
}

// waitAllocationsStopped waits, with blocking queries, until no allocation of the job is still
// running on its client (they hold their volume until then), for at most volumeReadyTimeout.
func (p *Provisioner) waitAllocationsStopped(parent context.Context, jobID string) error {
	ctx, cancel := context.WithTimeout(parent, volumeReadyTimeout)
	defer cancel()
	var index uint64
	for {
		allocs, next, err := p.nomad.Allocations(ctx, jobID, index, 30*time.Second)
		if parent.Err() != nil {
			return fmt.Errorf("wait for the allocations of job %s: %w", jobID, parent.Err())
		}
		if ctx.Err() != nil {
			return fmt.Errorf("allocations of job %s still running after %s: %w", jobID, volumeReadyTimeout, ctx.Err())
		}
		if err != nil {
			return err
		}
		running := false
		for _, a := range allocs {
			switch a.ClientStatus {
			case nomadapi.AllocClientStatusComplete, nomadapi.AllocClientStatusFailed, nomadapi.AllocClientStatusLost:
			default:
				running = true
			}
		}
		if !running {
			return nil
		}
		index = next
	}
}
