package provisioner

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	nomadapi "github.com/hashicorp/nomad/api"
)

// waitHealthy waits, within HealthTimeout, for an allocation of the job at version or later that
// Nomad's deployment marks healthy (its checks pass), then for its service registration, and
// returns the address to reach the space at. It reads the job's state with plain queries, again
// whenever the process-wide event watcher says the job changed.
func (p *Provisioner) waitHealthy(ctx context.Context, jobID string, version uint64) (addr, allocID string, err error) {
	ctx, cancel := context.WithTimeout(ctx, p.cfg.HealthTimeout)
	defer cancel()
	changed, release := p.watch.subscribe(jobID)
	defer release()
	last := "no allocation yet"
	for {
		if allocID == "" {
			allocs, _, err := p.nomad.Allocations(ctx, jobID, 0, 0)
			if err != nil {
				return "", "", timeoutOr(ctx, err, p.cfg.HealthTimeout, last)
			}
			allocID, last = pickHealthy(allocs, version)
		}
		if allocID != "" {
			last = "allocation " + shortID(allocID) + " healthy, its service not registered yet"
			regs, _, err := p.nomad.Services(ctx, jobID, 0, 0)
			if err != nil {
				return "", "", timeoutOr(ctx, err, p.cfg.HealthTimeout, last)
			}
			for _, r := range regs {
				if r.AllocID == allocID && r.Port > 0 {
					return hostPort(r.Address, r.Port), allocID, nil
				}
			}
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return "", "", timeoutOr(ctx, ctx.Err(), p.cfg.HealthTimeout, last)
		}
	}
}

func timeoutOr(ctx context.Context, err error, limit time.Duration, last string) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("not healthy after %s: %s", limit, last)
	}
	return err
}

// pickHealthy returns the id of a running, healthy allocation at version or later, or a
// description of where the allocations are, for the failure reason.
func pickHealthy(allocs []*nomadapi.AllocationListStub, version uint64) (string, string) {
	var notes []string
	for _, a := range allocs {
		if a.JobVersion < version {
			continue
		}
		healthy := a.DeploymentStatus != nil && a.DeploymentStatus.Healthy != nil && *a.DeploymentStatus.Healthy
		if a.ClientStatus == nomadapi.AllocClientStatusRunning && healthy {
			return a.ID, ""
		}
		notes = append(notes, fmt.Sprintf("allocation %s is %s%s", shortID(a.ID), a.ClientStatus, taskTrouble(a)))
	}
	if len(notes) == 0 {
		return "", "no allocation placed yet"
	}
	sort.Strings(notes)
	return "", strings.Join(notes, "; ")
}

// taskTrouble is the latest notable task event of an allocation, such as a driver failure.
func taskTrouble(a *nomadapi.AllocationListStub) string {
	for name, ts := range a.TaskStates {
		for i := len(ts.Events) - 1; i >= 0; i-- {
			e := ts.Events[i]
			if e.DisplayMessage != "" && (e.FailsTask || e.Type == nomadapi.TaskDriverFailure || e.Type == nomadapi.TaskTerminated ||
				e.Type == nomadapi.TaskSetupFailure || e.Type == nomadapi.TaskRestarting) {
				return fmt.Sprintf(" (task %s: %s)", name, e.DisplayMessage)
			}
		}
	}
	return ""
}
