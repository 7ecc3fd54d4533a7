package provisioner

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	nomadapi "github.com/hashicorp/nomad/api"

	"github.com/assospaces/spaces/tenants"
)

// Condition types the reconciler records, beside CondHealthy.
const (
	// CondDrifted is True when the space's Nomad job was not what was decided (missing, stopped,
	// purged or edited behind our back), with the correction made.
	CondDrifted = "Drifted"
)

// jobPrefix starts the id of every space's job.
const jobPrefix = "space-"

// repairConcurrency bounds the repairs of one pass: each is a few Nomad and tenant database calls.
const repairConcurrency = 8

// repairTimeout bounds one space's repair, so that one broken space never stalls the pass.
const repairTimeout = time.Minute

// Repair is one correction a reconcile pass made (or tried).
type Repair struct {
	Slug   string
	Reason string // JobMissing, JobStopped, JobEdited, NewGeneration
	Err    error  // nil when the job was registered again
}

// ReconcileReport says what a pass saw and did.
type ReconcileReport struct {
	// Spaces is how many spaces were compared with Nomad; Active how many of them should run.
	Spaces, Active int
	// Healthy counts active spaces with a healthy allocation.
	Healthy int
	// Repairs are the corrections tried; BackedOff the spaces whose repair waits after failures.
	Repairs   []Repair
	BackedOff int
	// Orphans are the jobs that look like ours but belong to no space: no space has the id in
	// their meta, or that space's job has another id.
	Orphans []tenants.OrphanJob
}

// Reconcile runs one pass: it compares every space that is not deleted with the space jobs Nomad
// has (one list of jobs with their meta, one list of allocations: the same two calls for ten
// spaces or ten thousand), registers again the job of each active space that is missing, stopped
// or not the jobspec decided, leaves alone the jobs of spaces that are not active, reports the
// jobs that carry our meta but belong to no space (never deleting them), and records what it saw
// as conditions. Only what changed is written. A space whose repairs keep failing is retried
// with backoff; one failing or slow repair never holds back the others.
func (p *Provisioner) Reconcile(ctx context.Context) (ReconcileReport, error) {
	var rep ReconcileReport
	now := p.now()
	spaces, err := tenants.SpacesToReconcile(ctx, p.db)
	if err != nil {
		return rep, err
	}
	jobs, err := p.nomad.ListJobs(ctx, jobPrefix)
	if err != nil {
		return rep, err
	}
	allocs, err := p.nomad.ListAllocations(ctx, jobPrefix)
	if err != nil {
		return rep, err
	}
	backoffs, err := tenants.RepairBackoffs(ctx, p.db)
	if err != nil {
		return rep, err
	}
	byJob := make(map[string]*nomadapi.JobListStub, len(jobs))
	for _, j := range jobs {
		byJob[j.ID] = j
	}
	allocsByJob := map[string][]*nomadapi.AllocationListStub{}
	for _, a := range allocs {
		allocsByJob[a.JobID] = append(allocsByJob[a.JobID], a)
	}

	rep.Spaces = len(spaces)
	known := make(map[string]string, len(spaces)) // space id → the job id it should have
	obs := map[int64]tenants.Observation{}
	var todo []tenants.Space
	reasons := map[int64]string{}
	for _, s := range spaces {
		known[strconv.FormatInt(s.ID, 10)] = JobID(s.Slug)
		if s.State != tenants.SpaceActive {
			// Provisioning spaces belong to their pass; the jobs of suspended, failed or deleting
			// spaces are never started again from here.
			continue
		}
		rep.Active++
		jobID := JobID(s.Slug)
		job := byJob[jobID]
		health := healthOf(allocsByJob[jobID])
		if health.ok {
			rep.Healthy++
		}
		conds := []tenants.Condition{health.condition()}
		reason, msg := p.drift(s, job)
		o := tenants.Observation{}
		switch {
		case reason == "":
			conds = append(conds, cond(CondDrifted, false, "InSync", "job "+jobID+" runs the jobspec of generation "+job.Meta[MetaGeneration]))
			if health.ok && job.Meta[MetaGeneration] == strconv.FormatInt(s.Generation, 10) {
				o.Generation = s.Generation
			}
		case reason == "JobIDTaken" || reason == "TemplateBroken":
			conds = append(conds, cond(CondDrifted, true, reason, msg))
		default:
			if b, ok := backoffs[s.ID]; ok && now.Before(b.RetryAt) {
				rep.BackedOff++
				conds = append(conds, cond(CondDrifted, true, reason, fmt.Sprintf("%s; the last %d repairs failed (%s), next try at %s",
					msg, b.Failures, b.LastError, b.RetryAt.UTC().Format(time.RFC3339))))
				break
			}
			todo = append(todo, s)
			reasons[s.ID] = reason
			conds = append(conds, cond(CondDrifted, reason != "NewGeneration", reason, msg))
		}
		o.Conditions = conds
		obs[s.ID] = o
	}

	for _, j := range jobs {
		if meta := j.Meta[MetaSpaceID]; meta != "" && known[meta] != j.ID {
			rep.Orphans = append(rep.Orphans, tenants.OrphanJob{JobID: j.ID, SpaceMeta: meta})
		}
	}

	rep.Repairs = p.repairAll(ctx, todo, reasons, obs, backoffs)
	// A steady pass writes nothing: only the spaces whose conditions or observed generation
	// change go on to the (locking) write.
	for _, s := range spaces {
		if o, ok := obs[s.ID]; ok && !o.Changes(s, now) {
			delete(obs, s.ID)
		}
	}
	if err := tenants.RecordObservations(ctx, p.db, obs, now); err != nil {
		return rep, err
	}
	fresh, err := tenants.SyncOrphanJobs(ctx, p.db, rep.Orphans, now)
	if err != nil {
		return rep, err
	}
	for _, o := range fresh {
		p.logger.WarnContext(ctx, "orphan job: it carries a space's meta but no space has that id; left running",
			"job", o.JobID, "space_meta", o.SpaceMeta)
	}
	return rep, nil
}

// drift says why a space's job is not what was decided ("" when it is), and how.
func (p *Provisioner) drift(s tenants.Space, job *nomadapi.JobListStub) (reason, msg string) {
	jobID := JobID(s.Slug)
	want, err := p.jobSpecHash(s)
	switch {
	case err != nil:
		return "TemplateBroken", err.Error()
	case job == nil:
		return "JobMissing", "job " + jobID + " was not in Nomad (purged?); registering it again"
	case job.Meta[MetaSpaceID] != strconv.FormatInt(s.ID, 10):
		return "JobIDTaken", fmt.Sprintf("job %s carries space id %q: left alone", jobID, job.Meta[MetaSpaceID])
	case job.Stop:
		return "JobStopped", "job " + jobID + " was stopped outside the service; starting it again"
	case job.Meta[MetaSpecHash] != want && job.Meta[MetaGeneration] == strconv.FormatInt(s.Generation, 10):
		return "JobEdited", "job " + jobID + " was changed outside the service; putting the decided jobspec back"
	case job.Meta[MetaSpecHash] != want:
		return "NewGeneration", fmt.Sprintf("registering the jobspec of generation %d (Nomad runs generation %s)", s.Generation, job.Meta[MetaGeneration])
	}
	return "", ""
}

// repairAll registers the jobs of spaces again, a few at a time, each bounded by repairTimeout,
// and notes each outcome in obs.
func (p *Provisioner) repairAll(ctx context.Context, spaces []tenants.Space, reasons map[int64]string,
	obs map[int64]tenants.Observation, backoffs map[int64]tenants.Backoff) []Repair {
	out := make([]Repair, len(spaces))
	var mu sync.Mutex
	var wg sync.WaitGroup
	slots := make(chan struct{}, repairConcurrency)
	for i, s := range spaces {
		wg.Add(1)
		slots <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-slots }()
			rctx, cancel := context.WithTimeout(ctx, repairTimeout)
			defer cancel()
			reason := reasons[s.ID]
			version, err := p.repair(rctx, s)
			out[i] = Repair{Slug: s.Slug, Reason: reason, Err: err}
			var c tenants.Condition
			if err != nil {
				b, berr := tenants.RecordRepairFailure(context.WithoutCancel(ctx), p.db, s.ID, Reason(err), p.now())
				if berr != nil {
					p.logger.WarnContext(ctx, "record repair failure", "space", s.Slug, "err", berr)
				}
				p.logger.WarnContext(ctx, "space job repair failed", "space", s.Slug, "reason", reason, "err", err,
					"failures", b.Failures, "retry_at", b.RetryAt)
				c = cond(CondDrifted, true, reason, "repair failed, will retry: "+Reason(err))
			} else {
				if _, had := backoffs[s.ID]; had {
					if err := tenants.ClearRepairFailures(ctx, p.db, s.ID); err != nil {
						p.logger.WarnContext(ctx, "clear repair failures", "space", s.Slug, "err", err)
					}
				}
				p.logger.InfoContext(ctx, "space job repaired", "space", s.Slug, "reason", reason, "version", version)
				msg := fmt.Sprintf("job %s registered again (version %d)", JobID(s.Slug), version)
				c = cond(CondDrifted, reason != "NewGeneration", reason, msg)
			}
			mu.Lock()
			o := obs[s.ID]
			o.Conditions = replaceCondition(o.Conditions, c)
			obs[s.ID] = o
			mu.Unlock()
		}()
	}
	wg.Wait()
	return out
}

// repair brings a space's job back as decided: its secrets (a Variable lost with a Nomad cluster
// is made anew, and the role's password follows it), its database, and its job.
func (p *Provisioner) repair(ctx context.Context, s tenants.Space) (uint64, error) {
	secrets, err := p.ensureSecrets(ctx, JobID(s.Slug))
	if err != nil {
		return 0, &StepError{Step: "secrets", Err: err}
	}
	if err := p.ensureDatabase(ctx, s, secrets[keyDBPassword]); err != nil {
		return 0, &StepError{Step: "tenant database", Err: err}
	}
	version, err := p.ensureJob(ctx, s)
	if err != nil {
		return 0, &StepError{Step: "nomad job", Err: err}
	}
	return version, nil
}

func replaceCondition(list []tenants.Condition, c tenants.Condition) []tenants.Condition {
	for i := range list {
		if list[i].Type == c.Type {
			list[i] = c
			return list
		}
	}
	return append(list, c)
}

// jobSpecHash is the hash of the jobspec space s should run, cached by space and generation:
// every decision that changes the jobspec raises the generation, so a steady pass renders nothing.
func (p *Provisioner) jobSpecHash(s tenants.Space) (string, error) {
	key := specKey{id: s.ID, generation: s.Generation}
	p.specMu.Lock()
	h, ok := p.specs[key]
	p.specMu.Unlock()
	if ok {
		return h, nil
	}
	hcl, err := p.cfg.Templates.Render(p.cfg.Template, p.Params(s))
	if err != nil {
		return "", fmt.Errorf("the jobspec template does not render: %w", err)
	}
	h = SpecHash(hcl)
	p.specMu.Lock()
	if len(p.specs) > 100_000 {
		clear(p.specs)
	}
	p.specs[key] = h
	p.specMu.Unlock()
	return h, nil
}

type specKey struct{ id, generation int64 }

// allocHealth is what a space's allocations say of it.
type allocHealth struct {
	ok      bool
	allocID string
	addr    string // host:port of its http port, when running
	note    string
}

func (h allocHealth) condition() tenants.Condition {
	if h.ok {
		return cond(CondHealthy, true, "AllocationHealthy", fmt.Sprintf("allocation %s at %s", shortID(h.allocID), h.addr))
	}
	return cond(CondHealthy, false, "NoHealthyAllocation", h.note)
}

// healthOf picks a running allocation that Nomad's deployment marks healthy.
func healthOf(allocs []*nomadapi.AllocationListStub) allocHealth {
	var notes []string
	for _, a := range allocs {
		if a.DesiredStatus != nomadapi.AllocDesiredStatusRun {
			continue
		}
		healthy := a.DeploymentStatus != nil && a.DeploymentStatus.Healthy != nil && *a.DeploymentStatus.Healthy
		if a.ClientStatus == nomadapi.AllocClientStatusRunning && healthy {
			return allocHealth{ok: true, allocID: a.ID, addr: allocAddr(a)}
		}
		state := a.ClientStatus
		if a.ClientStatus == nomadapi.AllocClientStatusRunning {
			state = "running, not healthy yet"
		}
		notes = append(notes, fmt.Sprintf("allocation %s is %s", shortID(a.ID), state))
	}
	if len(notes) == 0 {
		return allocHealth{note: "no allocation is running"}
	}
	sort.Strings(notes)
	return allocHealth{note: strings.Join(notes, "; ")}
}

// allocAddr is the address of an allocation's http port, from its allocated resources.
func allocAddr(a *nomadapi.AllocationListStub) string {
	if a.AllocatedResources == nil {
		return ""
	}
	for _, port := range a.AllocatedResources.Shared.Ports {
		if port.Label == "http" {
			return hostPort(port.HostIP, port.Value)
		}
	}
	for _, n := range a.AllocatedResources.Shared.Networks {
		for _, port := range n.DynamicPorts {
			if port.Label == "http" {
				return hostPort(n.IP, port.Value)
			}
		}
	}
	return ""
}
