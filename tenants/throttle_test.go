package tenants

import (
	"context"
	"testing"
	"time"

	"github.com/assospaces/spaces/tenants/pgtest"
)

func TestThrottleLocksAtLimitAndDoubles(t *testing.T) {
	pool, _ := pgtest.New(t)
	ctx := context.Background()
	rule := ThrottleRule{Scope: "test", Limit: 3, Window: time.Hour, Lockout: time.Minute, MaxLockout: 3 * time.Minute}
	key := ThrottleKey{Rule: rule, Key: AccountKey(" Someone@Example.org ")}
	if key.Key != AccountKey("someone@example.org") {
		t.Fatalf("account keys differ by case or spaces")
	}
	for i := range rule.Limit - 1 {
		until, err := ThrottleFailure(ctx, pool, key)
		if err != nil || !until.IsZero() {
			t.Fatalf("failure %d: locked until %v, %v", i+1, until, err)
		}
	}
	if until, _ := ThrottleLockedUntil(ctx, pool, key); !until.IsZero() {
		t.Fatalf("locked before the limit")
	}
	until, err := ThrottleFailure(ctx, pool, key)
	if err != nil || until.IsZero() {
		t.Fatalf("not locked at the limit: %v", err)
	}
	if got, _ := ThrottleLockedUntil(ctx, pool, key); !got.Equal(until) {
		t.Errorf("locked until %v, want %v", got, until)
	}
	if err := ThrottleReset(ctx, pool, key); err != nil {
		t.Fatal(err)
	}
	if got, _ := ThrottleLockedUntil(ctx, pool, key); !got.IsZero() {
		t.Errorf("still locked after a reset")
	}
	for previous, want := range []time.Duration{time.Minute, 2 * time.Minute, 3 * time.Minute, 3 * time.Minute} {
		if got := rule.lockout(previous); got != want {
			t.Errorf("lockout after %d: %v, want %v", previous, got, want)
		}
	}
}
