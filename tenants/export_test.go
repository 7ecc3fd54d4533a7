package tenants_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/assospaces/spaces/quota"
	"github.com/assospaces/spaces/tenants"
	"github.com/assospaces/spaces/tenants/pgtest"
)

func exportSpace(t *testing.T, db tenants.DB, slug string) tenants.Space {
	t.Helper()
	s, err := tenants.CreateSpace(context.Background(), db, tenants.NewSpace{Slug: slug, AssociationName: "Asso " + slug,
		ContactEmail: slug + "@example.org", Limits: quota.DefaultLimits}, tenants.ModeratorActor(1))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestExportOneAtATimeAndAudited: asking twice gives the export queued; each request that makes
// one is audited under its actor with nothing but the export's id.
func TestExportOneAtATimeAndAudited(t *testing.T) {
	ctx := context.Background()
	pool, _ := pgtest.New(t)
	s := exportSpace(t, pool, "exp-one")
	other := exportSpace(t, pool, "exp-other")
	e, created, err := tenants.RequestExport(ctx, pool, s.ID, tenants.TokenActor(3))
	if err != nil || !created {
		t.Fatalf("first request: %v, created %v", err, created)
	}
	if e.State != tenants.ExportQueued || e.Slug != s.Slug || e.RequestedBy != tenants.TokenActor(3) || e.Attempts != 0 {
		t.Errorf("export = %+v", e)
	}
	again, created, err := tenants.RequestExport(ctx, pool, s.ID, tenants.TokenActor(4))
	if err != nil || created || again.ID != e.ID {
		t.Errorf("second request: %+v created %v err %v; want export %d again", again, created, err, e.ID)
	}
	if o, created, err := tenants.RequestExport(ctx, pool, other.ID, tenants.TokenActor(3)); err != nil || !created || o.ID == e.ID {
		t.Errorf("another space's export: %+v %v %v", o, created, err)
	}
	trail, err := tenants.AuditTrail(ctx, pool, "space", s.ID)
	if err != nil {
		t.Fatal(err)
	}
	var exports []tenants.AuditEntry
	for _, a := range trail {
		if a.Action == "space.export" {
			exports = append(exports, a)
		}
	}
	if len(exports) != 1 || exports[0].Actor != tenants.TokenActor(3) || len(exports[0].Detail) != 1 ||
		exports[0].Detail["export_id"] != float64(e.ID) {
		t.Errorf("space.export entries = %+v; want one by token:3 with only the export id", exports)
	}
	// Once it is finished, a new one can be asked for.
	if _, err := tenants.ClaimExport(ctx, pool, e.ID, "r1", time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := tenants.FailExport(ctx, pool, e.ID, "r1", "boom"); err != nil {
		t.Fatal(err)
	}
	if n, created, err := tenants.RequestExport(ctx, pool, s.ID, tenants.TokenActor(3)); err != nil || !created || n.ID == e.ID {
		t.Errorf("request after a failed export: %+v %v %v", n, created, err)
	}
}

// TestExportAttempts follows the attempts of an export: one holds it, a second is refused while
// the first lives and takes over once it is silent; the first then loses every write.
func TestExportAttempts(t *testing.T) {
	ctx := context.Background()
	pool, _ := pgtest.New(t)
	s := exportSpace(t, pool, "exp-attempts")
	e, _, err := tenants.RequestExport(ctx, pool, s.ID, tenants.ActorSystem)
	if err != nil {
		t.Fatal(err)
	}
	first, err := tenants.ClaimExport(ctx, pool, e.ID, "first", time.Minute)
	if err != nil || first.State != tenants.ExportRunning || first.Attempts != 1 || first.StartedAt == nil {
		t.Fatalf("claim: %+v %v", first, err)
	}
	if err := tenants.SetExportFile(ctx, pool, e.ID, "first", "a.tar.gz", "/x/a.tar.gz"); err != nil {
		t.Fatal(err)
	}
	if err := tenants.RecordExportProgress(ctx, pool, e.ID, "first", 4<<20); err != nil {
		t.Fatal(err)
	}
	if _, err := tenants.ClaimExport(ctx, pool, e.ID, "second", time.Minute); !errors.Is(err, tenants.ErrExportBusy) {
		t.Fatalf("claim while the first lives: %v, want ErrExportBusy", err)
	}
	got, _ := tenants.GetExport(ctx, pool, e.ID)
	if got.BytesWritten != 4<<20 || got.FileName != "a.tar.gz" || got.Path != "/x/a.tar.gz" {
		t.Errorf("progress = %+v", got)
	}
	// The first falls silent.
	if _, err := pool.Exec(ctx, `UPDATE space_exports SET heartbeat_at = now() - interval '5 minutes' WHERE id = $1`, e.ID); err != nil {
		t.Fatal(err)
	}
	second, err := tenants.ClaimExport(ctx, pool, e.ID, "second", time.Minute)
	if err != nil || second.Attempts != 2 || second.BytesWritten != 0 {
		t.Fatalf("take over: %+v %v", second, err)
	}
	for name, f := range map[string]func() error{
		"progress": func() error { return tenants.RecordExportProgress(ctx, pool, e.ID, "first", 1) },
		"finish": func() error {
			return tenants.FinishExport(ctx, pool, e.ID, "first", tenants.ExportResult{SHA256: "x"}, time.Now())
		},
		"release": func() error { return tenants.ReleaseExport(ctx, pool, e.ID, "first", "") },
		"fail":    func() error { return tenants.FailExport(ctx, pool, e.ID, "first", "x") },
	} {
		if err := f(); !errors.Is(err, tenants.ErrExportLost) {
			t.Errorf("%s by the attempt taken over: %v, want ErrExportLost", name, err)
		}
	}
	// The second gives up for now: back in the queue with its note, then a third finishes.
	if err := tenants.ReleaseExport(ctx, pool, e.ID, "second", "attempt 2 failed: x; trying again"); err != nil {
		t.Fatal(err)
	}
	got, _ = tenants.GetExport(ctx, pool, e.ID)
	if got.State != tenants.ExportQueued || got.Error != "attempt 2 failed: x; trying again" || got.Path != "" {
		t.Errorf("released = %+v", got)
	}
	if _, err := tenants.ClaimExport(ctx, pool, e.ID, "third", time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := tenants.SetExportFile(ctx, pool, e.ID, "third", "b.tar.gz", "/x/b.tar.gz"); err != nil {
		t.Fatal(err)
	}
	expires := time.Now().Add(7 * 24 * time.Hour).Truncate(time.Second)
	res := tenants.ExportResult{BytesWritten: 1234, SHA256: "ab12", Files: 3, FilesBytes: 5000, DatabaseBytes: 700, Warning: "w"}
	if err := tenants.FinishExport(ctx, pool, e.ID, "third", res, expires); err != nil {
		t.Fatal(err)
	}
	done, _ := tenants.GetExport(ctx, pool, e.ID)
	if done.State != tenants.ExportDone || done.BytesWritten != 1234 || done.SHA256 != "ab12" || done.Files != 3 ||
		done.FilesBytes != 5000 || done.DatabaseBytes != 700 || done.Warning != "w" || done.Error != "" ||
		done.FinishedAt == nil || !done.ExpiresAt.Equal(expires) || done.Attempts != 3 || done.Runner != "" {
		t.Errorf("done = %+v", done)
	}
	if _, err := tenants.ClaimExport(ctx, pool, e.ID, "fourth", time.Minute); !errors.Is(err, tenants.ErrExportFinished) {
		t.Errorf("claim a done export: %v, want ErrExportFinished", err)
	}

	// Download: recorded, audited under its actor.
	if err := tenants.RecordExportDownload(ctx, pool, done, tenants.TokenActor(9)); err != nil {
		t.Fatal(err)
	}
	got, _ = tenants.GetExport(ctx, pool, e.ID)
	trail, _ := tenants.AuditTrail(ctx, pool, "space", s.ID)
	last := trail[len(trail)-1]
	if got.DownloadedAt == nil || last.Action != "space.export_download" || last.Actor != tenants.TokenActor(9) || len(last.Detail) != 1 {
		t.Errorf("download: %+v, audit %+v", got, last)
	}

	// Expiry.
	if list, err := tenants.ExportsToExpire(ctx, pool, time.Now()); err != nil || len(list) != 0 {
		t.Errorf("to expire now: %v %v", list, err)
	}
	list, err := tenants.ExportsToExpire(ctx, pool, expires.Add(time.Second))
	if err != nil || len(list) != 1 || list[0].ID != e.ID || list[0].Path != "/x/b.tar.gz" {
		t.Fatalf("to expire after the retention: %+v %v", list, err)
	}
	if err := tenants.ExpireExport(ctx, pool, e.ID); err != nil {
		t.Fatal(err)
	}
	got, _ = tenants.GetExport(ctx, pool, e.ID)
	if got.State != tenants.ExportExpired || got.Path != "" || got.SHA256 != "ab12" {
		t.Errorf("expired = %+v", got)
	}
	if list, _ := tenants.ListExports(ctx, pool, s.ID, 0); len(list) != 1 || list[0].ID != e.ID {
		t.Errorf("list = %+v", list)
	}
}

// TestRequeueDeadExports: exports whose attempt fell silent go back to the queue while they have
// attempts left, and fail after; live ones are left alone.
func TestRequeueDeadExports(t *testing.T) {
	ctx := context.Background()
	pool, _ := pgtest.New(t)
	ids := map[string]int64{}
	for _, name := range []string{"exp-live", "exp-dead", "exp-spent"} {
		s := exportSpace(t, pool, name)
		e, _, err := tenants.RequestExport(ctx, pool, s.ID, tenants.ActorSystem)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tenants.ClaimExport(ctx, pool, e.ID, name, time.Minute); err != nil {
			t.Fatal(err)
		}
		ids[name] = e.ID
	}
	if _, err := pool.Exec(ctx, `UPDATE space_exports SET heartbeat_at = now() - interval '10 minutes' WHERE id = ANY($1)`,
		[]int64{ids["exp-dead"], ids["exp-spent"]}); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `UPDATE space_exports SET attempts = 3 WHERE id = $1`, ids["exp-spent"]); err != nil {
		t.Fatal(err)
	}
	queued, err := tenants.RequeueDeadExports(ctx, pool, 2*time.Minute, 3)
	if err != nil || len(queued) != 1 || queued[0] != ids["exp-dead"] {
		t.Fatalf("requeued %v (%v), want [%d]", queued, err, ids["exp-dead"])
	}
	for name, want := range map[string]tenants.ExportState{"exp-live": tenants.ExportRunning, "exp-dead": tenants.ExportQueued, "exp-spent": tenants.ExportFailed} {
		e, _ := tenants.GetExport(ctx, pool, ids[name])
		if e.State != want {
			t.Errorf("%s: %s (%s), want %s", name, e.State, e.Error, want)
		}
		if want != tenants.ExportRunning && e.Error == "" {
			t.Errorf("%s: no reason recorded", name)
		}
	}
}
