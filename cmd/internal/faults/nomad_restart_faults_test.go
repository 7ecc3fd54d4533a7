//go:build faults

package faults_test

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/assospaces/spaces/cmd/internal/devenv"
	"github.com/assospaces/spaces/jobs"
	"github.com/assospaces/spaces/jobs/workers"
	"github.com/assospaces/spaces/provisioner"
	"github.com/assospaces/spaces/provisioner/nomad"
	"github.com/assospaces/spaces/quota"
	"github.com/assospaces/spaces/templates"
	"github.com/assospaces/spaces/tenants"
	"github.com/assospaces/spaces/tenants/notify"
	"github.com/assospaces/spaces/tenants/notify/smtptest"
	"github.com/assospaces/spaces/tenants/pgtest"
	"github.com/assospaces/spaces/tenants/secretbox"
)

// privateNomad starts a persistent single-node Nomad agent of the test's own (its state on disk,
// as a production server's), so that the test can restart it without touching the suite's agent.
func privateNomad(t *testing.T) *devenv.Nomad {
	t.Helper()
	bin := os.Getenv("SPACES_NOMAD_BIN")
	if bin == "" {
		t.Fatal("SPACES_NOMAD_BIN is not set: this test starts a Nomad agent of its own (run it with make faults)")
	}
	port, err := devenv.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	n := &devenv.Nomad{Bin: bin, Dir: filepath.Join(privateDir(t), "nomad"), HTTPPort: port, Persistent: true}
	t.Cleanup(func() {
		if err := n.Stop(); err != nil {
			t.Logf("stop the private nomad agent: %v", err)
		}
	})
	if err := n.Start(context.Background(), testLogger(t)); err != nil {
		t.Fatalf("private nomad agent: %v", err)
	}
	return n
}

// TestFaultNomadRestart: a burst of approvals is being provisioned when the Nomad server (a
// persistent agent, state on disk) is stopped and started again; its tasks die with it. Every
// space still ends active, once: one job each, one first account, one space_ready mail each,
// delivered once.
func TestFaultNomadRestart(t *testing.T) {
	ctx := context.Background()
	agent := privateNomad(t)
	pool, _ := pgtest.New(t)
	admin := pgtest.ServerURL(t)
	logger := testLogger(t)

	nc, err := nomad.New(nomad.Config{Address: agent.Addr()})
	if err != nil {
		t.Fatal(err)
	}
	set, err := templates.Load("")
	if err != nil {
		t.Fatal(err)
	}
	standin := os.Getenv("SPACES_STANDIN_BIN")
	if standin == "" {
		t.Fatal("SPACES_STANDIN_BIN is not set (run this test with make faults)")
	}
	prov, err := provisioner.New(ctx, provisioner.Config{BaseDomain: "spaces.test", Template: templates.Dev, Templates: set,
		StandinBin: standin, TenantDatabaseURL: pgtest.ProvisionerURL(t), HealthTimeout: 2 * time.Minute}, pool, nc, logger)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(prov.Close)
	mailbox, err := smtptest.Start("127.0.0.1:0", smtptest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mailbox.Close() })
	u, _ := url.Parse(mailbox.URL())
	sender, err := notify.NewSMTP(u, "Espaces <no-reply@spaces.test>")
	if err != nil {
		t.Fatal(err)
	}
	tpls, err := notify.ParseTemplates()
	if err != nil {
		t.Fatal(err)
	}
	box, _ := secretbox.New([]byte(strings.Repeat("k", secretbox.KeySize)))

	const burst = 4
	var spaces []tenants.Space
	for i := range burst {
		slug := fmt.Sprintf("burst%d-%d", i, time.Now().UnixNano()%1_000_000)
		t.Cleanup(func() { dropTenantDatabase(admin, slug) })
		spaces = append(spaces, tenants.Space{Slug: slug})
	}
	client, err := workers.NewClient(pool, workers.Deps{Logger: logger, Pool: pool, Box: box, Provisioner: prov,
		Mailer: &notify.Mailer{Templates: tpls, Sender: sender}, PublicURL: "http://spaces.test"})
	if err != nil {
		t.Fatal(err)
	}
	if err := client.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		client.Stop(sctx) //nolint:errcheck
	})

	// The burst: every approval at once, each its space and its provisioning job in one transaction.
	for i := range spaces {
		err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
			var err error
			spaces[i], err = tenants.CreateSpace(ctx, tx, tenants.NewSpace{Slug: spaces[i].Slug, AssociationName: "Asso " + spaces[i].Slug,
				ContactEmail: "contact@" + spaces[i].Slug + ".example", Locale: "fr", Limits: quota.Limits{StorageBytes: quota.GB, Accounts: 5}},
				tenants.ModeratorActor(1))
			if err != nil {
				return err
			}
			_, err = client.InsertTx(ctx, tx, jobs.ProvisionSpaceArgs{SpaceID: spaces[i].ID}, nil)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}

	// Restart Nomad once provisioning reached it, before the burst is done.
	waitFor(t, "a space's job registered", func() bool {
		jobs, err := nc.ListJobs(ctx, "space-")
		return err == nil && len(jobs) > 0
	})
	active := 0
	for _, s := range spaces {
		if cur, err := tenants.GetSpace(ctx, pool, s.ID); err == nil && cur.State == tenants.SpaceActive {
			active++
		}
	}
	if active == burst {
		t.Fatal("the burst was provisioned before Nomad could be restarted")
	}
	if err := agent.Stop(); err != nil {
		t.Logf("stop nomad: %v", err)
	}
	if err := agent.Start(ctx, logger); err != nil {
		t.Fatalf("start nomad again: %v", err)
	}
	t.Logf("nomad restarted with %d of %d spaces active", active, burst)

	for i, s := range spaces {
		var cur tenants.Space
		waitFor(t, "space "+s.Slug+" active", func() bool {
			var err error
			cur, err = tenants.GetSpace(ctx, pool, s.ID)
			if err != nil {
				t.Fatal(err)
			}
			if cur.State == tenants.SpaceFailed {
				t.Fatalf("space %s failed: %s", s.Slug, cur.FailureReason)
			}
			return cur.State == tenants.SpaceActive
		})
		spaces[i] = cur
	}
	list, err := nc.ListJobs(ctx, "space-")
	if err != nil {
		t.Fatal(err)
	}
	jobsOf := map[string]int{}
	for _, j := range list {
		jobsOf[j.ID]++
	}
	for _, s := range spaces {
		if n := jobsOf[provisioner.JobID(s.Slug)]; n != 1 {
			t.Errorf("space %s has %d jobs, want 1", s.Slug, n)
		}
		var mails int
		if err := pool.QueryRow(ctx, `SELECT count(*) FROM river_job WHERE kind = 'send_mail' AND args->>'template' = 'space_ready'
			AND args->>'to' = $1`, s.ContactEmail).Scan(&mails); err != nil {
			t.Fatal(err)
		}
		if mails != 1 {
			t.Errorf("space %s: %d space_ready mails enqueued, want 1", s.Slug, mails)
		}
	}
	if len(list) != burst {
		t.Errorf("%d jobs in Nomad, want %d", len(list), burst)
	}
	wctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	if _, err := mailbox.WaitCount(wctx, burst); err != nil {
		t.Fatalf("space_ready mails: %v", err)
	}
	got := map[string]int{}
	for _, m := range mailbox.Messages() {
		for _, to := range m.To {
			got[to]++
		}
	}
	for _, s := range spaces {
		if got[s.ContactEmail] != 1 {
			t.Errorf("%s got %d mails, want 1", s.ContactEmail, got[s.ContactEmail])
		}
	}
}

// dropTenantDatabase removes the tenant role and database provisioning made for slug on the
// suite's server.
func dropTenantDatabase(admin, slug string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		return
	}
	defer conn.Close(ctx)
	name := pgx.Identifier{provisioner.DatabaseName(slug)}.Sanitize()
	conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)") //nolint:errcheck
	conn.Exec(ctx, "DROP ROLE IF EXISTS "+name)                     //nolint:errcheck
}
