package workers_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/assospaces/spaces/jobs"
	"github.com/assospaces/spaces/provisioner"
	"github.com/assospaces/spaces/provisioner/nextcloud"
	"github.com/assospaces/spaces/provisioner/nomad"
	"github.com/assospaces/spaces/quota"
	"github.com/assospaces/spaces/tenants"
)

// waitObserved waits until the reconciler reports the space's current generation observed.
func waitObserved(t *testing.T, e *env, s tenants.Space) tenants.Space {
	t.Helper()
	var cur tenants.Space
	waitFor(t, fmt.Sprintf("space %s generation %d observed", s.Slug, s.Generation), func() bool {
		var err error
		cur, err = tenants.GetSpace(context.Background(), e.pool, s.ID)
		if err != nil {
			t.Fatal(err)
		}
		return cur.ObservedGeneration >= s.Generation
	})
	return cur
}

// get asks the space's Nextcloud for path as its people's browsers do, and returns the status and body.
func (a spaceAccess) get(t *testing.T, path string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, "http://"+a.addr+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = a.host
	req.SetBasicAuth(a.ownerID, a.password)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// expectMail waits for a mail to the space's contact whose subject holds subject, and returns its text.
func expectMail(t *testing.T, e *env, s tenants.Space, subject string) string {
	t.Helper()
	var text string
	waitFor(t, "a mail "+subject, func() bool {
		for _, m := range e.smtp.Messages() {
			if strings.EqualFold(m.To[0], s.ContactEmail) && strings.Contains(m.Subject, subject) {
				text = m.Text
				return true
			}
		}
		return false
	})
	return text
}

// TestOperatorsDecisionsAppliedByTheReconciler walks a space through every decision an operator
// can make, each applied by the reconciler on the real Nomad agent and stand-in: a resize shows
// in Nextcloud's limits and quotas with the data still there; a suspension puts it in maintenance
// (503) with its data untouched, a resume serves it again; a deletion stops it and gives its place
// to the next space waiting, a restore brings it back as it was; a deletion past its grace period
// is purged: no job, no volume, no database, no role, no variable, no personal data left.
func TestOperatorsDecisionsAppliedByTheReconciler(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{capacity: 1, usageInterval: time.Hour})
	ctx := context.Background()
	d := &jobs.Decisions{Pool: e.pool, Client: e.client, BaseDomain: testDomain, PublicURL: "http://spaces.test", DeleteGrace: time.Hour}
	op := tenants.TokenActor(1)

	s := activeSpace(t, e, "life", quota.Limits{StorageBytes: quota.GB, Accounts: 2})
	a := accessSpace(t, e, s)
	if code := a.dav(t, http.MethodPut, "statuts.txt", []byte("les statuts")); code != http.StatusCreated {
		t.Fatalf("upload: HTTP %d", code)
	}
	readBack := func(a spaceAccess) {
		t.Helper()
		if code, body := a.get(t, "/remote.php/dav/files/"+a.ownerID+"/statuts.txt"); code != http.StatusOK || body != "les statuts" {
			t.Fatalf("the file read back: HTTP %d %q", code, body)
		}
	}

	// Resize: the user limit and the quotas follow, the file stays.
	s, err := d.Resize(ctx, s.ID, tenants.Resize{StorageBytes: 2 * quota.GB, Accounts: 3}, op)
	if err != nil {
		t.Fatal(err)
	}
	waitObserved(t, e, s)
	a = accessSpace(t, e, s)
	readBack(a)
	if maxQuota, err := a.admin.AppValue(ctx, "files", "max_quota"); err != nil || maxQuota != fmt.Sprint(2*quota.GB) {
		t.Errorf("files max_quota = %q, %v; want %d", maxQuota, err, 2*quota.GB)
	}
	for i := 2; i <= 3; i++ {
		if _, err := a.owner.CreateUser(ctx, nextcloud.CreateUser{UserID: fmt.Sprintf("member%d", i),
			Password: "a long enough password 123", Groups: []string{provisioner.AssociationGroup}}); err != nil {
			t.Fatalf("account %d of 3 refused after the resize: %v", i, err)
		}
	}
	if _, err := a.owner.CreateUser(ctx, nextcloud.CreateUser{UserID: "member4", Password: "a long enough password 123",
		Groups: []string{provisioner.AssociationGroup}}); !errors.Is(err, nextcloud.ErrUserLimit) {
		t.Errorf("a fourth account: %v, want the user limit", err)
	}

	// Suspend: Nextcloud's maintenance page, the data untouched; the contact is told why.
	if _, err := d.Suspend(ctx, s.ID, "  ", op); !errors.Is(err, jobs.ErrReasonRequired) {
		t.Fatalf("suspend without a reason: %v", err)
	}
	s, err = d.Suspend(ctx, s.ID, "abuse report #42: spam sent from a shared link", op)
	if err != nil {
		t.Fatal(err)
	}
	waitObserved(t, e, s)
	a = accessSpace(t, e, s)
	if code, body := a.get(t, "/remote.php/dav/files/"+a.ownerID+"/statuts.txt"); code != http.StatusServiceUnavailable ||
		!strings.Contains(body, "maintenance") {
		t.Errorf("a suspended space's file: HTTP %d %q, want 503 maintenance", code, body)
	}
	if st, err := a.admin.Status(ctx); err != nil || !st.Maintenance {
		t.Errorf("status.php of a suspended space: %+v, %v", st, err)
	}
	if text := expectMail(t, e, s, "suspendu"); !strings.Contains(text, "abuse report #42") {
		t.Errorf("suspension mail without its reason:\n%s", text)
	}

	// Resume: served again, with everything in it.
	s, err = d.Resume(ctx, s.ID, op)
	if err != nil {
		t.Fatal(err)
	}
	waitObserved(t, e, s)
	a = accessSpace(t, e, s)
	readBack(a)
	expectMail(t, e, s, "de nouveau ouvert")

	// A second space waits for room (the ceiling is 1); deleting the first starts it.
	next := approveSpaceWith(t, e.pool, e.client, randomSlug("next"), quota.Limits{StorageBytes: quota.GB, Accounts: 2})
	time.Sleep(2 * time.Second)
	if cur, _ := tenants.GetSpace(ctx, e.pool, next.ID); cur.State != tenants.SpaceQueued {
		t.Fatalf("the second space is %s under a full ceiling, want queued", cur.State)
	}
	s, err = d.Delete(ctx, s.ID, "the association dissolved", op)
	if err != nil {
		t.Fatal(err)
	}
	if got := waitState(t, e.pool, next.ID, tenants.SpaceActive, tenants.SpaceFailed); got.State != tenants.SpaceActive {
		t.Fatalf("the waiting space after a deletion: %s (%s)", got.State, got.FailureReason)
	}
	waitObserved(t, e, s)
	if job, err := e.nomad.Job(ctx, provisioner.JobID(s.Slug)); err != nil || job.Stop == nil || !*job.Stop {
		t.Fatalf("a deleting space's job: %+v, %v; want stopped", job, err)
	}
	if text := expectMail(t, e, s, "va être supprimé"); !strings.Contains(text, "the association dissolved") {
		t.Errorf("deletion mail:\n%s", text)
	}

	// Restore: back as it was, its file included.
	s, err = d.Restore(ctx, s.ID, op)
	if err != nil || s.State != tenants.SpaceActive {
		t.Fatalf("restore: %+v, %v", s, err)
	}
	waitObserved(t, e, s)
	a = accessSpace(t, e, s)
	readBack(a)

	// Delete for good: past the grace period, the purge leaves nothing behind.
	short := *d
	short.DeleteGrace = time.Millisecond
	if s, err = short.Delete(ctx, s.ID, "asked by the association", op); err != nil {
		t.Fatal(err)
	}
	time.Sleep(10 * time.Millisecond)
	if _, err := d.Restore(ctx, s.ID, op); !errors.Is(err, tenants.ErrGraceOver) {
		t.Fatalf("restore after the grace period: %v", err)
	}
	runJob(t, e, jobs.PurgeSpacesArgs{})
	gone, err := tenants.GetSpace(ctx, e.pool, s.ID)
	if err != nil || gone.State != tenants.SpaceDeleted || gone.ContactEmail != tenants.PurgedContact {
		t.Fatalf("after the purge: %+v, %v", gone, err)
	}
	if _, err := e.nomad.Job(ctx, provisioner.JobID(s.Slug)); !errors.Is(err, nomad.ErrNotFound) {
		t.Errorf("job after the purge: %v, want not found", err)
	}
	if vols, err := e.nomad.HostVolumes(ctx, provisioner.VolumeName(s.Slug)); err != nil || len(vols) != 0 {
		t.Errorf("volumes after the purge: %+v, %v; want none", vols, err)
	}
	if _, err := e.nomad.GetVariable(ctx, nomad.VariablePath(provisioner.JobID(s.Slug))); !errors.Is(err, nomad.ErrNotFound) {
		t.Errorf("variable after the purge: %v, want not found", err)
	}
	admin, err := pgx.Connect(ctx, e.admin)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	var dbs, roles int
	name := provisioner.DatabaseName(s.Slug)
	if err := admin.QueryRow(ctx, `SELECT (SELECT count(*) FROM pg_database WHERE datname = $1), (SELECT count(*) FROM pg_roles WHERE rolname = $1)`,
		name).Scan(&dbs, &roles); err != nil || dbs != 0 || roles != 0 {
		t.Errorf("after the purge: %d databases and %d roles named %s (%v)", dbs, roles, name, err)
	}
	if _, err := short.Restore(ctx, s.ID, op); !errors.Is(err, tenants.ErrInvalidTransition) || !strings.Contains(err.Error(), "is deleted") {
		t.Errorf("restore of a purged space: %v", err)
	}
}
