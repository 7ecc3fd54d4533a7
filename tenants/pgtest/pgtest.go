// Package pgtest gives tests their own real, migrated PostgreSQL database.
//
// The server is named by SPACES_TEST_DATABASE_URL (a role allowed to create databases; `make test`
// starts one and sets it). A test that calls New without it fails: it never skips. The first call
// in a process builds a template database with every migration applied; each New then clones it,
// which takes milliseconds, and drops the clone when the test ends.
package pgtest

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/assospaces/spaces/tenants/schema"
)

// EnvVar names the server tests run against.
const EnvVar = "SPACES_TEST_DATABASE_URL"

var (
	templateOnce sync.Once
	templateName string
	templateErr  error
)

// ServerURL is the admin URL of the test server; the test fails when it is not set.
func ServerURL(tb testing.TB) string {
	tb.Helper()
	u := os.Getenv(EnvVar)
	if u == "" {
		tb.Fatalf("%s is not set: these tests need a real PostgreSQL server (run them with `make test`)", EnvVar)
	}
	return u
}

// ProvisionerRole is the least-privileged role ProvisionerURL logs in as: LOGIN CREATEROLE
// CREATEDB, not a superuser, as production gives the provisioner on the tenant server.
const ProvisionerRole = "spaces_provisioner"

// provisionerPassword is the test role's password; the test server may trust every login, but
// the URL carries one as production's does.
const provisionerPassword = "spaces-provisioner-test"

var provisionerRoles sync.Map // admin URL → *roleOnce

type roleOnce struct {
	once sync.Once
	err  error
}

// ProvisionerURL is the URL of ProvisionerRole on the test server (its database: the admin URL's),
// for tests to give the provisioner as its tenant server. The role is created the first time,
// or brought back to those attributes; test binaries running at once take turns.
func ProvisionerURL(tb testing.TB) string {
	tb.Helper()
	admin := ServerURL(tb)
	v, _ := provisionerRoles.LoadOrStore(admin, &roleOnce{})
	r := v.(*roleOnce)
	r.once.Do(func() { r.err = ensureProvisionerRole(context.Background(), admin) })
	if r.err != nil {
		tb.Fatalf("prepare role %s: %v", ProvisionerRole, r.err)
	}
	u, err := url.Parse(admin)
	if err != nil {
		tb.Fatalf("parse %s: %v", EnvVar, err)
	}
	u.User = url.UserPassword(ProvisionerRole, provisionerPassword)
	return u.String()
}

func ensureProvisionerRole(ctx context.Context, admin string) error {
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		return fmt.Errorf("connect to %s: %w", EnvVar, err)
	}
	defer conn.Close(ctx)
	// Roles are shared by the whole server: the binaries of several packages must not race.
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock(4243)`); err != nil {
		return err
	}
	defer conn.Exec(context.Background(), `SELECT pg_advisory_unlock(4243)`) //nolint:errcheck
	var exists bool
	if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)`, ProvisionerRole).Scan(&exists); err != nil {
		return err
	}
	verb := "ALTER"
	if !exists {
		verb = "CREATE"
	}
	_, err = conn.Exec(ctx, fmt.Sprintf(`%s ROLE %s WITH LOGIN CREATEROLE CREATEDB NOSUPERUSER NOREPLICATION NOBYPASSRLS PASSWORD '%s'`,
		verb, ProvisionerRole, provisionerPassword))
	return err
}

// New creates a fresh migrated database for this test and returns a pool on it and its URL.
// The database is dropped at cleanup.
func New(tb testing.TB) (*pgxpool.Pool, string) {
	tb.Helper()
	admin := ServerURL(tb)
	ctx := context.Background()
	templateOnce.Do(func() { templateName, templateErr = buildTemplate(ctx, admin) })
	if templateErr != nil {
		tb.Fatalf("prepare template database: %v", templateErr)
	}
	return create(tb, admin, "TEMPLATE "+templateName)
}

// Empty creates a fresh database with no schema at all, for tests of migrations themselves.
func Empty(tb testing.TB) (*pgxpool.Pool, string) {
	tb.Helper()
	return create(tb, ServerURL(tb), "")
}

// create makes a database with the given CREATE DATABASE options, connects a pool to it, and
// drops it when the test ends.
func create(tb testing.TB, admin, options string) (*pgxpool.Pool, string) {
	tb.Helper()
	ctx := context.Background()
	name := "test_" + randomHex(8)
	if err := adminExec(ctx, admin, fmt.Sprintf(`CREATE DATABASE %s %s`, name, options)); err != nil {
		tb.Fatalf("create test database: %v", err)
	}
	dbURL := WithDatabase(tb, admin, name)
	pool, err := pgxpool.New(ctx, dbURL)
	if err != nil {
		tb.Fatalf("connect to test database: %v", err)
	}
	tb.Cleanup(func() {
		pool.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := adminExec(ctx, admin, fmt.Sprintf(`DROP DATABASE IF EXISTS %s WITH (FORCE)`, name)); err != nil {
			tb.Logf("drop test database %s: %v", name, err)
		}
	})
	return pool, dbURL
}

// WithDatabase returns serverURL pointing at another database on the same server.
func WithDatabase(tb testing.TB, serverURL, database string) string {
	tb.Helper()
	u, err := url.Parse(serverURL)
	if err != nil {
		tb.Fatalf("parse %s: %v", EnvVar, err)
	}
	u.Path = "/" + database
	return u.String()
}

// buildTemplate creates, once per schema version, a database with every migration applied.
// Its name carries a hash of the migrations, so a changed schema gets a new template.
func buildTemplate(ctx context.Context, admin string) (string, error) {
	migrations, err := schema.Migrations()
	if err != nil {
		return "", err
	}
	h := sha256.New()
	for _, m := range migrations {
		fmt.Fprintf(h, "%d\x00%s\x00", m.Version, m.Up)
	}
	name := "tmpl_" + hex.EncodeToString(h.Sum(nil))[:16]

	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		return "", fmt.Errorf("connect to %s: %w", EnvVar, err)
	}
	defer conn.Close(ctx)
	// Test binaries of several packages run at once: one builds the template, the others wait.
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock(4242)`); err != nil {
		return "", err
	}
	defer conn.Exec(context.Background(), `SELECT pg_advisory_unlock(4242)`) //nolint:errcheck
	var exists bool
	if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, name).Scan(&exists); err != nil {
		return "", err
	}
	if exists {
		return name, nil
	}
	building := name + "_build"
	if _, err := conn.Exec(ctx, fmt.Sprintf(`DROP DATABASE IF EXISTS %s WITH (FORCE)`, building)); err != nil {
		return "", err
	}
	if _, err := conn.Exec(ctx, `CREATE DATABASE `+building); err != nil {
		return "", err
	}
	u, _ := url.Parse(admin)
	u.Path = "/" + building
	pool, err := pgxpool.New(ctx, u.String())
	if err != nil {
		return "", err
	}
	err = schema.Migrate(ctx, pool, slog.New(slog.NewTextHandler(io.Discard, nil)))
	pool.Close()
	if err != nil {
		return "", fmt.Errorf("migrate template: %w", err)
	}
	if _, err := conn.Exec(ctx, fmt.Sprintf(`ALTER DATABASE %s RENAME TO %s`, building, name)); err != nil {
		return "", err
	}
	return name, nil
}

func adminExec(ctx context.Context, admin, sql string) error {
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		return fmt.Errorf("connect to %s: %w", EnvVar, err)
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, sql)
	return err
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}
