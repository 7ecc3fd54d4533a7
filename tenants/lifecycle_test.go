package tenants_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/assospaces/spaces/quota"
	"github.com/assospaces/spaces/tenants"
	"github.com/assospaces/spaces/tenants/pgtest"
)

func TestResizeSpace(t *testing.T) {
	ctx := context.Background()
	pool, _ := pgtest.New(t)
	std := quota.Limits{StorageBytes: 40 * quota.GB, Accounts: 50}
	s := spaceIn(t, pool, "grandir", std, tenants.SpaceActive)
	op := tenants.TokenActor(1)

	// Only the storage: the accounts limit stays; the generation goes up.
	before, after, err := tenants.ResizeSpace(ctx, pool, s.ID, tenants.Resize{StorageBytes: 80 * quota.GB}, op)
	if err != nil || before.Limits != std || after.Limits != (quota.Limits{StorageBytes: 80 * quota.GB, Accounts: 50}) || after.Generation != s.Generation+1 {
		t.Fatalf("resize: before %+v after %+v, %v", before.Limits, after.Limits, err)
	}
	// The same limits again: nothing to decide.
	if _, again, err := tenants.ResizeSpace(ctx, pool, s.ID, tenants.Resize{StorageBytes: 80 * quota.GB}, op); err != nil || again.Generation != after.Generation {
		t.Fatalf("same limits: generation %d, %v", again.Generation, err)
	}

	// Below what is used: refused with the figures, unless forced.
	measure(t, pool, s, 30*quota.GB, 12, quota.LevelOK, time.Now())
	_, _, err = tenants.ResizeSpace(ctx, pool, s.ID, tenants.Resize{StorageBytes: 20 * quota.GB}, op)
	var shrink *tenants.ShrinkError
	if !errors.As(err, &shrink) || !strings.Contains(err.Error(), "uses 30 GB; a limit of 20 GB is 10 GB below that") {
		t.Fatalf("shrink below usage: %v", err)
	}
	_, _, err = tenants.ResizeSpace(ctx, pool, s.ID, tenants.Resize{Accounts: 10}, op)
	if !errors.As(err, &shrink) || !strings.Contains(err.Error(), "12 accounts enabled; a limit of 10 is 2 below that") {
		t.Fatalf("accounts below usage: %v", err)
	}
	if _, got, err := tenants.ResizeSpace(ctx, pool, s.ID, tenants.Resize{StorageBytes: 20 * quota.GB, Force: true}, op); err != nil || got.Limits.StorageBytes != 20*quota.GB {
		t.Fatalf("forced: %+v, %v", got.Limits, err)
	}

	// A deleted space cannot be resized; the refusal names its state.
	gone := spaceIn(t, pool, "parti", std, tenants.SpaceDeleted)
	_, _, err = tenants.ResizeSpace(ctx, pool, gone.ID, tenants.Resize{Accounts: 60}, op)
	var se *tenants.StateError
	if !errors.As(err, &se) || !errors.Is(err, tenants.ErrInvalidTransition) || !strings.Contains(err.Error(), "space parti is deleted; only") {
		t.Fatalf("resize of a deleted space: %v", err)
	}
	trail, _ := tenants.AuditTrail(ctx, pool, "space", s.ID)
	if last := trail[len(trail)-1]; last.Action != "space.resize" || last.Detail["forced"] != true {
		t.Fatalf("last audit entry %+v", last)
	}
}

func TestSuspendResumeDeleteRestore(t *testing.T) {
	ctx := context.Background()
	pool, _ := pgtest.New(t)
	std := quota.Limits{StorageBytes: 40 * quota.GB, Accounts: 50}
	s := spaceIn(t, pool, "vivre", std, tenants.SpaceActive)
	op := tenants.TokenActor(1)
	now := time.Now()

	if _, err := tenants.ResumeSpace(ctx, pool, s.ID, op); err == nil || !strings.Contains(err.Error(), "space vivre is active; only suspended spaces can be resumed") {
		t.Fatalf("resume of an active space: %v", err)
	}
	sus, err := tenants.SuspendSpace(ctx, pool, s.ID, "unpaid hosting abuse report #12", op)
	if err != nil || sus.State != tenants.SpaceSuspended || sus.SuspendReason != "unpaid hosting abuse report #12" || sus.Generation != s.Generation+1 {
		t.Fatalf("suspend: %+v, %v", sus, err)
	}
	// Deleting a suspended space keeps the suspension to come back to.
	_, del, err := tenants.DeleteSpace(ctx, pool, s.ID, "asked by the association", 30*24*time.Hour, now, op)
	if err != nil || del.State != tenants.SpaceDeleting || del.RestoreState != tenants.SpaceSuspended || del.DeleteReason != "asked by the association" ||
		del.DeleteAfter == nil || !del.DeleteAfter.Equal(now.Add(30*24*time.Hour).Truncate(time.Microsecond)) {
		t.Fatalf("delete: %+v, %v", del, err)
	}
	if _, err := tenants.SuspendSpace(ctx, pool, s.ID, "x", op); err == nil || !strings.Contains(err.Error(), "space vivre is deleting (purged after") {
		t.Fatalf("suspend of a deleting space: %v", err)
	}
	res, err := tenants.RestoreSpace(ctx, pool, s.ID, now, op)
	if err != nil || res.State != tenants.SpaceSuspended || res.SuspendReason != "unpaid hosting abuse report #12" || res.DeleteAfter != nil {
		t.Fatalf("restore: %+v, %v", res, err)
	}
	if back, err := tenants.ResumeSpace(ctx, pool, s.ID, op); err != nil || back.State != tenants.SpaceActive || back.SuspendReason != "" {
		t.Fatalf("resume: %+v, %v", back, err)
	}

	// After the grace period, a restore is refused and the space is due for its purge.
	if _, _, err := tenants.DeleteSpace(ctx, pool, s.ID, "", time.Hour, now, op); err != nil {
		t.Fatal(err)
	}
	if _, err := tenants.RestoreSpace(ctx, pool, s.ID, now.Add(2*time.Hour), op); !errors.Is(err, tenants.ErrGraceOver) {
		t.Fatalf("restore after the grace period: %v", err)
	}
	due, err := tenants.SpacesToPurge(ctx, pool, now.Add(2*time.Hour), 10)
	if err != nil || len(due) != 1 || due[0].ID != s.ID {
		t.Fatalf("due for purge: %+v, %v", due, err)
	}
	if due, _ := tenants.SpacesToPurge(ctx, pool, now, 10); len(due) != 0 {
		t.Fatalf("due before the end of the grace period: %+v", due)
	}
}

func TestMarkSpacePurgedForgetsPersonalData(t *testing.T) {
	ctx := context.Background()
	pool, _ := pgtest.New(t)
	std := quota.Limits{StorageBytes: 40 * quota.GB, Accounts: 50}
	s := spaceIn(t, pool, "fini", std, tenants.SpaceActive)
	keep := spaceIn(t, pool, "reste", std, tenants.SpaceActive)
	measure(t, pool, s, quota.GB, 3, quota.LevelOK, time.Now())
	if _, _, err := tenants.DeleteSpace(ctx, pool, s.ID, "the treasurer jean.dupont@example.org asked", time.Hour, time.Now(), tenants.TokenActor(1)); err != nil {
		t.Fatal(err)
	}
	if _, err := tenants.MarkSpacePurged(ctx, pool, keep.ID); err == nil {
		t.Fatal("an active space was marked purged")
	}
	got, err := tenants.MarkSpacePurged(ctx, pool, s.ID)
	if err != nil || got.State != tenants.SpaceDeleted || got.ContactEmail != tenants.PurgedContact || got.PurgedAt == nil || got.DeleteReason != "" {
		t.Fatalf("purged: %+v, %v", got, err)
	}
	if u, _ := tenants.UsageOf(ctx, pool, []int64{s.ID}); len(u) != 0 {
		t.Fatalf("usage kept: %+v", u)
	}
	trail, _ := tenants.AuditTrail(ctx, pool, "space", s.ID)
	for _, e := range trail {
		for k, v := range e.Detail {
			if strings.Contains(strings.ToLower(k), "reason") || strings.Contains(fmtAny(v), "@") {
				t.Errorf("audit entry %s keeps %s = %v", e.Action, k, v)
			}
		}
	}
	if trail[len(trail)-1].Action != "space.purge" {
		t.Fatalf("last entry %+v", trail[len(trail)-1])
	}
	if other, _ := tenants.GetSpace(ctx, pool, keep.ID); other.ContactEmail != "reste@example.org" {
		t.Fatalf("another space changed: %+v", other)
	}
}

func fmtAny(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	return ""
}
