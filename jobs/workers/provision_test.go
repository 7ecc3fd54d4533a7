package workers_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/assospaces/spaces/jobs"
	"github.com/assospaces/spaces/provisioner"
	"github.com/assospaces/spaces/provisioner/nomad"
	"github.com/assospaces/spaces/quota"
	"github.com/assospaces/spaces/templates"
	"github.com/assospaces/spaces/tenants"
	"github.com/assospaces/spaces/tenants/pgtest"
)

func TestProvisionApproveToActive(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	s := e.approve(randomSlug("e2e"))
	active := waitState(t, e.pool, s.ID, tenants.SpaceActive, tenants.SpaceFailed)
	if active.State != tenants.SpaceActive {
		t.Fatalf("space %s: %s (%s)", active.Slug, active.State, active.FailureReason)
	}
	if active.ObservedGeneration != active.Generation {
		t.Errorf("observed generation %d, generation %d", active.ObservedGeneration, active.Generation)
	}
	want := map[string]bool{provisioner.CondSecretsStored: true, provisioner.CondDatabaseReady: true,
		provisioner.CondJobRegistered: true, provisioner.CondHealthy: true, provisioner.CondBootstrapped: true, provisioner.CondReady: true}
	for _, c := range active.Conditions {
		if c.Status == "True" {
			delete(want, c.Type)
		}
	}
	if len(want) > 0 {
		t.Errorf("conditions not True: %v (all: %+v)", want, active.Conditions)
	}
	checkProvisionedOnce(t, e.pool, e.nomad, e.prov, e.admin, active)

	// The association's mail: its address, its login and the one-time password.
	wctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	mail, err := e.smtp.Wait(wctx, active.ContactEmail)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"https://" + active.Slug + "." + testDomain, provisioner.OwnerLogin(active)} {
		if !strings.Contains(mail.Text, want) {
			t.Errorf("mail lacks %q:\n%s", want, mail.Text)
		}
	}
	// The one-time password is in the mail, opens the first account, and is kept nowhere else.
	password := ownerPassword(t, e, active)
	if _, err := accessSpace(t, e, active).owner.UserDetails(wctx, provisioner.OwnerLogin(active)); err != nil {
		t.Errorf("the mailed password does not open the first account: %v", err)
	}
	var args string
	if err := e.pool.QueryRow(wctx, `SELECT string_agg(args::text, ' ') FROM river_job`).Scan(&args); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(args, password) {
		t.Error("the one-time password is in the job table in clear")
	}
	if !strings.Contains(mail.Subject, "prêt") {
		t.Errorf("subject %q is not the French space_ready mail", mail.Subject)
	}

	// A second pass over an active space changes nothing.
	if out, err := e.prov.Provision(context.Background(), s.ID, nil); err != nil || out != provisioner.Activated {
		t.Errorf("second pass: %v, %v", out, err)
	}
	trail, err := tenants.AuditTrail(context.Background(), e.pool, "space", s.ID)
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, a := range trail {
		actions = append(actions, a.Action)
	}
	if strings.Join(actions, ",") != "space.create,space.provision,space.activate" {
		t.Errorf("audit trail = %v", actions)
	}
}

// TestProvisionRepeatedPasses runs every step again over a space provisioned already, as a
// crash right before activation would: nothing is duplicated.
func TestProvisionStepsAreIdempotent(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	s := e.approve(randomSlug("idem"))
	waitState(t, e.pool, s.ID, tenants.SpaceActive)
	ctx := context.Background()
	// Back to provisioning as if the activation had not committed, then a full pass by hand.
	if _, err := e.pool.Exec(ctx, `UPDATE spaces SET state = 'provisioning' WHERE id = $1`, s.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.pool.Exec(ctx, `DELETE FROM river_job WHERE kind = 'send_mail'`); err != nil {
		t.Fatal(err)
	}
	out, err := e.prov.Provision(ctx, s.ID, func(ctx context.Context, tx pgxTx, r provisioner.Ready) error {
		_, err := e.client.InsertTx(ctx, tx, jobs.SendMailArgs{To: r.Space.ContactEmail, Template: "space_ready", Sealed: "x"}, nil)
		return err
	})
	if err != nil || out != provisioner.Activated {
		t.Fatalf("pass: %v %v", out, err)
	}
	s, _ = tenants.GetSpace(ctx, e.pool, s.ID)
	checkProvisionedOnce(t, e.pool, e.nomad, e.prov, e.admin, s)
	job, err := e.nomad.Job(ctx, provisioner.JobID(s.Slug))
	if err != nil || *job.Version != 0 {
		t.Errorf("job version after a second pass = %v (%v): the job was registered again", *job.Version, err)
	}
}

func TestProvisionNomadUnreachableThenBack(t *testing.T) {
	t.Parallel()
	proxy := newFlakyProxy(t, nomadAddr(t))
	proxy.set(proxyRefuse)
	e := newEnv(t, envOptions{nomadAddr: proxy.URL})
	s := e.approve(randomSlug("flaky"))
	// Wait for a failed attempt recorded by River, then let Nomad be reached again.
	waitFor(t, "a failed attempt", func() bool {
		var n int
		e.pool.QueryRow(context.Background(), `SELECT coalesce(max(cardinality(errors)), 0) FROM river_job
			WHERE kind = 'provision_space' AND (args->>'space_id')::bigint = $1`, s.ID).Scan(&n) //nolint:errcheck
		return n >= 1
	})
	if cur, _ := tenants.GetSpace(context.Background(), e.pool, s.ID); cur.State != tenants.SpaceProvisioning {
		t.Errorf("while Nomad is unreachable the space is %s, want provisioning", cur.State)
	}
	proxy.set(proxyForward)
	active := waitState(t, e.pool, s.ID, tenants.SpaceActive, tenants.SpaceFailed)
	if active.State != tenants.SpaceActive {
		t.Fatalf("space %s (%s)", active.State, active.FailureReason)
	}
	if proxy.refused.Load() == 0 {
		t.Error("the proxy refused nothing")
	}
	checkProvisionedOnce(t, e.pool, e.nomad, e.prov, e.admin, active)
}

func TestProvisionBrokenTemplateFails(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct{ body, reason string }{
		"does not render": {`job [[ hcl .JobID ]] { [[ .NoSuchField ]] }`, "does not render"},
		"nomad refuses":   {`job [[ hcl .JobID ]] { group "g" { task "t" { driver = "raw_exec" `, "Nomad refuses the jobspec"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, templates.FileName(templates.Dev)), []byte(tc.body), 0o600); err != nil {
				t.Fatal(err)
			}
			e := newEnv(t, envOptions{templateDir: dir})
			s := e.approve(randomSlug("broken"))
			failed := waitState(t, e.pool, s.ID, tenants.SpaceFailed, tenants.SpaceActive)
			if failed.State != tenants.SpaceFailed || !strings.Contains(failed.FailureReason, tc.reason) {
				t.Fatalf("space %s, reason %q; want failed with %q", failed.State, failed.FailureReason, tc.reason)
			}
			if !strings.Contains(failed.FailureReason, "nomad job") {
				t.Errorf("reason %q does not name the step", failed.FailureReason)
			}
			// Retried with the template fixed, it resumes and ends active.
			fixed, err := templates.Load("")
			if err != nil {
				t.Fatal(err)
			}
			*e.templates = *fixed
			if _, err := jobs.RetrySpace(context.Background(), e.pool, e.client, s.ID, tenants.TokenActor(7)); err != nil {
				t.Fatal(err)
			}
			if got := waitState(t, e.pool, s.ID, tenants.SpaceActive, tenants.SpaceFailed); got.State != tenants.SpaceActive {
				t.Fatalf("after retry: %s (%s)", got.State, got.FailureReason)
			}
		})
	}
}

// With the ceiling read from Nomad, it is what the node offers divided by what the jobspec asks,
// on whichever resource runs out first. Nothing is placed: the sizes are made up to fit 2 and 3.
func TestCapacityFromNomadNodes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	nc, err := nomad.New(nomad.Config{Address: nomadAddr(t)})
	if err != nil {
		t.Fatal(err)
	}
	nodes, err := nc.Nodes(ctx)
	if err != nil || len(nodes) != 1 || nodes[0].NodeResources == nil {
		t.Fatalf("want the one dev node with its resources: %v, %v", nodes, err)
	}
	n := nodes[0]
	cpu := int(n.NodeResources.Cpu.CpuShares) - int(n.ReservedResources.Cpu.CpuShares)
	mem := int(n.NodeResources.Memory.MemoryMB) - int(n.ReservedResources.Memory.MemoryMB)
	for _, tt := range []struct {
		name string
		opts envOptions
		want int
	}{
		{"memory runs out first", envOptions{cpu: 20, memoryMB: mem/3 + 1}, 2},
		{"cpu runs out first", envOptions{cpu: cpu/4 + 1, memoryMB: 48}, 3},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tt.opts.capacityFromNomad = true
			e := newEnv(t, tt.opts)
			got, err := e.prov.Ceiling(ctx)
			if err != nil || got != tt.want {
				t.Errorf("Ceiling() = %d, %v; want %d", got, err, tt.want)
			}
		})
	}
	// Room for no space at all is an error, not "no ceiling".
	e := newEnv(t, envOptions{capacityFromNomad: true, cpu: cpu + 1, memoryMB: 48})
	if got, err := e.prov.Ceiling(ctx); err == nil {
		t.Errorf("Ceiling() = %d with no room on any node, want an error", got)
	}
}

func TestProvisionCapacityQueuesInApprovalOrder(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{capacity: 1})
	first := e.approve(randomSlug("capa"))
	second := e.approve(randomSlug("capb"))
	waitState(t, e.pool, first.ID, tenants.SpaceActive)
	ctx := context.Background()
	// The second space's job ran and found no room: it waits, and says where.
	waitFor(t, "the second space's pass to finish", func() bool {
		var n int
		e.pool.QueryRow(ctx, `SELECT count(*) FROM river_job WHERE kind = 'provision_space'
			AND (args->>'space_id')::bigint = $1 AND state = 'completed'`, second.ID).Scan(&n) //nolint:errcheck
		return n > 0
	})
	st, err := tenants.SpaceWaitingListStatus(ctx, e.pool, second.ID, 1)
	if err != nil {
		t.Fatal(err)
	}
	if cur, _ := tenants.GetSpace(ctx, e.pool, second.ID); cur.State != tenants.SpaceQueued || st.Position != 1 || !st.WaitingForRoom {
		t.Fatalf("second space %s, queue status %+v", cur.State, st)
	}
	// The first space leaves (an operator deletes it): the second starts by itself.
	for _, to := range []tenants.SpaceState{tenants.SpaceDeleting, tenants.SpaceDeleted} {
		if _, err := tenants.TransitionSpace(ctx, e.pool, first.ID, tenants.Transition{To: to, Actor: tenants.TokenActor(1), DeleteAfter: time.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.client.Insert(ctx, jobs.AdmitSpacesArgs{}, nil); err != nil {
		t.Fatal(err)
	}
	if got := waitState(t, e.pool, second.ID, tenants.SpaceActive, tenants.SpaceFailed); got.State != tenants.SpaceActive {
		t.Fatalf("second space %s (%s)", got.State, got.FailureReason)
	}
}

// TestProvisionContactAddressNextcloudRefusesAsLogin: a contact address with a character
// Nextcloud refuses in a login still gets its space; the mail names the login it was given.
func TestProvisionContactAddressNextcloudRefusesAsLogin(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	ctx := context.Background()
	slug := randomSlug("plus")
	var s tenants.Space
	err := pgx.BeginFunc(ctx, e.pool, func(tx pgx.Tx) error {
		var err error
		s, err = tenants.CreateSpace(ctx, tx, tenants.NewSpace{Slug: slug, AssociationName: "Asso " + slug,
			ContactEmail: "asso+cloud@" + slug + ".example", Locale: "en", Limits: quota.Limits{StorageBytes: quota.GB, Accounts: 5}},
			tenants.ModeratorActor(1))
		if err != nil {
			return err
		}
		_, err = e.client.InsertTx(ctx, tx, jobs.ProvisionSpaceArgs{SpaceID: s.ID}, nil)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	cleanupSpace(t, pgtest.ServerURL(t), slug)
	t.Cleanup(func() { e.client.Stop(context.Background()) }) //nolint:errcheck // before cleanupSpace, as approveSpace does
	s = waitState(t, e.pool, s.ID, tenants.SpaceActive, tenants.SpaceFailed)
	if s.State != tenants.SpaceActive {
		t.Fatalf("space %s: %s (%s)", s.Slug, s.State, s.FailureReason)
	}
	wctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	mail, err := e.smtp.Wait(wctx, s.ContactEmail)
	if err != nil {
		t.Fatal(err)
	}
	login := "asso_cloud@" + slug + ".example"
	if !strings.Contains(mail.Text, "login: "+login) {
		t.Errorf("mail does not name the login %s:\n%s", login, mail.Text)
	}
	owner, err := accessSpace(t, e, s).admin.UserDetails(wctx, login)
	if err != nil || owner.Email != s.ContactEmail {
		t.Errorf("first account %s: %+v, %v; want its email to be the contact address", login, owner, err)
	}
}
