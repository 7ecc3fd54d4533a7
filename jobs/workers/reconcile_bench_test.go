package workers_test

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	nomadapi "github.com/hashicorp/nomad/api"

	"github.com/assospaces/spaces/provisioner"
	"github.com/assospaces/spaces/provisioner/nomad"
	"github.com/assospaces/spaces/templates"
	"github.com/assospaces/spaces/tenants"
	"github.com/assospaces/spaces/tenants/pgtest"
)

// BenchmarkReconcilePass measures a steady-state reconcile pass over 10,000 active spaces whose
// jobs are registered in the real Nomad agent with count 0 (the agent cannot run 10,000
// stand-ins; every job, its meta and its summary are listed as for running ones). It reports
// the Nomad API calls of one pass (target ≤ 3) and its wall time (target < 1 s), and checks that
// a steady pass repairs and writes nothing.
func BenchmarkReconcilePass(b *testing.B) {
	const n = 10_000
	ctx := context.Background()
	pool, _ := pgtest.New(b)
	proxy := newFlakyProxy(b, nomadAddr(b))
	nc, err := nomad.New(nomad.Config{Address: proxy.URL})
	if err != nil {
		b.Fatal(err)
	}
	set, err := templates.Load("")
	if err != nil {
		b.Fatal(err)
	}
	prov, err := provisioner.New(ctx, provisioner.Config{BaseDomain: testDomain, Template: templates.Dev, Templates: set,
		StandinBin: "/bin/true", TenantDatabaseURL: pgtest.ServerURL(b)}, pool, nc, testLogger(b))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(prov.Close)

	// 10,000 active spaces, in one statement.
	prefix := randomSlug("rb")
	_, err = pool.Exec(ctx, `INSERT INTO spaces (slug, association_name, contact_email, storage_limit_bytes, account_limit, state)
		SELECT $1 || '-' || i, 'Asso ' || i, 'c' || i || '@example.org', 40 * 1024^3, 50, 'active'
		FROM generate_series(1, $2) AS i`, prefix, n)
	if err != nil {
		b.Fatal(err)
	}
	spaces, err := tenants.SpacesToReconcile(ctx, pool)
	if err != nil {
		b.Fatal(err)
	}

	// One parsed jobspec, registered 10,000 times under each space's id and meta, count 0.
	direct := newDirectNomad(b)
	hcl, err := set.Render(templates.Dev, prov.Params(spaces[0]))
	if err != nil {
		b.Fatal(err)
	}
	base, err := direct.ParseJob(ctx, hcl)
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	forEach(b, spaces, 32, func(s tenants.Space) error {
		hcl, err := set.Render(templates.Dev, prov.Params(s))
		if err != nil {
			return err
		}
		job := cloneJob(base, provisioner.JobID(s.Slug))
		job.TaskGroups[0].Count = intp(0)
		job.Meta = map[string]string{provisioner.MetaSpaceID: strconv.FormatInt(s.ID, 10),
			provisioner.MetaGeneration: strconv.FormatInt(s.Generation, 10), provisioner.MetaSpecHash: provisioner.SpecHash(hcl)}
		_, err = direct.RegisterJob(ctx, job)
		return err
	})
	b.Logf("registered %d jobs in %s", n, time.Since(start).Round(time.Millisecond))
	b.Cleanup(func() {
		forEach(b, spaces, 32, func(s tenants.Space) error {
			return direct.DeregisterJob(context.Background(), provisioner.JobID(s.Slug), true)
		})
	})

	// A first pass records the conditions (no allocation: not healthy); the measured ones are steady.
	if _, err := prov.Reconcile(ctx, nil); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	var calls int
	for range b.N {
		before := len(proxy.requestsSeen())
		rep, err := prov.Reconcile(ctx, nil)
		if err != nil {
			b.Fatal(err)
		}
		calls = len(proxy.requestsSeen()) - before
		if rep.Active < n || len(rep.Repairs) != 0 {
			b.Fatalf("pass: %d active, %d repairs; want %d and none", rep.Active, len(rep.Repairs), n)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(calls), "nomad-calls/pass")
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/pass")
}

// BenchmarkDriftRepair measures, with the whole service running, the time from a space's job
// stopped behind the service's back to the space reported Healthy again (target < 5 s).
func BenchmarkDriftRepair(b *testing.B) {
	e := newEnv(b, envOptions{})
	s := e.approve(randomSlug("drb"))
	s = waitState(b, e.pool, s.ID, tenants.SpaceActive, tenants.SpaceFailed)
	if s.State != tenants.SpaceActive {
		b.Fatalf("space %s: %s (%s)", s.Slug, s.State, s.FailureReason)
	}
	ctx := context.Background()
	jobID := provisioner.JobID(s.Slug)
	var total, registered time.Duration
	b.ResetTimer()
	for range b.N {
		start := time.Now()
		if err := e.nomad.DeregisterJob(ctx, jobID, false); err != nil {
			b.Fatal(err)
		}
		waitFor(b, "the job registered again", func() bool {
			job, err := e.nomad.Job(ctx, jobID)
			return err == nil && (job.Stop == nil || !*job.Stop)
		})
		registered += time.Since(start)
		waitHealthyAgain(b, e, s)
		total += time.Since(start)
		// Let the repaired allocation settle before the next round.
		time.Sleep(2 * time.Second)
	}
	b.StopTimer()
	b.ReportMetric(float64(registered.Milliseconds())/float64(b.N), "ms-to-registered")
	b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "ms-to-healthy")
}

// forEach runs f over spaces, width at a time, failing b on the first error.
func forEach(b testing.TB, spaces []tenants.Space, width int, f func(tenants.Space) error) {
	var wg sync.WaitGroup
	var once sync.Once
	var first error
	slots := make(chan struct{}, width)
	for _, s := range spaces {
		wg.Add(1)
		slots <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-slots }()
			if err := f(s); err != nil {
				once.Do(func() { first = err })
			}
		}()
	}
	wg.Wait()
	if first != nil {
		b.Fatal(first)
	}
}

// cloneJob copies job under another id (a deep copy through the fields a registration changes).
func cloneJob(job *nomadapi.Job, id string) *nomadapi.Job {
	c := *job
	c.ID, c.Name = &id, &id
	tgs := make([]*nomadapi.TaskGroup, len(job.TaskGroups))
	for i, tg := range job.TaskGroups {
		t := *tg
		services := make([]*nomadapi.Service, len(tg.Services))
		for j, svc := range tg.Services {
			sv := *svc
			sv.Name = strings.ReplaceAll(sv.Name, *job.ID, id)
			services[j] = &sv
		}
		t.Services = services
		tgs[i] = &t
	}
	c.TaskGroups = tgs
	return &c
}
