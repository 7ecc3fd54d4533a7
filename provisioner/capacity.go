package provisioner

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	nomadapi "github.com/hashicorp/nomad/api"

	"github.com/assospaces/spaces/quota"
	"github.com/assospaces/spaces/tenants"
)

// capacityTTL is how long a ceiling read from Nomad's nodes is used before it is read again.
const capacityTTL = 30 * time.Second

// ceilingRefreshTimeout bounds one read of the ceiling from Nomad (a parse and a node list, each
// bounded by the Nomad client's own call timeout too).
const ceilingRefreshTimeout = time.Minute

// ceilingRefresh is one read of the ceiling from Nomad, shared by every caller that waits for it.
type ceilingRefresh struct {
	done chan struct{} // closed once n and err are set
	n    int
	err  error
}

// Ceiling is how many spaces may take room at once, 0 for no ceiling: Config.Capacity, or with
// Config.CapacityFromNomad what the Nomad nodes can hold (see nodesCanHold), read at most every
// 30 seconds. When Nomad cannot be read, the last figure is kept; an error means there is none
// yet, or that the nodes can hold no space at all.
//
// No lock is held while Nomad is read, and at most one read runs at a time: while it runs, a
// caller that has a last figure gets it at once, and the others (there is no figure yet) wait for
// that one read, or for their own ctx to end. The caller that starts a read waits for it.
func (p *Provisioner) Ceiling(ctx context.Context) (int, error) {
	if !p.cfg.CapacityFromNomad {
		return p.cfg.Capacity, nil
	}
	p.ceilingMu.Lock()
	last, at := p.ceiling, p.ceilingAt
	if !at.IsZero() && p.now().Sub(at) < capacityTTL {
		p.ceilingMu.Unlock()
		return last, nil
	}
	r := p.refresh
	if r != nil {
		if !at.IsZero() {
			p.ceilingMu.Unlock()
			return last, nil
		}
	} else {
		r = &ceilingRefresh{done: make(chan struct{})}
		p.refresh = r
		go p.refreshCeiling(context.WithoutCancel(ctx), r)
	}
	p.ceilingMu.Unlock()
	select {
	case <-r.done:
		return r.n, r.err
	case <-ctx.Done():
		if !at.IsZero() {
			return last, nil
		}
		return 0, fmt.Errorf("capacity: %w", ctx.Err())
	}
}

// refreshCeiling reads the ceiling from Nomad for r, on a context of its own: a caller that stops
// waiting does not end the read the others wait for.
func (p *Provisioner) refreshCeiling(ctx context.Context, r *ceilingRefresh) {
	defer close(r.done)
	ctx, cancel := context.WithTimeout(ctx, ceilingRefreshTimeout)
	defer cancel()
	n, err := p.nodesCanHold(ctx)

	p.ceilingMu.Lock()
	defer p.ceilingMu.Unlock()
	p.refresh = nil
	switch {
	case err == nil && n == 0:
		r.err = errors.New("capacity: no eligible Nomad node has room for one space")
	case err == nil:
		if n != p.ceiling {
			p.logger.InfoContext(ctx, "capacity read from Nomad's nodes", "spaces", n, "per_space", p.fp.String())
		}
		p.ceiling, p.ceilingAt = n, p.now()
		r.n = n
	case p.ceilingAt.IsZero():
		r.err = fmt.Errorf("capacity: %w", err)
	default:
		p.logger.WarnContext(ctx, "capacity: Nomad's nodes not read, the last figure stands", "spaces", p.ceiling, "err", err)
		r.n = p.ceiling
	}
}

// footprint is what one space's job asks of a node.
type footprint struct {
	cpu, memoryMB, diskMB int64
	drivers               []string
}

// nodesCanHold counts the spaces the Nomad nodes can hold: on each node that is ready, eligible,
// not draining and has the jobspec's drivers healthy, as many spaces as fit in the CPU, memory and
// disk it offers after what its operator reserved. The footprint of a space is read from the
// jobspec itself, rendered and parsed by Nomad, so a template override counts as it runs. Other
// jobs on the same nodes are not subtracted: set a number instead when spaces share their nodes.
func (p *Provisioner) nodesCanHold(ctx context.Context) (int, error) {
	fp, err := p.footprint(ctx)
	if err != nil {
		return 0, err
	}
	nodes, err := p.nomad.Nodes(ctx)
	if err != nil {
		return 0, err
	}
	total := 0
	for _, n := range nodes {
		if n.Status != nomadapi.NodeStatusReady || n.SchedulingEligibility != nomadapi.NodeSchedulingEligible || n.Drain ||
			n.NodeResources == nil || !driversHealthy(n, fp.drivers) {
			continue
		}
		cpu, mem, disk := n.NodeResources.Cpu.CpuShares, n.NodeResources.Memory.MemoryMB, n.NodeResources.Disk.DiskMB
		if r := n.ReservedResources; r != nil {
			cpu -= int64(r.Cpu.CpuShares)
			mem -= int64(r.Memory.MemoryMB)
			disk -= int64(r.Disk.DiskMB)
		}
		fit := min(cpu/fp.cpu, mem/fp.memoryMB)
		if fp.diskMB > 0 {
			fit = min(fit, disk/fp.diskMB)
		}
		total += int(max(fit, 0))
	}
	return total, nil
}

// footprint renders the jobspec for a sample space, has Nomad parse it (filling its defaults)
// and adds up what its groups ask for. It is computed once: templates do not change while the
// process runs. It runs in a ceiling refresh, one at a time, without ceilingMu held.
func (p *Provisioner) footprint(ctx context.Context) (footprint, error) {
	p.ceilingMu.Lock()
	known := p.fp
	p.ceilingMu.Unlock()
	if known.cpu > 0 {
		return known, nil
	}
	sample := tenants.Space{ID: 1, Slug: "capacity-sample", Generation: 1, ContactEmail: "capacity@example.org",
		Limits: quota.DefaultLimits}
	hcl, err := p.cfg.Templates.Render(p.cfg.Template, p.Params(sample))
	if err != nil {
		return footprint{}, fmt.Errorf("render the jobspec: %w", err)
	}
	job, err := p.nomad.ParseJob(ctx, hcl)
	if err != nil {
		return footprint{}, err
	}
	var fp footprint
	drivers := map[string]bool{}
	for _, g := range job.TaskGroups {
		count := int64(1)
		if g.Count != nil {
			count = int64(*g.Count)
		}
		if g.EphemeralDisk != nil && g.EphemeralDisk.SizeMB != nil {
			fp.diskMB += count * int64(*g.EphemeralDisk.SizeMB)
		}
		for _, t := range g.Tasks {
			drivers[t.Driver] = true
			if t.Resources == nil {
				continue
			}
			if t.Resources.CPU != nil {
				fp.cpu += count * int64(*t.Resources.CPU)
			}
			if t.Resources.MemoryMB != nil {
				fp.memoryMB += count * int64(*t.Resources.MemoryMB)
			}
		}
	}
	if fp.cpu <= 0 || fp.memoryMB <= 0 {
		return footprint{}, fmt.Errorf("the jobspec asks for no CPU or memory (cpu %d MHz, memory %d MB): it cannot size a space", fp.cpu, fp.memoryMB)
	}
	for d := range drivers {
		fp.drivers = append(fp.drivers, d)
	}
	sort.Strings(fp.drivers)
	p.ceilingMu.Lock()
	p.fp = fp
	p.ceilingMu.Unlock()
	return fp, nil
}

func driversHealthy(n *nomadapi.NodeListStub, drivers []string) bool {
	for _, d := range drivers {
		if info := n.Drivers[d]; info == nil || !info.Detected || !info.Healthy {
			return false
		}
	}
	return true
}

// String describes the footprint for logs.
func (f footprint) String() string {
	return fmt.Sprintf("cpu %d MHz, memory %d MB, disk %d MB, drivers %s", f.cpu, f.memoryMB, f.diskMB, strings.Join(f.drivers, ","))
}
