package workers_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	nomadapi "github.com/hashicorp/nomad/api"
	"github.com/jackc/pgx/v5"

	"github.com/assospaces/spaces/provisioner"
	"github.com/assospaces/spaces/provisioner/nomad"
	"github.com/assospaces/spaces/quota"
	"github.com/assospaces/spaces/tenants"
)

// BenchmarkProvision provisions 100 spaces with the dev template (SPACES_BENCH_SPACES changes
// the count) and, in the same run, registers 100 jobs of the same jobspec straight through the
// Nomad API, waiting until each is healthy. It reports:
//
//	spaces/min       approve → active rate through River and every provisioning step
//	raw_jobs/min     register → healthy rate of the same jobs through the Nomad API alone
//	ratio            spaces/min ÷ raw_jobs/min (target ≥ 0.8)
//	median_s         median approve → active time of one space
//
// The raw jobs get their databases and variables made before the clock starts: the raw figure is
// Nomad's own rate, while ours includes databases, secrets and the Nextcloud bootstrap.
func BenchmarkProvision(b *testing.B) {
	n := 100
	if v, err := strconv.Atoi(os.Getenv("SPACES_BENCH_SPACES")); err == nil && v > 0 {
		n = v
	}
	for range b.N {
		b.StopTimer()
		raw := rawRegisterRate(b, n)
		b.StartTimer()
		rate, median := provisionRate(b, n)
		b.ReportMetric(rate, "spaces/min")
		b.ReportMetric(raw, "raw_jobs/min")
		b.ReportMetric(rate/raw, "ratio")
		b.ReportMetric(median.Seconds(), "median_s")
	}
}

// provisionRate approves n spaces at once and waits until all are active.
func provisionRate(b *testing.B, n int) (perMinute float64, median time.Duration) {
	e := newEnv(b, envOptions{})
	ctx := context.Background()
	run := randomSlug("b")
	ids := make([]int64, n)
	start := time.Now()
	for i := range n {
		ids[i] = e.approve(fmt.Sprintf("%s-%03d", run, i)).ID
	}
	for _, id := range ids {
		if s := waitState(b, e.pool, id, tenants.SpaceActive, tenants.SpaceFailed); s.State != tenants.SpaceActive {
			b.Fatalf("space %s failed: %s", s.Slug, s.FailureReason)
		}
	}
	total := time.Since(start)
	var durations []time.Duration
	rows, err := e.pool.Query(ctx, `SELECT state_changed_at - created_at FROM spaces WHERE id = ANY($1)`, ids)
	if err != nil {
		b.Fatal(err)
	}
	durations, err = pgx.CollectRows(rows, pgx.RowTo[time.Duration])
	if err != nil {
		b.Fatal(err)
	}
	slices.Sort(durations)
	b.Logf("provisioned %d spaces in %s", n, total.Round(time.Millisecond))
	return float64(n) / total.Minutes(), durations[len(durations)/2]
}

// rawRegisterRate registers n jobs rendered from the dev template straight through the Nomad API
// (all at once) and waits until each has a healthy allocation; then removes them.
func rawRegisterRate(b *testing.B, n int) float64 {
	e := newEnv(b, envOptions{})
	ctx := context.Background()
	run := randomSlug("r")
	jobs := make([]*nomadapi.Job, n)
	for i := range n {
		slug := fmt.Sprintf("%s-%03d", run, i)
		cleanupSpace(b, e.admin, slug)
		s := tenants.Space{ID: int64(i + 1), Slug: slug, Generation: 1, ContactEmail: "x@" + slug + ".example",
			Limits: quota.Limits{StorageBytes: quota.GB, Accounts: 5}}
		// Not timed: what the jobs need to start (their database and secrets).
		volumePath, err := e.prov.PrepareForBenchmark(ctx, s)
		if err != nil {
			b.Fatal(err)
		}
		hcl, err := e.templates.Render("dev", e.prov.Params(s))
		if err != nil {
			b.Fatal(err)
		}
		if jobs[i], err = e.nomad.ParseJob(ctx, hcl); err != nil {
			b.Fatal(err)
		}
		jobs[i].Meta[provisioner.MetaVolumePath] = volumePath
	}
	start := time.Now()
	// Register all at once (as many connections as Nomad allows one client), then follow their
	// deployments with one blocking query.
	var wg sync.WaitGroup
	errs := make(chan error, n)
	sem := make(chan struct{}, 32)
	for _, job := range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			if _, err := e.nomad.RegisterJob(ctx, job); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			b.Fatal(err)
		}
	}
	if err := waitDeploymentsSuccessful(ctx, e.nomad, "space-"+run, n); err != nil {
		b.Fatal(err)
	}
	elapsed := time.Since(start)
	b.Logf("raw: %d jobs registered and healthy in %s", n, elapsed.Round(time.Millisecond))
	// Stop them before the provisioning run, so both runs have the node to themselves.
	for _, job := range jobs {
		if err := e.nomad.DeregisterJob(ctx, *job.ID, false); err != nil {
			b.Fatal(err)
		}
	}
	for _, job := range jobs {
		waitJobStopped(ctx, b, e.nomad, *job.ID)
	}
	// Collect the stopped allocations now. Left alone, the Nomad client would collect them while
	// the provisioning run places its own (past gc_max_allocs, each new allocation collects a
	// terminal one), billing that run for this one's cleanup.
	nodes, _, err := e.nomad.API().Nodes().List(nil)
	if err != nil {
		b.Fatal(err)
	}
	for _, node := range nodes {
		// The endpoint answers an empty body, which this api client reports as io.EOF.
		if err := e.nomad.API().Nodes().GC(node.ID, nil); err != nil && !errors.Is(err, io.EOF) {
			b.Fatal(err)
		}
	}
	return float64(n) / elapsed.Minutes()
}

// waitDeploymentsSuccessful waits, with one blocking query, until n deployments of jobs whose id
// starts with prefix are successful (every allocation healthy).
func waitDeploymentsSuccessful(ctx context.Context, nc *nomad.Client, prefix string, n int) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	var index uint64
	for {
		q := (&nomadapi.QueryOptions{Namespace: nc.Namespace(), WaitIndex: index, WaitTime: 30 * time.Second}).WithContext(ctx)
		deps, meta, err := nc.API().Deployments().List(q)
		if err != nil {
			return err
		}
		index = meta.LastIndex
		ok := 0
		for _, d := range deps {
			if strings.HasPrefix(d.JobID, prefix) && d.Status == nomadapi.DeploymentStatusSuccessful {
				ok++
			}
		}
		if ok >= n {
			return nil
		}
	}
}

func waitJobStopped(ctx context.Context, b *testing.B, nc *nomad.Client, jobID string) {
	var index uint64
	for {
		allocs, next, err := nc.Allocations(ctx, jobID, index, 30*time.Second)
		if err != nil {
			b.Fatal(err)
		}
		index = next
		running := false
		for _, a := range allocs {
			running = running || a.ClientStatus == "running" || a.ClientStatus == "pending"
		}
		if !running {
			return
		}
	}
}
