package provisioner

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	nomadapi "github.com/hashicorp/nomad/api"

	"github.com/assospaces/spaces/provisioner/nomad"
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
//
// A generation is reported observed only once it is applied: the decided jobspec runs healthy
// and, for an active space, its storage plan and quotas were applied in Nextcloud (onLevel is
// called for a storage level change this brings, as in CollectUsage). A deleting space's
// generation is observed once its job is stopped.
func (p *Provisioner) Reconcile(ctx context.Context, onLevel LevelFunc) (ReconcileReport, error) {
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
		jobID := JobID(s.Slug)
		job := byJob[jobID]
		if s.State == tenants.SpaceDeleting {
			// A deleting space's job is stopped (not purged: its data stays until the purge).
			o, stop := p.deletingObservation(s, job, allocsByJob[jobID])
			obs[s.ID] = o
			if stop {
				todo = append(todo, s)
				reasons[s.ID] = "Deleting"
			}
			continue
		}
		if s.State != tenants.SpaceActive && s.State != tenants.SpaceSuspended {
			// Provisioning spaces belong to their pass; the jobs of failed spaces are never
			// started again from here.
			continue
		}
		// Active and suspended spaces run: a suspended one's jobspec puts Nextcloud in
		// maintenance mode.
		rep.Active++
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
	p.applyNewGenerations(ctx, spaces, obs, allocsByJob, onLevel)
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
	case job.Stop && job.Meta[MetaGeneration] != strconv.FormatInt(s.Generation, 10):
		return "NewGeneration", fmt.Sprintf("starting job %s with the jobspec of generation %d", jobID, s.Generation)
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
				if s.State == tenants.SpaceDeleting {
					msg = "job " + JobID(s.Slug) + " stopped: the space is deleting"
				}
				c = cond(CondDrifted, reason != "NewGeneration" && reason != "Deleting", reason, msg)
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
// is made anew, and the role's password follows it), its database, its data volume (the one it
// had, with its files), and its job; for a deleting space, it stops the job.
func (p *Provisioner) repair(ctx context.Context, s tenants.Space) (uint64, error) {
	if s.State == tenants.SpaceDeleting {
		if err := p.nomad.DeregisterJob(ctx, JobID(s.Slug), false); err != nil && !errors.Is(err, nomad.ErrNotFound) {
			return 0, &StepError{Step: "stop nomad job", Err: err}
		}
		return 0, nil
	}
	secrets, err := p.ensureSecrets(ctx, JobID(s.Slug))
	if err != nil {
		return 0, &StepError{Step: "secrets", Err: err}
	}
	if err := p.ensureDatabase(ctx, s, secrets[keyDBPassword]); err != nil {
		return 0, &StepError{Step: "tenant database", Err: err}
	}
	volumePath, err := p.ensureVolume(ctx, s)
	if err != nil {
		return 0, &StepError{Step: "data volume", Err: err}
	}
	version, err := p.ensureJob(ctx, s, volumePath)
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

// deletingObservation is what the reconciler sees of a deleting space: whether its job must be
// stopped, and the observation to record (its generation is observed once no allocation runs).
func (p *Provisioner) deletingObservation(s tenants.Space, job *nomadapi.JobListStub, allocs []*nomadapi.AllocationListStub) (tenants.Observation, bool) {
	ours := job != nil && job.Meta[MetaSpaceID] == strconv.FormatInt(s.ID, 10)
	if ours && !job.Stop {
		return tenants.Observation{Conditions: []tenants.Condition{
			cond(CondDrifted, false, "Deleting", "stopping job "+JobID(s.Slug)+": the space is deleting"),
		}}, true
	}
	running := 0
	for _, a := range allocs {
		if a.ClientStatus == nomadapi.AllocClientStatusRunning || a.ClientStatus == nomadapi.AllocClientStatusPending {
			running++
		}
	}
	o := tenants.Observation{Conditions: []tenants.Condition{
		cond(CondHealthy, false, "Stopped", "the space is deleting: its job is stopped, its data kept until the purge"),
		cond(CondDrifted, false, "Deleting", "job "+JobID(s.Slug)+" is stopped"),
	}}
	if running == 0 || !ours {
		o.Generation = s.Generation
	}
	return o, false
}

// applyNewGenerations applies the storage plan of every active space whose decided jobspec now
// runs healthy at a generation not yet observed (a resize, a resume, a restore), before that
// generation is reported observed: quotas and the user limit then agree with the decision. A
// space that cannot be reached keeps its generation unobserved and is tried again next pass.
func (p *Provisioner) applyNewGenerations(ctx context.Context, spaces []tenants.Space, obs map[int64]tenants.Observation,
	allocsByJob map[string][]*nomadapi.AllocationListStub, onLevel LevelFunc) {
	var todo []tenants.Space
	for _, s := range spaces {
		if o, ok := obs[s.ID]; ok && s.State == tenants.SpaceActive && o.Generation > s.ObservedGeneration {
			todo = append(todo, s)
		}
	}
	if len(todo) == 0 {
		return
	}
	ids := make([]int64, len(todo))
	for i, s := range todo {
		ids[i] = s.ID
	}
	prevs, err := tenants.UsageOf(ctx, p.db, ids)
	if err != nil {
		p.logger.WarnContext(ctx, "read usage for new generations", "err", err)
		for _, s := range todo {
			o := obs[s.ID]
			o.Generation = 0
			obs[s.ID] = o
		}
		return
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	slots := make(chan struct{}, repairConcurrency)
	for _, s := range todo {
		wg.Add(1)
		slots <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-slots }()
			prev, ok := prevs[s.ID]
			if !ok {
				prev = tenants.Usage{SpaceID: s.ID}
			}
			sctx, cancel := context.WithTimeout(ctx, p.cfg.UsageTimeout)
			res, err := p.collectOne(sctx, s, prev, healthOf(allocsByJob[JobID(s.Slug)]))
			cancel()
			if err == nil {
				err = p.recordUsage(ctx, s, res, onLevel)
			}
			if err != nil {
				p.logger.WarnContext(ctx, "apply the limits of a new generation", "space", s.Slug, "generation", s.Generation, "err", err)
			}
			mu.Lock()
			defer mu.Unlock()
			o := obs[s.ID]
			if err != nil {
				o.Generation = 0
				o.Conditions = replaceCondition(o.Conditions, cond(CondDrifted, false, "NewGeneration",
					fmt.Sprintf("generation %d runs; its limits are not applied yet: %s", s.Generation, Reason(err))))
			}
			obs[s.ID] = o
		}()
	}
	wg.Wait()
}
