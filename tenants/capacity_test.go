package tenants_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/assospaces/spaces/quota"
	"github.com/assospaces/spaces/tenants"
	"github.com/assospaces/spaces/tenants/pgtest"
)

func TestCapacityAdmitsInApprovalOrder(t *testing.T) {
	pool, _ := pgtest.New(t)
	ctx := context.Background()
	var ids []int64
	for i := range 4 {
		s, err := tenants.CreateSpace(ctx, pool, tenants.NewSpace{Slug: fmt.Sprintf("cap%d", i), AssociationName: "A",
			ContactEmail: "a@example.org", Limits: quota.DefaultLimits}, tenants.ModeratorActor(1))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, s.ID)
	}
	const capacity = 2
	// The third cannot jump the queue while the first two wait for their worker.
	if _, adm, err := tenants.AdmitSpace(ctx, pool, ids[2], capacity, tenants.ActorReconciler); err != nil || adm.Admitted || adm.Position != 3 || !adm.WaitingForRoom {
		t.Fatalf("third space: %+v, %v", adm, err)
	}
	for _, id := range ids[:2] {
		s, adm, err := tenants.AdmitSpace(ctx, pool, id, capacity, tenants.ActorReconciler)
		if err != nil || !adm.Admitted || s.State != tenants.SpaceProvisioning {
			t.Fatalf("space %d: %s %+v %v", id, s.State, adm, err)
		}
	}
	// Admitting again is harmless; the ceiling is reached for the others.
	if _, adm, err := tenants.AdmitSpace(ctx, pool, ids[0], capacity, tenants.ActorReconciler); err != nil || !adm.Admitted {
		t.Fatalf("readmit: %+v %v", adm, err)
	}
	if _, adm, _ := tenants.AdmitSpace(ctx, pool, ids[2], capacity, tenants.ActorReconciler); adm.Admitted || adm.Position != 1 || adm.InUse != 2 {
		t.Fatalf("third space at the ceiling: %+v", adm)
	}
	if pos, _ := tenants.QueuePosition(ctx, pool, ids[3]); pos != 2 {
		t.Errorf("fourth space position %d, want 2", pos)
	}
	if got, _ := tenants.SpacesToStart(ctx, pool, capacity, 0); len(got) != 2 || got[0] != ids[0] || got[1] != ids[1] {
		t.Errorf("to start at the ceiling: %v (the two provisioning ones)", got)
	}
	// One fails: its place goes to the next in order.
	if _, err := tenants.TransitionSpace(ctx, pool, ids[1], tenants.Transition{To: tenants.SpaceFailed, Actor: tenants.ActorReconciler, Reason: "x"}); err != nil {
		t.Fatal(err)
	}
	if got, _ := tenants.SpacesToStart(ctx, pool, capacity, 0); len(got) != 2 || got[1] != ids[2] {
		t.Errorf("to start after a failure: %v, want %d next", got, ids[2])
	}
	if got, _ := tenants.SpacesToStart(ctx, pool, 0, 0); len(got) != 3 {
		t.Errorf("without a ceiling: %v, want every provisioning and queued space", got)
	}
	if pos, _ := tenants.QueuePosition(ctx, pool, ids[0]); pos != 0 {
		t.Errorf("a provisioning space has queue position %d", pos)
	}
}

// TestConcurrentAdmissionsFillTheCeilingExactly: eight workers admitting eight spaces at once,
// over and over, under a ceiling of three: exactly the first three in approval order start, no
// more, whatever the interleaving.
func TestConcurrentAdmissionsFillTheCeilingExactly(t *testing.T) {
	pool, _ := pgtest.New(t)
	ctx := context.Background()
	const n, ceiling = 8, 3
	var ids []int64
	for i := range n {
		s, err := tenants.CreateSpace(ctx, pool, tenants.NewSpace{Slug: fmt.Sprintf("race%d", i), AssociationName: "A",
			ContactEmail: "a@example.org", Limits: quota.DefaultLimits}, tenants.ModeratorActor(1))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, s.ID)
	}
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for _, id := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 20 { // until admitted, or the ceiling is what holds it back
				_, adm, err := tenants.AdmitSpace(ctx, pool, id, ceiling, tenants.ActorReconciler)
				if err != nil {
					errs <- err
					return
				}
				if adm.Admitted || adm.WaitingForRoom {
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	spaces, err := tenants.ListSpaces(ctx, pool, tenants.SpaceFilter{States: []tenants.SpaceState{tenants.SpaceProvisioning}})
	if err != nil {
		t.Fatal(err)
	}
	if len(spaces) != ceiling {
		t.Fatalf("%d spaces provisioning under a ceiling of %d", len(spaces), ceiling)
	}
	for i, s := range spaces {
		if s.ID != ids[i] {
			t.Errorf("provisioning %v, want the first %d in approval order", spaces, ceiling)
			break
		}
	}
}
