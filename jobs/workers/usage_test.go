package workers_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/assospaces/spaces/jobs"
	"github.com/assospaces/spaces/provisioner"
	"github.com/assospaces/spaces/provisioner/nextcloud"
	"github.com/assospaces/spaces/provisioner/nomad"
	"github.com/assospaces/spaces/quota"
	"github.com/assospaces/spaces/tenants"
)

// runJob inserts args and waits until River has run that job to completion.
func runJob(t *testing.T, e *env, args river.JobArgs) {
	t.Helper()
	ctx := context.Background()
	res, err := e.client.Insert(ctx, args, nil)
	for err == nil && res.UniqueSkippedAsDuplicate {
		// A pass inserted in this same second (periodic, or woken by Nomad) may have started
		// before the test's last change: insert one of our own.
		time.Sleep(time.Second)
		res, err = e.client.Insert(ctx, args, nil)
	}
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, args.Kind()+" to run", func() bool {
		var state string
		var errs []byte
		err := e.pool.QueryRow(ctx, `SELECT state, errors::text FROM river_job WHERE id = $1`, res.Job.ID).Scan(&state, &errs)
		if errors.Is(err, pgx.ErrNoRows) {
			return true // completed and cleaned already
		}
		if err != nil {
			t.Fatal(err)
		}
		switch state {
		case "completed":
			return true
		case "discarded", "cancelled", "retryable":
			t.Fatalf("%s job %s: %s", args.Kind(), state, errs)
		}
		return false
	})
}

// activeSpace approves a space with limits and waits for it to be active.
func activeSpace(t *testing.T, e *env, prefix string, l quota.Limits) tenants.Space {
	t.Helper()
	s := approveSpaceWith(t, e.pool, e.client, randomSlug(prefix), l)
	s = waitState(t, e.pool, s.ID, tenants.SpaceActive, tenants.SpaceFailed)
	if s.State != tenants.SpaceActive {
		t.Fatalf("space %s: %s (%s)", s.Slug, s.State, s.FailureReason)
	}
	return s
}

// spaceAccess is what a test needs to act in a space as its people would.
type spaceAccess struct {
	addr     string // host:port of its running allocation
	allocID  string
	jobID    string
	secrets  map[string]string
	admin    *nextcloud.Client
	owner    *nextcloud.Client
	ownerID  string
	host     string
	password string
}

func accessSpace(t *testing.T, e *env, s tenants.Space) spaceAccess {
	t.Helper()
	ctx := context.Background()
	jobID := provisioner.JobID(s.Slug)
	regs, _, err := e.nomad.Services(ctx, jobID, 0, 0)
	if err != nil || len(regs) == 0 {
		t.Fatalf("service %s: %v %v", jobID, regs, err)
	}
	v, err := e.nomad.GetVariable(ctx, nomad.VariablePath(jobID))
	if err != nil {
		t.Fatal(err)
	}
	a := spaceAccess{addr: fmt.Sprintf("%s:%d", regs[0].Address, regs[0].Port), allocID: regs[0].AllocID, jobID: jobID, secrets: v.Items,
		ownerID: provisioner.OwnerLogin(s), host: e.prov.Domain(s.Slug), password: ownerPassword(t, e, s)}
	if a.admin, err = e.prov.Nextcloud(s, a.addr, v.Items); err != nil {
		t.Fatal(err)
	}
	if a.owner, err = nextcloud.New("http://"+a.addr, nextcloud.WithBasicAuth(a.ownerID, a.password), nextcloud.WithHost(a.host)); err != nil {
		t.Fatal(err)
	}
	return a
}

// ownerPassword is the first account's one-time password, read from the space_ready mail: the
// service keeps it nowhere once the space is active.
func ownerPassword(t testing.TB, e *env, s tenants.Space) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for {
		for _, m := range e.smtp.Messages() {
			if !strings.EqualFold(m.To[0], s.ContactEmail) {
				continue
			}
			for _, line := range strings.Split(m.Text, "\n") {
				for _, label := range []string{"mot de passe : ", "password: "} {
					if _, pw, ok := strings.Cut(line, label); ok {
						return strings.TrimSpace(pw)
					}
				}
			}
		}
		if _, err := e.smtp.WaitCount(ctx, len(e.smtp.Messages())+1); err != nil {
			t.Fatalf("no space_ready mail with a password for %s: %v", s.ContactEmail, err)
		}
	}
}

// dav sends a WebDAV request as the association's first account.
func (a spaceAccess) dav(t *testing.T, method, name string, body []byte) int {
	t.Helper()
	req, err := http.NewRequest(method, "http://"+a.addr+"/remote.php/dav/files/"+a.ownerID+"/"+name, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Host = a.host
	req.SetBasicAuth(a.ownerID, a.password)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// filesDir is where the space's stand-in keeps the first account's files on this machine: bytes
// written there count as Nextcloud counts files added behind its back (a scan picks them up).
// The stand-in's data directory is the space's data volume, whose host path the job's meta holds.
func (a spaceAccess) filesDir(t *testing.T, e *env) string {
	t.Helper()
	return filepath.Join(a.dataDir(t, e), a.ownerID, "files")
}

// dataDir is the space's data directory on this machine: its data volume's host path, as the
// running job's meta has it.
func (a spaceAccess) dataDir(t *testing.T, e *env) string {
	t.Helper()
	job, err := e.nomad.Job(context.Background(), a.jobID)
	if err != nil {
		t.Fatal(err)
	}
	dir := job.Meta[provisioner.MetaVolumePath]
	if dir == "" {
		t.Fatalf("job %s has no %s meta: %v", a.jobID, provisioner.MetaVolumePath, job.Meta)
	}
	return dir
}

func usageOf(t *testing.T, e *env, s tenants.Space) (tenants.Space, tenants.Usage) {
	t.Helper()
	cur, err := tenants.GetSpace(context.Background(), e.pool, s.ID)
	if err != nil {
		t.Fatal(err)
	}
	u, err := tenants.GetUsage(context.Background(), e.pool, s.ID)
	if err != nil {
		t.Fatal(err)
	}
	return cur, u
}

// TestUsageWarningsAndFullSpace fills a space past 80, 90 and 100 % of its storage: one mail at
// each crossing, the level in the conditions and the audit log, uploads refused when full and
// files still readable; then frees space: the block lifts by itself.
func TestUsageWarningsAndFullSpace(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{usageInterval: time.Millisecond})
	s := activeSpace(t, e, "usage", quota.Limits{StorageBytes: 10 * quota.MB, Accounts: 2})
	a := accessSpace(t, e, s)
	ctx := context.Background()
	// The space_ready mail first.
	if _, err := e.smtp.Wait(ctx, s.ContactEmail); err != nil {
		t.Fatal(err)
	}
	// The association removes the first-steps guide the bootstrap left in its files, so that
	// the figures below are its own bytes.
	guide, err := e.prov.FirstSteps(s)
	if err != nil {
		t.Fatal(err)
	}
	if code := a.dav(t, http.MethodDelete, url.PathEscape(guide.FileName), nil); code != http.StatusNoContent {
		t.Fatalf("delete the guide: HTTP %d", code)
	}
	if code := a.dav(t, http.MethodPut, "hello.txt", []byte("hello")); code != http.StatusCreated {
		t.Fatalf("first upload: HTTP %d", code)
	}
	runJob(t, e, jobs.CollectUsageArgs{})
	cur, u := usageOf(t, e, s)
	if !u.Collected() || u.Stale() || u.UsedBytes != 5 || u.AccountsEnabled != 1 || u.Level != quota.LevelOK {
		t.Fatalf("usage = %+v", u)
	}
	// The first account logged in (its upload); the service's own logins do not count.
	if u.ActiveUsersDay != 1 || u.ActiveUsersMonth != 1 {
		t.Errorf("active users = %d today, %d this month; want 1 and 1", u.ActiveUsersDay, u.ActiveUsersMonth)
	}
	if c := condition(cur, provisioner.CondStorageWithinLimit); c.Status != "True" {
		t.Errorf("StorageWithinLimit = %+v", c)
	}

	dir := a.filesDir(t, e)
	fill := func(name string, size int64) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), make([]byte, size), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	mails := 1
	expectMail := func(subject string) {
		t.Helper()
		mails++
		wctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		defer cancel()
		got, err := e.smtp.WaitCount(wctx, mails)
		if err != nil {
			t.Fatalf("mail %d (%s): %v", mails, subject, err)
		}
		if m := got[mails-1]; !strings.Contains(m.Subject, subject) || m.To[0] != s.ContactEmail {
			t.Errorf("mail %d: %q to %v, want %q", mails, m.Subject, m.To, subject)
		}
	}

	fill("big1.bin", 82*quota.MB/10) // 82 %
	runJob(t, e, jobs.CollectUsageArgs{})
	if _, u = usageOf(t, e, s); u.Level != quota.LevelWarn80 {
		t.Fatalf("at 82 %%: level %v", u.Level)
	}
	expectMail("80")
	runJob(t, e, jobs.CollectUsageArgs{}) // again at the same level: no second mail

	fill("big2.bin", quota.MB) // 92 %
	runJob(t, e, jobs.CollectUsageArgs{})
	if _, u = usageOf(t, e, s); u.Level != quota.LevelWarn90 {
		t.Fatalf("at 92 %%: level %v", u.Level)
	}
	expectMail("90")

	fill("big3.bin", quota.MB) // 102 %
	runJob(t, e, jobs.CollectUsageArgs{})
	cur, u = usageOf(t, e, s)
	if u.Level != quota.LevelFull {
		t.Fatalf("at 102 %%: level %v", u.Level)
	}
	if c := condition(cur, provisioner.CondStorageWithinLimit); c.Status != "False" || c.Reason != "OverQuota" {
		t.Errorf("StorageWithinLimit = %+v", c)
	}
	expectMail("plein")
	if code := a.dav(t, http.MethodPut, "more.txt", []byte("more bytes")); code != http.StatusInsufficientStorage {
		t.Errorf("upload into a full space: HTTP %d, want 507", code)
	}
	if code := a.dav(t, http.MethodGet, "hello.txt", nil); code != http.StatusOK {
		t.Errorf("reading a file of a full space: HTTP %d, want 200", code)
	}
	if n := len(e.smtp.Messages()); n != mails {
		t.Errorf("%d mails, want %d: one per crossing", n, mails)
	}

	// Space freed: the block lifts by itself.
	for _, name := range []string{"big2.bin", "big3.bin"} {
		if err := os.Remove(filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	runJob(t, e, jobs.CollectUsageArgs{})
	cur, u = usageOf(t, e, s)
	if u.Level == quota.LevelFull {
		t.Fatalf("after freeing: still full (%+v)", u)
	}
	if c := condition(cur, provisioner.CondStorageWithinLimit); c.Status != "True" {
		t.Errorf("StorageWithinLimit after freeing = %+v", c)
	}
	expectMail("de nouveau")
	if code := a.dav(t, http.MethodPut, "more.txt", []byte("more bytes")); code != http.StatusCreated {
		t.Errorf("upload after freeing space: HTTP %d, want 201", code)
	}

	trail, err := tenants.AuditTrail(ctx, e.pool, "space", s.ID)
	if err != nil {
		t.Fatal(err)
	}
	var levels []string
	for _, en := range trail {
		if en.Action == "space.storage_level" {
			levels = append(levels, fmt.Sprint(en.Detail["to"]))
		}
	}
	if strings.Join(levels, ",") != "80%,90%,full,80%" {
		t.Errorf("audited levels = %v", levels)
	}
}

// TestQuotasOwnedByTheService: a quota changed behind the service's back is put back at the next
// pass, and the association's first account cannot give an account more than the space.
func TestQuotasOwnedByTheService(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{usageInterval: time.Millisecond})
	s := activeSpace(t, e, "owned", quota.Limits{StorageBytes: 50 * quota.MB, Accounts: 3})
	a := accessSpace(t, e, s)
	ctx := context.Background()
	runJob(t, e, jobs.CollectUsageArgs{})
	before, err := a.admin.UserDetails(ctx, a.ownerID)
	if err != nil {
		t.Fatal(err)
	}
	if before.Quota.Quota <= 0 || before.Quota.Quota > s.Limits.StorageBytes {
		t.Fatalf("owner quota %d, want within (0, %d]", before.Quota.Quota, s.Limits.StorageBytes)
	}
	if err := a.admin.SetQuota(ctx, a.ownerID, "none"); err != nil {
		t.Fatal(err)
	}
	runJob(t, e, jobs.CollectUsageArgs{})
	after, err := a.admin.UserDetails(ctx, a.ownerID)
	if err != nil {
		t.Fatal(err)
	}
	if after.Quota.Quota != before.Quota.Quota {
		t.Errorf("owner quota after a change behind our back = %d, want %d back", after.Quota.Quota, before.Quota.Quota)
	}
	// The files app's maximum quota too.
	maxQuota, err := a.admin.AppValue(ctx, "files", "max_quota")
	if err != nil {
		t.Fatal(err)
	}
	if err := a.admin.SetAppValue(ctx, "files", "max_quota", "-1"); err != nil {
		t.Fatal(err)
	}
	runJob(t, e, jobs.CollectUsageArgs{})
	if got, err := a.admin.AppValue(ctx, "files", "max_quota"); err != nil || got != maxQuota {
		t.Errorf("files max_quota after a change behind our back = %q, %v; want %q back", got, err, maxQuota)
	}
	// The first account manages the association's accounts, but not past the space's limit.
	if err := a.owner.SetQuota(ctx, a.ownerID, "100 GB"); err == nil {
		t.Error("the first account raised its own quota above the space's limit")
	}
	if _, err := a.owner.CreateUser(ctx, nextcloud.CreateUser{UserID: "member", Password: "a long enough password 123",
		Groups: []string{provisioner.AssociationGroup}}); err != nil {
		t.Fatal(err)
	}
	if err := a.owner.SetQuota(ctx, "member", "100 GB"); err == nil {
		t.Error("the first account gave a member a quota above the space's limit")
	}
	users, err := a.owner.ListUsers(ctx, "", 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range users {
		if u == "spaces-admin" {
			t.Errorf("the first account sees the service's own account: %v", users)
		}
	}
}

// TestAccountsLimitIsTheAssociations: with an accounts limit of N the association gets N accounts
// (the first one included) whatever accounts the service keeps; the next is refused with
// Nextcloud's own message. A limit of 1 works.
func TestAccountsLimitIsTheAssociations(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	ctx := context.Background()
	for _, n := range []int{1, 3} {
		s := activeSpace(t, e, fmt.Sprintf("acc%d", n), quota.Limits{StorageBytes: 100 * quota.MB, Accounts: n})
		a := accessSpace(t, e, s)
		for i := 2; i <= n; i++ {
			if _, err := a.owner.CreateUser(ctx, nextcloud.CreateUser{UserID: fmt.Sprintf("member%d", i),
				Password: "a long enough password 123", Groups: []string{provisioner.AssociationGroup}}); err != nil {
				t.Fatalf("limit %d: account %d refused: %v", n, i, err)
			}
		}
		_, err := a.owner.CreateUser(ctx, nextcloud.CreateUser{UserID: "one-too-many",
			Password: "a long enough password 123", Groups: []string{provisioner.AssociationGroup}})
		if !errors.Is(err, nextcloud.ErrUserLimit) ||
			!strings.Contains(err.Error(), "The user was not created because the user limit has been reached") {
			t.Errorf("limit %d: account %d: %v, want Nextcloud's user limit error", n, n+1, err)
		}
	}
}

// TestUsageOfAHangingSpace: a space whose Nextcloud hangs is given up after its timeout and
// marked stale with its last figures; the other spaces are measured all the same.
func TestUsageOfAHangingSpace(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{usageInterval: time.Millisecond, usageTimeout: 3 * time.Second})
	hung := activeSpace(t, e, "hung", quota.Limits{StorageBytes: 100 * quota.MB, Accounts: 5})
	fine := activeSpace(t, e, "fine", quota.Limits{StorageBytes: 100 * quota.MB, Accounts: 5})
	runJob(t, e, jobs.CollectUsageArgs{})
	_, first := usageOf(t, e, hung)
	if !first.Collected() {
		t.Fatalf("hung space never measured: %+v", first)
	}

	pid := standinPID(t, hung)
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Kill(pid, syscall.SIGCONT) }) //nolint:errcheck
	runJob(t, e, jobs.CollectUsageArgs{})

	cur, u := usageOf(t, e, hung)
	if !u.Stale() || u.StaleReason == "" || !u.CollectedAt.Equal(first.CollectedAt) {
		t.Errorf("hung space usage = %+v, want stale with its first figures", u)
	}
	if c := condition(cur, provisioner.CondUsageCollected); c.Status != "False" {
		t.Errorf("UsageCollected = %+v", c)
	}
	_, f := usageOf(t, e, fine)
	if f.Stale() || !f.CollectedAt.After(first.CollectedAt) {
		t.Errorf("the other space was not measured: %+v", f)
	}
}

// standinPID finds the stand-in process serving space s (its environment names its database).
func standinPID(t *testing.T, s tenants.Space) int {
	t.Helper()
	want := []byte("POSTGRES_DB=" + provisioner.DatabaseName(s.Slug) + "\x00")
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	for _, en := range entries {
		var pid int
		if _, err := fmt.Sscanf(en.Name(), "%d", &pid); err != nil {
			continue
		}
		env, err := os.ReadFile(filepath.Join("/proc", en.Name(), "environ"))
		if err == nil && bytes.Contains(env, want) {
			return pid
		}
	}
	t.Fatalf("no stand-in process for space %s", s.Slug)
	return 0
}
