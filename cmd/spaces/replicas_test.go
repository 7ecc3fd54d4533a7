package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/assospaces/spaces/provisioner"
	"github.com/assospaces/spaces/provisioner/nomad"
	"github.com/assospaces/spaces/tenants"
	"github.com/assospaces/spaces/tenants/notify/smtptest"
	"github.com/assospaces/spaces/tenants/pgtest"
)

// replica is one real `spaces serve` process of the test.
type replica struct {
	t             *testing.T
	name          string
	addr, metrics string
	log           string
	cmd           *exec.Cmd
	exited        chan struct{}
	clientID      string // River's id of its client, read from its log
	killed        bool
}

// startReplica runs `spaces serve` with env on its own addresses and waits until it answers.
func startReplica(t *testing.T, name string, env []string) *replica {
	t.Helper()
	r := &replica{t: t, name: name, addr: "127.0.0.1:" + itoa(freePort(t)), metrics: "127.0.0.1:" + itoa(freePort(t)),
		log: filepath.Join(t.TempDir(), name+".log"), exited: make(chan struct{})}
	f, err := os.Create(r.log)
	if err != nil {
		t.Fatal(err)
	}
	// The test binary is `spaces` (TestMain); no SPACES_ or NOMAD_ setting of the caller's
	// environment reaches it, only the test's.
	r.cmd = exec.Command(os.Args[0], "serve")
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SPACES_") && !strings.HasPrefix(kv, "NOMAD_") {
			r.cmd.Env = append(r.cmd.Env, kv)
		}
	}
	r.cmd.Env = append(append(r.cmd.Env, env...), "SPACES_TEST_MAIN=1", "SPACES_LISTEN="+r.addr, "SPACES_METRICS_ADDR="+r.metrics)
	r.cmd.Stdout, r.cmd.Stderr = f, f
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { r.cmd.Wait(); f.Close(); close(r.exited) }() //nolint:errcheck
	t.Cleanup(func() {
		if !r.killed {
			r.cmd.Process.Signal(syscall.SIGTERM) //nolint:errcheck
			select {
			case <-r.exited:
				if code := r.cmd.ProcessState.ExitCode(); code != 0 {
					t.Errorf("replica %s exited with code %d after SIGTERM, want 0", r.name, code)
				}
			case <-time.After(60 * time.Second):
				t.Errorf("replica %s still running a minute after SIGTERM", r.name)
				r.cmd.Process.Kill() //nolint:errcheck
				<-r.exited
			}
		}
		if b, _ := os.ReadFile(r.log); strings.Contains(string(b), "WARNING: DATA RACE") {
			t.Errorf("replica %s reported a data race", r.name)
		}
		if t.Failed() {
			b, _ := os.ReadFile(r.log)
			t.Logf("log of replica %s:\n%s", r.name, b)
		}
	})
	waitUntil(t, "replica "+name+" to answer /healthz", func() bool {
		select {
		case <-r.exited:
			b, _ := os.ReadFile(r.log)
			t.Fatalf("replica %s exited:\n%s", name, b)
		default:
		}
		resp, err := http.Get("http://" + r.addr + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	// River's debug log names its client: that is how river_leader names the leader.
	waitUntil(t, "replica "+name+"'s River client id in its log", func() bool {
		r.clientID = r.logMatch(riverClientID)
		return r.clientID != ""
	})
	return r
}

var riverClientID = regexp.MustCompile(`client_id=(\S+)`)

// logMatch is the first submatch of re in the replica's log, "" when there is none yet.
func (r *replica) logMatch(re *regexp.Regexp) string {
	f, err := os.Open(r.log)
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if m := re.FindStringSubmatch(sc.Text()); m != nil {
			return m[1]
		}
	}
	return ""
}

// logCount counts the lines of the replica's log that match re.
func (r *replica) logCount(re *regexp.Regexp) int {
	b, _ := os.ReadFile(r.log)
	return len(re.FindAll(b, -1))
}

// kill ends the replica with SIGKILL: no graceful stop, its River client stays "leader" in the
// database until its lease runs out.
func (r *replica) kill() {
	r.t.Helper()
	r.killed = true
	if err := r.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		r.t.Fatal(err)
	}
	<-r.exited
}

// get sends a GET to the replica with the bearer token (none when empty).
func (r *replica) get(path, token string) (int, string) {
	r.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, "http://"+r.addr+path, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		r.t.Fatalf("GET %s on replica %s: %v", path, r.name, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// approve approves application id through the replica's JSON API, as `spaces application
// approve` does.
func (r *replica) approve(id int64, token string) {
	r.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, "http://"+r.addr+"/api/v1/applications/"+strconv.FormatInt(id, 10)+"/approve", strings.NewReader("{}"))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		r.t.Fatal(err)
	}
	defer resp.Body.Close()
	if b, _ := io.ReadAll(resp.Body); resp.StatusCode != http.StatusAccepted {
		r.t.Fatalf("approve %d on replica %s: %s %s", id, r.name, resp.Status, b)
	}
}

// metric is the value of one series in the replica's /metrics (its text format, series written
// as name{labels} exactly); -1 when absent.
func (r *replica) metric(series string) float64 {
	r.t.Helper()
	resp, err := http.Get("http://" + r.metrics + "/metrics")
	if err != nil {
		r.t.Fatalf("scrape replica %s: %v", r.name, err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), series+" "); ok {
			v, err := strconv.ParseFloat(rest, 64)
			if err != nil {
				r.t.Fatalf("series %s: %v", series, err)
			}
			return v
		}
	}
	return -1
}

// waitUntil polls cond; the limit only guards a hung test, it asserts nothing about speed.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Minute); !cond(); time.Sleep(200 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
	}
}

// TestReplicasShareTheWorkAndSurviveTheLeadersDeath runs two real `spaces serve` on one database
// and the real Nomad agent. Both serve the web UI and the JSON API; River elects one leader, which
// runs the periodic work. A space approved through one is provisioned once, a job stopped behind
// the service's back is repaired once though both processes watch Nomad, and each mail goes once.
// Then the leader is killed (SIGKILL, no goodbye): the other takes the lead when the lease runs
// out, runs the periodic reconcile pass, and provisions a space approved after the kill, once.
func TestReplicasShareTheWorkAndSurviveTheLeadersDeath(t *testing.T) {
	nomadAddr, standin := os.Getenv("NOMAD_ADDR"), os.Getenv("SPACES_STANDIN_BIN")
	if nomadAddr == "" || standin == "" {
		t.Fatal("NOMAD_ADDR and SPACES_STANDIN_BIN must name the Nomad agent and the stand-in binary (make test sets them)")
	}
	pool, dbURL := pgtest.New(t)
	ctx := context.Background()
	mail, err := smtptest.Start("127.0.0.1:0", smtptest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mail.Close() })
	_, token, err := tenants.CreateAPIToken(ctx, pool, tenants.NewAPIToken{Name: "ops", Scope: tenants.ScopeOperator}, tenants.ActorSystem)
	if err != nil {
		t.Fatal(err)
	}

	// Two applications, for spaces approved before and after the kill; their slugs are unique on
	// the shared Nomad agent. Everything outside the database goes once both servers stopped
	// (this cleanup is registered first, so it runs last).
	var apps []tenants.Application
	for _, when := range []string{"before", "after"} {
		b := make([]byte, 4)
		rand.Read(b) //nolint:errcheck
		slug := "rep-" + when + "-" + hex.EncodeToString(b)
		a, err := tenants.SubmitApplication(ctx, pool, tenants.NewApplication{AssociationName: "Asso " + when,
			LegalID: "W00000000" + strconv.Itoa(len(apps)+1), Slug: slug, ContactName: "Camille",
			ContactEmail: when + "@asso.example", Purpose: "Jardiner ensemble.", Activities: "Ateliers.",
			ExpectedAccounts: 5, Locale: "fr", StatusToken: tenants.NewSecret("st_"), SubmissionKey: tenants.NewSecret("sub_")}, nil)
		if err != nil {
			t.Fatal(err)
		}
		apps = append(apps, a)
		t.Cleanup(func() { removeSpace(nomadAddr, pgtest.ServerURL(t), slug) })
	}

	env := []string{
		"SPACES_DATABASE_URL=" + dbURL, "SPACES_TENANT_DATABASE_URL=" + pgtest.ProvisionerURL(t),
		"NOMAD_ADDR=" + nomadAddr, "SPACES_NOMAD_TEMPLATE=dev", "SPACES_STANDIN_BIN=" + standin,
		"SPACES_BASE_DOMAIN=spaces.test", "SPACES_SMTP_URL=" + mail.URL(), "SPACES_PUBLIC_URL=http://spaces.test",
		"SPACES_SECRET_KEY=" + base64.StdEncoding.EncodeToString([]byte(strings.Repeat("s", 32))),
		"SPACES_DEFAULT_STORAGE=1 GB", "SPACES_DEFAULT_ACCOUNTS=5", "SPACES_PROVISION_TIMEOUT=2m",
		"SPACES_CAPACITY=0", "SPACES_LOG_LEVEL=debug", "SPACES_LOG_FORMAT=text",
	}
	replicas := []*replica{startReplica(t, "a", env), startReplica(t, "b", env)}

	// Both serve the public form, the moderators' login and the JSON API.
	for _, r := range replicas {
		if code, body := r.get("/", ""); code != http.StatusOK || !strings.Contains(body, `name="csrf_token"`) {
			t.Errorf("GET / on replica %s: %d", r.name, code)
		}
		if code, _ := r.get("/moderation/login", ""); code != http.StatusOK {
			t.Errorf("GET /moderation/login on replica %s: %d", r.name, code)
		}
		if code, body := r.get("/api/v1/applications", token); code != http.StatusOK || !strings.Contains(body, apps[0].Slug) {
			t.Errorf("GET /api/v1/applications on replica %s: %d %s", r.name, code, body)
		}
	}

	// One of them leads.
	leaderOf := func() *replica {
		var id string
		err := pool.QueryRow(ctx, `SELECT leader_id FROM river_leader WHERE expires_at > now()`).Scan(&id)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			t.Fatal(err)
		}
		for _, r := range replicas {
			if r.clientID == id {
				return r
			}
		}
		return nil
	}
	var leader *replica
	waitUntil(t, "a leader among the replicas", func() bool { leader = leaderOf(); return leader != nil })
	var survivor *replica
	for _, r := range replicas {
		if r != leader {
			survivor = r
		}
	}
	t.Logf("replica %s leads (%s); replica %s follows (%s)", leader.name, leader.clientID, survivor.name, survivor.clientID)

	// A space approved through the follower is provisioned once.
	survivor.approve(apps[0].ID, token)
	first := waitSpace(t, pool, apps[0].Slug, tenants.SpaceActive)

	// Its job stopped behind the service's back: both processes see it in Nomad's event stream,
	// and it is registered again once.
	stopped := time.Now()
	nc, err := nomad.New(nomad.Config{Address: nomadAddr})
	if err != nil {
		t.Fatal(err)
	}
	defer nc.API().Close()
	if err := nc.DeregisterJob(ctx, provisioner.JobID(first.Slug), false); err != nil {
		t.Fatal(err)
	}
	repaired := regexp.MustCompile(`msg="space job repaired" space=` + regexp.QuoteMeta(first.Slug) + ` reason=JobStopped`)
	repairs := func() int { return replicas[0].logCount(repaired) + replicas[1].logCount(repaired) }
	waitUntil(t, "the stopped job to be repaired", func() bool { return repairs() > 0 })
	// The pass that repairs it records Drifted (JobStopped); a later one finds it in sync again.
	waitUntil(t, "the repaired space to be healthy and in sync again", func() bool {
		s, err := tenants.GetSpaceBySlug(ctx, pool, first.Slug)
		if err != nil {
			t.Fatal(err)
		}
		var healthy, inSync bool
		for _, c := range s.Conditions {
			healthy = healthy || (c.Type == "Healthy" && c.Status == "True")
			inSync = inSync || (c.Type == "Drifted" && c.Reason == "InSync" && c.Since.After(stopped))
		}
		return healthy && inSync
	})
	if n := repairs(); n != 1 {
		t.Errorf("the stopped job was repaired %d times, want once", n)
	}
	series := `spaces_reconcile_repairs_total{outcome="repaired",reason="JobStopped"}`
	if n := max(leader.metric(series), 0) + max(survivor.metric(series), 0); n != 1 {
		t.Errorf("%s summed over the replicas = %v, want 1", series, n)
	}

	// The first space's mails (approval, ready) are sent before the kill: a mail job the killed
	// replica was running would wait for River's rescue, and might then go twice (at least once
	// is all a crash allows).
	mailsFinished := func() bool {
		var open int
		if err := pool.QueryRow(ctx, `SELECT count(*) FROM river_job WHERE kind = 'send_mail' AND state <> 'completed'`).Scan(&open); err != nil {
			t.Fatal(err)
		}
		return open == 0
	}
	waitUntil(t, "the first space's mails to be sent", func() bool { return len(mail.Messages()) >= 2 && mailsFinished() })

	// The leader dies without a word.
	var killedAt time.Time
	if err := pool.QueryRow(ctx, `SELECT now()`).Scan(&killedAt); err != nil {
		t.Fatal(err)
	}
	leader.kill()

	// The survivor provisions a space approved after the kill...
	survivor.approve(apps[1].ID, token)
	second := waitSpace(t, pool, apps[1].Slug, tenants.SpaceActive)
	// ...takes the lead once the dead leader's lease runs out...
	waitUntil(t, "replica "+survivor.name+" to lead", func() bool { return leaderOf() == survivor })
	var electedAt time.Time
	if err := pool.QueryRow(ctx, `SELECT elected_at FROM river_leader`).Scan(&electedAt); err != nil {
		t.Fatal(err)
	}
	t.Logf("replica %s leads %s after the kill", survivor.name, electedAt.Sub(killedAt).Round(time.Millisecond))
	// ...and runs the leader's periodic work: a reconcile pass the periodic enqueuer inserted
	// after the kill, worked by the survivor.
	waitUntil(t, "a periodic reconcile pass after the kill", func() bool {
		var n int
		if err := pool.QueryRow(ctx, `SELECT count(*) FROM river_job WHERE kind = 'reconcile_spaces' AND state = 'completed'
			AND (metadata->>'periodic')::boolean AND created_at > $1 AND $2 = ANY(attempted_by)`, killedAt, survivor.clientID).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n > 0
	})
	if n := survivor.metric(`spaces_job_attempts_total{kind="reconcile_spaces",outcome="completed"}`); n < 1 {
		t.Errorf("the survivor's metrics count %v reconcile passes, want at least 1", n)
	}
	if n := survivor.metric(`spaces_spaces{state="active"}`); n != 2 {
		t.Errorf("the survivor's metrics count %v active spaces, want 2", n)
	}

	// Each space was provisioned once: one move to provisioning and one to active, one ready mail.
	for _, s := range []tenants.Space{first, second} {
		var toProvisioning, toActive int
		if err := pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE to_state = 'provisioning'), count(*) FILTER (WHERE to_state = 'active')
			FROM audit_log WHERE subject_type = 'space' AND subject_id = $1`, s.ID).Scan(&toProvisioning, &toActive); err != nil {
			t.Fatal(err)
		}
		if toProvisioning != 1 || toActive != 1 {
			t.Errorf("space %s went to provisioning %d times and to active %d times, want once each", s.Slug, toProvisioning, toActive)
		}
	}
	// Each mail went once: the approval and the ready mail of each space, four jobs, four mails.
	wctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	if _, err := mail.WaitCount(wctx, 4); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "every mail job to be finished", mailsFinished)
	var mailJobs int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM river_job WHERE kind = 'send_mail'`).Scan(&mailJobs); err != nil {
		t.Fatal(err)
	}
	sent := map[string]int{}
	for _, m := range mail.Messages() {
		sent[strings.Join(m.To, ",")+": "+m.Subject]++
	}
	if len(mail.Messages()) != 4 || mailJobs != 4 || len(sent) != 4 {
		t.Errorf("%d mails sent for %d mail jobs, %d distinct; want 4 of each: %v", len(mail.Messages()), mailJobs, len(sent), sent)
	}
}

// waitSpace waits until the space with slug reaches state (failed ends the wait with an error).
func waitSpace(t *testing.T, pool *pgxpool.Pool, slug string, state tenants.SpaceState) tenants.Space {
	t.Helper()
	var s tenants.Space
	waitUntil(t, "space "+slug+" to be "+string(state), func() bool {
		var err error
		s, err = tenants.GetSpaceBySlug(context.Background(), pool, slug)
		if errors.Is(err, tenants.ErrNotFound) {
			return false
		}
		if err != nil {
			t.Fatal(err)
		}
		if s.State == tenants.SpaceFailed && state != tenants.SpaceFailed {
			t.Fatalf("space %s failed: %s", slug, s.FailureReason)
		}
		return s.State == state
	})
	return s
}

// removeSpace removes what provisioning made outside the test database: the job, its Variable,
// its data volume, the database and the role.
func removeSpace(nomadAddr, admin, slug string) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if nc, err := nomad.New(nomad.Config{Address: nomadAddr}); err == nil {
		nc.DeregisterJob(ctx, provisioner.JobID(slug), true)                //nolint:errcheck
		nc.DeleteVariable(ctx, nomad.VariablePath(provisioner.JobID(slug))) //nolint:errcheck
		if vols, err := nc.HostVolumes(ctx, provisioner.VolumeName(slug)); err == nil {
			for _, v := range vols {
				// The purged job's allocation may still hold the volume for a moment.
				for deadline := time.Now().Add(time.Minute); ; time.Sleep(200 * time.Millisecond) {
					if err := nc.DeleteHostVolume(ctx, v.ID); !errors.Is(err, nomad.ErrVolumeInUse) || time.Now().After(deadline) {
						break
					}
				}
			}
		}
		nc.API().Close()
	}
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		return
	}
	defer conn.Close(ctx)
	name := pgx.Identifier{provisioner.DatabaseName(slug)}.Sanitize()
	conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)") //nolint:errcheck
	conn.Exec(ctx, "DROP ROLE IF EXISTS "+name)                     //nolint:errcheck
}
