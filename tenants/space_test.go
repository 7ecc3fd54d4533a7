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

func newSpace(t *testing.T, db tenants.DB, slug string) tenants.Space {
	t.Helper()
	s, err := tenants.CreateSpace(context.Background(), db, tenants.NewSpace{
		Slug: slug, AssociationName: "Les Amis de " + slug, ContactEmail: slug + "@example.org", Limits: quota.DefaultLimits,
	}, tenants.ModeratorActor(1))
	if err != nil {
		t.Fatalf("create space: %v", err)
	}
	return s
}

func TestSpaceLifecycle(t *testing.T) {
	ctx := context.Background()
	pool, _ := pgtest.New(t)
	s := newSpace(t, pool, "amis")
	if s.State != tenants.SpaceQueued || s.Generation != 1 || s.Locale != "fr" {
		t.Fatalf("new space = %+v; want queued, generation 1, locale fr", s)
	}
	if _, err := tenants.CreateSpace(ctx, pool, tenants.NewSpace{Slug: "amis", AssociationName: "x", ContactEmail: "x@example.org",
		Limits: quota.DefaultLimits}, tenants.ActorSystem); !errors.Is(err, tenants.ErrSlugTaken) {
		t.Fatalf("second space with the same slug: err = %v, want ErrSlugTaken", err)
	}

	steps := []struct {
		to      tenants.SpaceState
		actor   tenants.Actor
		wantGen int64
	}{
		{tenants.SpaceProvisioning, tenants.ActorReconciler, 1}, // progress: generation unchanged
		{tenants.SpaceActive, tenants.ActorReconciler, 1},
		{tenants.SpaceSuspended, tenants.TokenActor(1), 2}, // decision: generation bumped
		{tenants.SpaceActive, tenants.TokenActor(1), 3},
		{tenants.SpaceDeleting, tenants.TokenActor(1), 4},
		{tenants.SpaceDeleted, tenants.ActorReconciler, 4},
	}
	for _, st := range steps {
		got, err := tenants.TransitionSpace(ctx, pool, s.ID, tenants.Transition{To: st.to, Actor: st.actor, DeleteAfter: time.Now().Add(time.Hour)})
		if err != nil {
			t.Fatalf("→ %s: %v", st.to, err)
		}
		if got.State != st.to || got.Generation != st.wantGen {
			t.Fatalf("→ %s: state %s generation %d; want generation %d", st.to, got.State, got.Generation, st.wantGen)
		}
	}
	if _, err := tenants.TransitionSpace(ctx, pool, s.ID, tenants.Transition{To: tenants.SpaceActive, Actor: tenants.ActorSystem}); !errors.Is(err, tenants.ErrInvalidTransition) {
		t.Fatalf("deleted → active: err = %v, want ErrInvalidTransition", err)
	}

	trail, err := tenants.AuditTrail(ctx, pool, "space", s.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(trail) != 1+len(steps) {
		t.Fatalf("audit trail has %d entries, want %d: %+v", len(trail), 1+len(steps), trail)
	}
	last := trail[len(trail)-1]
	if last.FromState != "deleting" || last.ToState != "deleted" || last.Actor != tenants.ActorReconciler || last.Action != "space.deleted" {
		t.Fatalf("last audit entry = %+v", last)
	}
}

func TestSpaceFailureAndConditionalTransition(t *testing.T) {
	ctx := context.Background()
	pool, _ := pgtest.New(t)
	s := newSpace(t, pool, "echecs")
	if _, err := tenants.TransitionSpace(ctx, pool, s.ID, tenants.Transition{To: tenants.SpaceActive, Actor: tenants.ActorSystem}); !errors.Is(err, tenants.ErrInvalidTransition) {
		t.Fatalf("queued → active: err = %v, want ErrInvalidTransition", err)
	}
	if _, err := tenants.TransitionSpace(ctx, pool, s.ID, tenants.Transition{To: tenants.SpaceProvisioning, Actor: tenants.ActorSystem,
		From: []tenants.SpaceState{tenants.SpaceFailed}}); !errors.Is(err, tenants.ErrInvalidTransition) {
		t.Fatalf("conditional move from the wrong state: err = %v, want ErrInvalidTransition", err)
	}
	tenants.TransitionSpace(ctx, pool, s.ID, tenants.Transition{To: tenants.SpaceProvisioning, Actor: tenants.ActorSystem}) //nolint:errcheck
	failed, err := tenants.TransitionSpace(ctx, pool, s.ID, tenants.Transition{To: tenants.SpaceFailed, Actor: tenants.ActorSystem, Reason: "template does not parse"})
	if err != nil || failed.FailureReason != "template does not parse" {
		t.Fatalf("→ failed: %+v, %v", failed, err)
	}
	retried, err := tenants.TransitionSpace(ctx, pool, s.ID, tenants.Transition{To: tenants.SpaceQueued, Actor: tenants.TokenActor(2), Action: "space.retry"})
	if err != nil || retried.FailureReason != "" || retried.Generation != 2 {
		t.Fatalf("retry: %+v, %v; want reason cleared and generation 2", retried, err)
	}
	if _, err := tenants.GetSpace(ctx, pool, 999999); !errors.Is(err, tenants.ErrNotFound) {
		t.Fatalf("GetSpace(missing) err = %v, want ErrNotFound", err)
	}
}

func TestListSpacesKeyset(t *testing.T) {
	ctx := context.Background()
	pool, _ := pgtest.New(t)
	for _, slug := range []string{"aaa", "bbb", "ccc", "ddd"} {
		newSpace(t, pool, slug)
	}
	first, err := tenants.ListSpaces(ctx, pool, tenants.SpaceFilter{Limit: 2})
	if err != nil || len(first) != 2 {
		t.Fatalf("page 1: %d, %v", len(first), err)
	}
	second, err := tenants.ListSpaces(ctx, pool, tenants.SpaceFilter{Limit: 2, AfterID: first[1].ID})
	if err != nil || len(second) != 2 || second[0].Slug != "ccc" {
		t.Fatalf("page 2: %+v, %v", second, err)
	}
	active, err := tenants.ListSpaces(ctx, pool, tenants.SpaceFilter{States: []tenants.SpaceState{tenants.SpaceActive}})
	if err != nil || len(active) != 0 {
		t.Fatalf("active spaces = %d, %v; want 0", len(active), err)
	}
}

func TestRecordObservationKeepsSinceWhileStatusHolds(t *testing.T) {
	ctx := context.Background()
	pool, _ := pgtest.New(t)
	s := newSpace(t, pool, "observe")
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	cond := tenants.Condition{Type: "Healthy", Status: "False", Reason: "Starting", Message: "allocation pending"}
	if err := tenants.RecordObservation(ctx, pool, s.ID, 1, []tenants.Condition{cond}, t0); err != nil {
		t.Fatal(err)
	}
	cond.Message = "still pending"
	tenants.RecordObservation(ctx, pool, s.ID, 1, []tenants.Condition{cond}, t0.Add(time.Minute)) //nolint:errcheck
	got, _ := tenants.GetSpace(ctx, pool, s.ID)
	if len(got.Conditions) != 1 || !got.Conditions[0].Since.Equal(t0) || got.Conditions[0].Message != "still pending" || got.ObservedGeneration != 1 {
		t.Fatalf("after same status: %+v", got)
	}
	cond.Status = "True"
	tenants.RecordObservation(ctx, pool, s.ID, 1, []tenants.Condition{cond}, t0.Add(2*time.Minute)) //nolint:errcheck
	got, _ = tenants.GetSpace(ctx, pool, s.ID)
	if !got.Conditions[0].Since.Equal(t0.Add(2 * time.Minute)) {
		t.Fatalf("after status change Since = %v", got.Conditions[0].Since)
	}
}

func TestStateMachineIsClosed(t *testing.T) {
	for _, from := range tenants.SpaceStates {
		if !from.Valid() {
			t.Errorf("state %s has no row in the state machine", from)
		}
		for _, to := range tenants.SpaceStates {
			if from == to && from.CanBecome(to) {
				t.Errorf("%s → %s: a state cannot move to itself", from, to)
			}
		}
	}
	if tenants.SpaceDeleted.CanBecome(tenants.SpaceQueued) {
		t.Error("a deleted space came back")
	}
}
