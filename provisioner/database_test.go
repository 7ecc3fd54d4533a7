package provisioner

import (
	"context"
	"io"
	"log/slog"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/assospaces/spaces/provisioner/nomad"
	"github.com/assospaces/spaces/quota"
	"github.com/assospaces/spaces/templates"
	"github.com/assospaces/spaces/tenants"
	"github.com/assospaces/spaces/tenants/pgtest"
)

// newLeastPrivilegeProvisioner is a provisioner whose tenant server role is the one production
// gives it: CREATEROLE and CREATEDB, not a superuser. It returns the URL of the service's own
// (test) database too.
func newLeastPrivilegeProvisioner(t *testing.T) (*Provisioner, string) {
	t.Helper()
	pool, serviceURL := pgtest.New(t)
	set, err := templates.Load("")
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeNomad{vars: map[string]nomad.Variable{}}
	p, err := New(context.Background(), Config{BaseDomain: "spaces.test", Template: templates.Dev, Templates: set,
		StandinBin: "/bin/true", TenantDatabaseURL: pgtest.ProvisionerURL(t)}, pool, f, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	var super, createRole, createDB bool
	err = p.tenant.QueryRow(context.Background(), `SELECT rolsuper, rolcreaterole, rolcreatedb FROM pg_roles WHERE rolname = current_user`).
		Scan(&super, &createRole, &createDB)
	if err != nil || super || !createRole || !createDB {
		t.Fatalf("tenant role: superuser %t, createrole %t, createdb %t, %v; want only CREATEROLE and CREATEDB", super, createRole, createDB, err)
	}
	return p, serviceURL
}

// testSpace names a space for this test and drops its database and role, as the server's
// administrator, when the test ends.
func testSpace(t *testing.T, prefix string) (tenants.Space, string) {
	t.Helper()
	slug := prefix + "-" + strings.ToLower(newSecret()[:8])
	name := DatabaseName(slug)
	admin := pgtest.ServerURL(t)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		adminExec(t, ctx, admin, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
		adminExec(t, ctx, admin, "DROP ROLE IF EXISTS "+pgx.Identifier{name}.Sanitize())
	})
	return tenants.Space{Slug: slug, Limits: quota.Limits{StorageBytes: quota.GB, Accounts: 1}}, name
}

func adminExec(t *testing.T, ctx context.Context, admin string, sqls ...string) {
	t.Helper()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		t.Error(err)
		return
	}
	defer conn.Close(ctx)
	for _, sql := range sqls {
		if _, err := conn.Exec(ctx, sql); err != nil {
			t.Errorf("%s: %v", sql, err)
		}
	}
}

// connectAs opens a connection to database as role. The test server may trust every login, so
// this proves nothing about passwords; the CONNECT privilege is checked all the same.
func connectAs(t *testing.T, role, password, database string) (*pgx.Conn, error) {
	t.Helper()
	u, err := url.Parse(pgtest.WithDatabase(t, pgtest.ServerURL(t), database))
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.UserPassword(role, password)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, u.String())
	if err == nil {
		t.Cleanup(func() { conn.Close(context.Background()) })
	}
	return conn, err
}

// checkOwnDatabase checks that the space's role owns its database, that PUBLIC may not connect
// to it, and that the role connects and creates a table there (as Nextcloud's installer does).
func checkOwnDatabase(t *testing.T, p *Provisioner, name, password string) {
	t.Helper()
	ctx := context.Background()
	var owner string
	var publicConnect bool
	err := p.tenant.QueryRow(ctx, `SELECT pg_get_userbyid(datdba),
		datacl IS NULL OR EXISTS (SELECT 1 FROM aclexplode(datacl) a WHERE a.grantee = 0 AND a.privilege_type = 'CONNECT')
		FROM pg_database WHERE datname = $1`, name).Scan(&owner, &publicConnect)
	if err != nil {
		t.Fatalf("database %s: %v", name, err)
	}
	if owner != name || publicConnect {
		t.Errorf("database %s: owner %s, PUBLIC may connect %t; want owner %s and no PUBLIC", name, owner, publicConnect, name)
	}
	conn, err := connectAs(t, name, password, name)
	if err != nil {
		t.Fatalf("role %s cannot connect to its database: %v", name, err)
	}
	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS oc_probe (id int)`); err != nil {
		t.Errorf("role %s cannot create a table in its database: %v", name, err)
	}
}

// TestDatabaseWithLeastPrivilegeRole: a provisioner that is not a superuser makes the space's
// role and the database that role owns, and a second pass changes nothing.
func TestDatabaseWithLeastPrivilegeRole(t *testing.T) {
	t.Parallel()
	p, _ := newLeastPrivilegeProvisioner(t)
	s, name := testSpace(t, "least")
	password := newSecret()
	for range 2 {
		if err := p.ensureDatabase(context.Background(), s, password); err != nil {
			t.Fatal(err)
		}
	}
	checkOwnDatabase(t, p, name, password)
}

// TestDatabaseResumesAnInterruptedPass leaves the tenant server as a pass stopped at each step
// would, or as an older deployment with a superuser left it, then runs a pass with the
// least-privilege role.
func TestDatabaseResumesAnInterruptedPass(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		// asProvisioner runs as the provisioner's role, asAdmin as the server's administrator.
		asProvisioner, asAdmin []string
	}{
		{name: "after CREATE ROLE", asProvisioner: []string{`CREATE ROLE %[1]s LOGIN PASSWORD 'lost-in-a-crash'`}},
		{name: "after the membership", asProvisioner: []string{
			`CREATE ROLE %[1]s LOGIN PASSWORD 'lost-in-a-crash'`, `GRANT %[1]s TO CURRENT_USER`}},
		{name: "after CREATE DATABASE", asProvisioner: []string{
			`CREATE ROLE %[1]s LOGIN PASSWORD 'lost-in-a-crash'`, `GRANT %[1]s TO CURRENT_USER`,
			`CREATE DATABASE %[1]s OWNER %[1]s TEMPLATE template0`}},
		{name: "made by a superuser", asAdmin: []string{
			`CREATE ROLE %[1]s LOGIN PASSWORD 'lost-in-a-crash'`, `CREATE DATABASE %[1]s OWNER %[1]s TEMPLATE template0`}},
	}
	p, _ := newLeastPrivilegeProvisioner(t)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			s, name := testSpace(t, "resume")
			ident := pgx.Identifier{name}.Sanitize()
			for _, sql := range c.asProvisioner {
				if _, err := p.tenant.Exec(ctx, strings.ReplaceAll(sql, "%[1]s", ident)); err != nil {
					t.Fatal(err)
				}
			}
			for _, sql := range c.asAdmin {
				adminExec(t, ctx, pgtest.ServerURL(t), strings.ReplaceAll(sql, "%[1]s", ident))
			}
			password := newSecret()
			for range 2 {
				if err := p.ensureDatabase(ctx, s, password); err != nil {
					t.Fatal(err)
				}
			}
			checkOwnDatabase(t, p, name, password)
		})
	}
}

// TestTenantReachesOnlyItsOwnDatabase: a space's role, whose password is in its Nextcloud,
// connects to its own database and to no other space's; once the operator has revoked CONNECT
// from PUBLIC on the service's database (README, "Running it for real"), not to that one either.
func TestTenantReachesOnlyItsOwnDatabase(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	p, serviceURL := newLeastPrivilegeProvisioner(t)
	u, err := url.Parse(serviceURL)
	if err != nil {
		t.Fatal(err)
	}
	service := strings.TrimPrefix(u.Path, "/")
	a, nameA := testSpace(t, "isol-a")
	b, nameB := testSpace(t, "isol-b")
	passA, passB := newSecret(), newSecret()
	if err := p.ensureDatabase(ctx, a, passA); err != nil {
		t.Fatal(err)
	}
	if err := p.ensureDatabase(ctx, b, passB); err != nil {
		t.Fatal(err)
	}

	// Before the operator's step the service's database is open to every role, and listed.
	others, err := otherDatabases(ctx, p.tenant, nameA)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(others, service) || slices.Contains(others, nameB) {
		t.Errorf("databases %s may connect to = %v; want %s listed and not %s", nameA, others, service, nameB)
	}
	// The operator's one-time step, on the service's database (its role here is the superuser).
	adminExec(t, ctx, pgtest.ServerURL(t),
		"REVOKE CONNECT ON DATABASE "+pgx.Identifier{service}.Sanitize()+" FROM PUBLIC",
		"GRANT CONNECT ON DATABASE "+pgx.Identifier{service}.Sanitize()+" TO "+pgtest.ProvisionerRole)
	others, err = otherDatabases(ctx, p.tenant, nameA)
	if err != nil {
		t.Fatal(err)
	}
	if slices.Contains(others, service) || slices.Contains(others, nameB) {
		t.Errorf("databases %s may connect to = %v; want neither %s nor %s", nameA, others, service, nameB)
	}

	for _, c := range []struct {
		role, password, database string
		allowed                  bool
	}{
		{nameA, passA, nameA, true},
		{nameB, passB, nameB, true},
		{nameA, passA, nameB, false},
		{nameB, passB, nameA, false},
		{nameA, passA, service, false},
		{nameB, passB, service, false},
		{pgtest.ProvisionerRole, "", service, true},
	} {
		conn, err := connectAs(t, c.role, c.password, c.database)
		switch {
		case c.allowed && err != nil:
			t.Errorf("%s cannot connect to %s: %v", c.role, c.database, err)
		case c.allowed:
			var got string
			if err := conn.QueryRow(ctx, `SELECT current_database()`).Scan(&got); err != nil || got != c.database {
				t.Errorf("%s on %s: current_database() = %q, %v", c.role, c.database, got, err)
			}
		case err == nil:
			t.Errorf("%s connects to %s", c.role, c.database)
		case !isPgCode(err, "42501"): // insufficient_privilege: permission denied for database
			t.Errorf("%s connecting to %s: %v; want permission denied", c.role, c.database, err)
		}
	}
}
