package tenants

import (
	"context"
	"testing"
	"time"

	"github.com/assospaces/spaces/tenants/pgtest"
)

func TestRateTakeBurstThenRefill(t *testing.T) {
	pool, _ := pgtest.New(t)
	ctx := context.Background()
	rule := ApplyNetworkRule(3)
	if rule.Burst != 3 || rule.Every != 20*time.Minute {
		t.Fatalf("ApplyNetworkRule(3) = %+v, want a burst of 3, one more every 20 minutes", rule)
	}
	take := func(key string) (bool, time.Duration) {
		t.Helper()
		ok, wait, err := RateTake(ctx, pool, rule, key)
		if err != nil {
			t.Fatal(err)
		}
		return ok, wait
	}
	for i := range rule.Burst {
		if ok, _ := take("192.0.2.1/32"); !ok {
			t.Fatalf("request %d of the burst refused", i+1)
		}
	}
	for range 2 {
		ok, wait := take("192.0.2.1/32")
		if ok {
			t.Fatal("a request past the burst was allowed")
		}
		if wait <= 0 || wait > rule.Every {
			t.Fatalf("retry after %v, want within (0, %v]", wait, rule.Every)
		}
	}
	if ok, _ := take("192.0.2.2/32"); !ok {
		t.Fatal("another network was refused: buckets are per key")
	}
	// Half an interval later (the bucket's clock moved back), still not a whole token: refused
	// requests took nothing. A whole interval later, one more.
	back := func(d time.Duration) {
		t.Helper()
		if _, err := pool.Exec(ctx, `UPDATE rate_buckets SET updated_at = updated_at - $1 * interval '1 second' WHERE key = '192.0.2.1/32'`,
			d.Seconds()); err != nil {
			t.Fatal(err)
		}
	}
	back(rule.Every / 2)
	if ok, _ := take("192.0.2.1/32"); ok {
		t.Fatal("allowed with half a token")
	}
	back(rule.Every / 2)
	if ok, _ := take("192.0.2.1/32"); !ok {
		t.Fatal("refused after a whole interval")
	}
	if ok, _ := take("192.0.2.1/32"); ok {
		t.Fatal("one interval gave more than one token")
	}
	// Idle for longer than a whole refill: full again, never more than the burst.
	back(10 * time.Hour)
	for i := range rule.Burst {
		if ok, _ := take("192.0.2.1/32"); !ok {
			t.Fatalf("request %d after a long pause refused", i+1)
		}
	}
	if ok, _ := take("192.0.2.1/32"); ok {
		t.Fatal("a long pause gave more than the burst")
	}
}

func TestRateTakeSweepsFullBuckets(t *testing.T) {
	pool, _ := pgtest.New(t)
	ctx := context.Background()
	rule := ApplyNetworkRule(2)
	for _, key := range []string{"192.0.2.1/32", "192.0.2.2/32"} {
		if _, _, err := RateTake(ctx, pool, rule, key); err != nil {
			t.Fatal(err)
		}
	}
	// The first bucket is full again; the second is not.
	if _, err := pool.Exec(ctx, `UPDATE rate_buckets SET full_at = now() - interval '1 second' WHERE key = '192.0.2.1/32'`); err != nil {
		t.Fatal(err)
	}
	old := rateSweepOneIn
	rateSweepOneIn = 1
	t.Cleanup(func() { rateSweepOneIn = old })
	if _, _, err := RateTake(ctx, pool, rule, "192.0.2.3/32"); err != nil {
		t.Fatal(err)
	}
	rows, err := pool.Query(ctx, `SELECT key FROM rate_buckets ORDER BY key`)
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k)
	}
	if rows.Err() != nil {
		t.Fatal(rows.Err())
	}
	if len(keys) != 2 || keys[0] != "192.0.2.2/32" || keys[1] != "192.0.2.3/32" {
		t.Fatalf("buckets after a sweep: %v, want the one not full and the new one", keys)
	}
}
