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

// Ceiling is how many spaces may take room at once, 0 for no ceiling: Config.Capacity, or with
// Config.CapacityFromNomad what the Nomad nodes can hold (see nodesCanHold), read at most every
// 30 seconds. When Nomad cannot be read, the last figure is kept; an error means there is none
// yet, or that the nodes can hold no space at all.
func (p *Provisioner) Ceiling(ctx context.Context) (int, error) {
	if !p.cfg.CapacityFromNomad {
		return p.cfg.Capacity, nil
	}
	p.ceilingMu.Lock()
	defer p.ceilingMu.Unlock()
	if p.ceilingAt.IsZero() || p.now().Sub(p.ceilingAt) >= capacityTTL {
		n, err := p.nodesCanHold(ctx)
		switch {
		case err == nil && n == 0:
			return 0, errors.New("capacity: no eligible Nomad node has room for one space")
		case err == nil:
			if n != p.ceiling {
				p.logger.InfoContext(ctx, "capacity read from Nomad's nodes", "spaces", n, "per_space", p.fp.String())
			}
			p.ceiling, p.ceilingAt = n, p.now()
		case p.ceilingAt.IsZero():
			return 0, fmt.Errorf("capacity: %w", err)
		default:
			p.logger.WarnContext(ctx, "capacity: Nomad's nodes not read, the last figure stands", "spaces", p.ceiling, "err", err)
		}
	}
	return p.ceiling, nil
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
// process runs.
func (p *Provisioner) footprint(ctx context.Context) (footprint, error) {
	if p.fp.cpu > 0 {
		return p.fp, nil
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
	p.fp = fp
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
