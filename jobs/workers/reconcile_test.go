package workers_test

import (
	"context"
	"strings"
	"testing"

	nomadapi "github.com/hashicorp/nomad/api"

	"github.com/assospaces/spaces/provisioner"
	"github.com/assospaces/spaces/tenants"
)

// condition returns the space's condition of type typ.
func condition(s tenants.Space, typ string) tenants.Condition {
	for _, c := range s.Conditions {
		if c.Type == typ {
			return c
		}
	}
	return tenants.Condition{}
}

// waitHealthyAgain waits until the space's job is registered and not stopped (after a stop or a
// purge by hand, only the reconciler can have done that) and the reconciler reports the space
// Healthy with an allocation Nomad runs now.
func waitHealthyAgain(t testing.TB, e *env, s tenants.Space) *nomadapi.Job {
	t.Helper()
	ctx := context.Background()
	jobID := provisioner.JobID(s.Slug)
	var job *nomadapi.Job
	waitFor(t, "space "+s.Slug+" healthy again", func() bool {
		var err error
		job, err = e.nomad.Job(ctx, jobID)
		if err != nil || (job.Stop != nil && *job.Stop) {
			return false
		}
		cur, err := tenants.GetSpace(ctx, e.pool, s.ID)
		if err != nil {
			t.Fatal(err)
		}
		h := condition(cur, provisioner.CondHealthy)
		if h.Status != "True" {
			return false
		}
		allocs, _, err := e.nomad.Allocations(ctx, jobID, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range allocs {
			if a.ClientStatus == nomadapi.AllocClientStatusRunning && a.DesiredStatus == nomadapi.AllocDesiredStatusRun &&
				strings.Contains(h.Message, a.ID[:8]) {
				return true
			}
		}
		return false
	})
	return job
}

// TestReconcileRepairsDrift changes an active space's job behind the service's back (stopped,
// purged, edited) and checks that the reconciler, woken by Nomad's events, puts it back.
func TestReconcileRepairsDrift(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	s := e.approve(randomSlug("drift"))
	s = waitState(t, e.pool, s.ID, tenants.SpaceActive, tenants.SpaceFailed)
	if s.State != tenants.SpaceActive {
		t.Fatalf("space %s: %s (%s)", s.Slug, s.State, s.FailureReason)
	}
	ctx := context.Background()
	jobID := provisioner.JobID(s.Slug)
	orig, err := e.nomad.Job(ctx, jobID)
	if err != nil {
		t.Fatal(err)
	}
	hash := orig.Meta[provisioner.MetaSpecHash]

	t.Run("stopped", func(t *testing.T) {
		if err := e.nomad.DeregisterJob(ctx, jobID, false); err != nil {
			t.Fatal(err)
		}
		waitHealthyAgain(t, e, s)
	})
	t.Run("purged", func(t *testing.T) {
		if err := e.nomad.DeregisterJob(ctx, jobID, true); err != nil {
			t.Fatal(err)
		}
		job := waitHealthyAgain(t, e, s)
		if job.Meta[provisioner.MetaSpecHash] != hash {
			t.Errorf("job registered again with spec hash %q, want %q", job.Meta[provisioner.MetaSpecHash], hash)
		}
	})
	t.Run("edited", func(t *testing.T) {
		job, err := e.nomad.Job(ctx, jobID)
		if err != nil {
			t.Fatal(err)
		}
		job.TaskGroups[0].Tasks[0].Env["EDITED_BY_HAND"] = "1"
		job.Meta[provisioner.MetaSpecHash] = "edited"
		if _, err := e.nomad.RegisterJob(ctx, job); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the decided jobspec back", func() bool {
			j, err := e.nomad.Job(ctx, jobID)
			if err != nil {
				t.Fatal(err)
			}
			_, edited := j.TaskGroups[0].Tasks[0].Env["EDITED_BY_HAND"]
			return !edited && j.Meta[provisioner.MetaSpecHash] == hash
		})
		cur, err := tenants.GetSpace(ctx, e.pool, s.ID)
		if err != nil {
			t.Fatal(err)
		}
		if d := condition(cur, provisioner.CondDrifted); d.Reason != "JobEdited" && d.Reason != "InSync" {
			t.Errorf("Drifted = %+v, want JobEdited (or InSync once seen again)", d)
		}
		waitFor(t, "the space healthy and in sync", func() bool {
			cur, err := tenants.GetSpace(ctx, e.pool, s.ID)
			if err != nil {
				t.Fatal(err)
			}
			return condition(cur, provisioner.CondHealthy).Status == "True" &&
				condition(cur, provisioner.CondDrifted).Reason == "InSync" && cur.ObservedGeneration == cur.Generation
		})
	})
}

// TestReconcileLeavesFailedSpacesAndOrphans: the job of a failed space is not started again, and a
// job that carries a space's meta but has no space is reported and left running. (A suspended
// space's job runs, in maintenance mode: see TestOperatorsDecisionsAppliedByTheReconciler.)
func TestReconcileLeavesFailedSpacesAndOrphans(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	s := e.approve(randomSlug("fail"))
	s = waitState(t, e.pool, s.ID, tenants.SpaceActive, tenants.SpaceFailed)
	if s.State != tenants.SpaceActive {
		t.Fatalf("space %s: %s (%s)", s.Slug, s.State, s.FailureReason)
	}
	ctx := context.Background()
	if _, err := tenants.TransitionSpace(ctx, e.pool, s.ID, tenants.Transition{To: tenants.SpaceFailed,
		Actor: tenants.ActorSystem, Reason: "test"}); err != nil {
		t.Fatal(err)
	}
	jobID := provisioner.JobID(s.Slug)
	if err := e.nomad.DeregisterJob(ctx, jobID, false); err != nil {
		t.Fatal(err)
	}

	// An orphan: a job of ours by its meta, for a space id this database does not have.
	orphanID := "space-" + randomSlug("orphan")
	orphan := sleepJob(orphanID)
	orphan.Meta = map[string]string{provisioner.MetaSpaceID: "987654321", provisioner.MetaGeneration: "1"}
	if _, err := e.nomad.RegisterJob(ctx, orphan); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.nomad.DeregisterJob(context.Background(), orphanID, true) }) //nolint:errcheck

	// Two passes after both changes: the first may have started before them.
	for range 2 {
		if _, err := e.prov.Reconcile(ctx, nil); err != nil {
			t.Fatal(err)
		}
	}
	job, err := e.nomad.Job(ctx, jobID)
	if err != nil {
		t.Fatal(err)
	}
	if job.Stop == nil || !*job.Stop {
		t.Errorf("the failed space's job was started again")
	}
	orphans, err := tenants.OrphanJobs(ctx, e.pool)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, o := range orphans {
		if o.JobID == orphanID && o.SpaceMeta == "987654321" {
			found = true
		}
	}
	if !found {
		t.Errorf("orphan %s not reported: %+v", orphanID, orphans)
	}
	oj, err := e.nomad.Job(ctx, orphanID)
	if err != nil || (oj.Stop != nil && *oj.Stop) {
		t.Errorf("the orphan job was stopped or removed: %v", err)
	}
}

// sleepJob is a small raw_exec job that runs for an hour.
func sleepJob(id string) *nomadapi.Job {
	job := nomadapi.NewServiceJob(id, id, "global", 50)
	job.Datacenters = []string{"*"}
	tg := nomadapi.NewTaskGroup("main", 1)
	task := nomadapi.NewTask("sleep", "raw_exec").SetConfig("command", "/bin/sleep").SetConfig("args", []string{"3600"})
	task.Resources = &nomadapi.Resources{CPU: intp(10), MemoryMB: intp(16)}
	tg.AddTask(task)
	job.AddTaskGroup(tg)
	return job
}

func intp(n int) *int { return &n }

// TestProvisionRefusesAJobIDOfAnotherSpace: a Nomad job with the space's job id but another
// space's meta is never taken over: the space fails with a reason naming the step, the job stays.
func TestProvisionRefusesAJobIDOfAnotherSpace(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	ctx := context.Background()
	slug := randomSlug("taken")
	other := sleepJob(provisioner.JobID(slug))
	other.Meta = map[string]string{provisioner.MetaSpaceID: "987654321"}
	if _, err := e.nomad.RegisterJob(ctx, other); err != nil {
		t.Fatal(err)
	}
	s := e.approve(slug)
	s = waitState(t, e.pool, s.ID, tenants.SpaceActive, tenants.SpaceFailed)
	if s.State != tenants.SpaceFailed || !strings.Contains(s.FailureReason, "nomad job: the Nomad job id is taken") {
		t.Fatalf("space %s: %s (%q), want failed: the job id is taken", s.Slug, s.State, s.FailureReason)
	}
	job, err := e.nomad.Job(ctx, provisioner.JobID(slug))
	if err != nil || job.Meta[provisioner.MetaSpaceID] != "987654321" {
		t.Errorf("the other space's job was changed: %v, %v", job, err)
	}
}
