package schema_test

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"

	"github.com/assospaces/spaces/tenants/pgtest"
	"github.com/assospaces/spaces/tenants/schema"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func TestMigrationsAreWellFormed(t *testing.T) {
	ms, err := schema.Migrations()
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) == 0 {
		t.Fatal("no migrations embedded")
	}
	seen := map[int]bool{}
	for i, m := range ms {
		if seen[m.Version] {
			t.Errorf("migration %d appears twice", m.Version)
		}
		seen[m.Version] = true
		if i > 0 && ms[i-1].Version >= m.Version {
			t.Errorf("migrations out of order at %d", m.Version)
		}
		if m.Down == "" {
			t.Errorf("migration %04d_%s has no .down.sql", m.Version, m.Name)
		}
	}
}

func TestMigrateIsIdempotentAndReversible(t *testing.T) {
	ctx := context.Background()
	pool, _ := pgtest.Empty(t)

	if err := schema.Migrate(ctx, pool, quiet); err != nil {
		t.Fatalf("first migrate: %v", err)
	}
	if err := schema.Migrate(ctx, pool, quiet); err != nil {
		t.Fatalf("second migrate: %v", err)
	}
	pending, err := schema.Pending(ctx, pool)
	if err != nil || len(pending) != 0 {
		t.Fatalf("pending after migrate = %v, %v; want none", pending, err)
	}
	var riverTable bool
	if err := pool.QueryRow(ctx, `SELECT to_regclass('river_job') IS NOT NULL`).Scan(&riverTable); err != nil || !riverTable {
		t.Fatalf("River's schema missing after migrate (err %v)", err)
	}

	if err := schema.Rollback(ctx, pool, 0, quiet); err != nil {
		t.Fatalf("rollback to 0: %v", err)
	}
	var spacesTable bool
	if err := pool.QueryRow(ctx, `SELECT to_regclass('spaces') IS NOT NULL`).Scan(&spacesTable); err != nil || spacesTable {
		t.Fatalf("spaces table still there after rollback (err %v)", err)
	}
	all, _ := schema.Migrations()
	pending, err = schema.Pending(ctx, pool)
	if err != nil || len(pending) != len(all) {
		t.Fatalf("pending after rollback = %d, %v; want %d", len(pending), err, len(all))
	}
	if err := schema.Migrate(ctx, pool, quiet); err != nil {
		t.Fatalf("migrate after rollback: %v", err)
	}
}

func TestConcurrentMigratorsCooperate(t *testing.T) {
	ctx := context.Background()
	pool, _ := pgtest.Empty(t)
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = schema.Migrate(ctx, pool, quiet)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("migrator %d: %v", i, err)
		}
	}
	var n int
	all, _ := schema.Migrations()
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM spaces_schema_migrations`).Scan(&n); err != nil || n != len(all) {
		t.Fatalf("recorded migrations = %d, %v; want %d", n, err, len(all))
	}
}
