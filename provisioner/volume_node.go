package provisioner

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"

	nomadapi "github.com/hashicorp/nomad/api"

	"github.com/assospaces/spaces/provisioner/nomad"
)

// Where a new data volume goes decides where its space runs, for good: the jobspec's volume
// block places the job on the volume's node. Asked without a node, Nomad creates a volume on the
// first node by id that has the plugin, whether that node is ready, down or draining: every
// space would run on one node, and none could be created while that node is down. So the
// provisioner picks the node: among the ready, eligible nodes that are not draining, the one
// holding the fewest spaces' volumes (the lowest id among equals), and names it in a constraint,
// so that Nomad still checks that the node has the plugin; a node without it is passed over for
// the next one. Placements are serialised within the process, so that a burst of approvals
// spreads too (two servers creating at the same instant may pick the same node: the spread is
// then off by one, never wrong). It costs a list of the nodes and one of the spaces' volumes per
// volume created, never per pass.

// volumePlacement serialises the choice of a node and the creation of a volume on it.
var volumePlacement sync.Mutex

// errNoFeasibleNode is Nomad's answer when no node meets a volume's constraints.
const errNoFeasibleNode = "no node meets constraints"

// createVolume creates vol on the ready node holding the fewest spaces' volumes that has its
// plugin. With no such node known (the nodes or volumes not listed), Nomad places it.
func (p *Provisioner) createVolume(ctx context.Context, vol *nomadapi.HostVolume) (*nomadapi.HostVolume, error) {
	volumePlacement.Lock()
	defer volumePlacement.Unlock()
	nodes, err := p.volumeNodes(ctx)
	if err != nil || len(nodes) == 0 {
		if err != nil {
			p.logger.WarnContext(ctx, "data volume: nodes not listed, Nomad places it", "volume", vol.Name, "err", err)
		}
		return p.nomad.CreateHostVolume(ctx, vol)
	}
	var errs []error
	for _, id := range nodes {
		v := *vol
		v.Constraints = append(append([]*nomadapi.Constraint(nil), vol.Constraints...),
			nomadapi.NewConstraint("${node.unique.id}", "=", id))
		created, err := p.nomad.CreateHostVolume(ctx, &v)
		if err == nil || !strings.Contains(err.Error(), errNoFeasibleNode) {
			return created, err
		}
		errs = append(errs, fmt.Errorf("node %s: %w", shortID(id), err))
	}
	return nil, fmt.Errorf("no ready node can hold data volume %s with plugin %s: %w", vol.Name, vol.PluginID, errors.Join(errs...))
}

// volumeLister is what lists every data volume with its node: the Nomad client.
type volumeLister interface {
	API() *nomadapi.Client
	Namespace() string
}

// volumeNodes lists the ready, eligible nodes that are not draining, those holding the fewest
// spaces' data volumes first (pending ones included). Nil when the volumes cannot be listed.
func (p *Provisioner) volumeNodes(ctx context.Context) ([]string, error) {
	lister, ok := p.nomad.(volumeLister)
	if !ok {
		return nil, nil
	}
	nodes, err := p.nomad.Nodes(ctx)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, nomad.DefaultCallTimeout)
	defer cancel()
	q := (&nomadapi.QueryOptions{Namespace: lister.Namespace(), Prefix: JobID("")}).WithContext(ctx)
	vols, _, err := lister.API().HostVolumes().List(nil, q)
	if err != nil {
		return nil, fmt.Errorf("list data volumes: %w", err)
	}
	held := map[string]int{}
	for _, v := range vols {
		held[v.NodeID]++
	}
	var ids []string
	for _, n := range nodes {
		if n.Status == nomadapi.NodeStatusReady && n.SchedulingEligibility == nomadapi.NodeSchedulingEligible && !n.Drain {
			ids = append(ids, n.ID)
		}
	}
	sort.Slice(ids, func(i, j int) bool {
		if held[ids[i]] != held[ids[j]] {
			return held[ids[i]] < held[ids[j]]
		}
		return ids[i] < ids[j]
	})
	return ids, nil
}
