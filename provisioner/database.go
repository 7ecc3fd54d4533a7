package provisioner

import (
	"context"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/assospaces/spaces/tenants"
)

// ensureDatabase makes the space's role and database exist on the tenant server, with the role's
// password set to the one in the Nomad Variable. Setting the password on every pass is what
// makes a crash harmless: a role left by an earlier pass, whatever password it was given, ends
// up with the stored one.
func (p *Provisioner) ensureDatabase(ctx context.Context, s tenants.Space, password string) error {
	if p.dbSlots != nil {
		select {
		case p.dbSlots <- struct{}{}:
			defer func() { <-p.dbSlots }()
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	name := DatabaseName(s.Slug)
	ident := pgx.Identifier{name}.Sanitize()
	// The password travels as a SCRAM verifier, never in clear: statement logs on the tenant
	// server show no usable secret.
	verifier, err := scramVerifier(password)
	if err != nil {
		return err
	}
	var roleExists bool
	if err := p.tenant.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)`, name).Scan(&roleExists); err != nil {
		return fmt.Errorf("look up role %s: %w", name, err)
	}
	created := false
	if !roleExists {
		_, err := p.tenant.Exec(ctx, fmt.Sprintf(`CREATE ROLE %s LOGIN CONNECTION LIMIT 30 PASSWORD %s`, ident, quoteLiteral(verifier)))
		switch {
		case err == nil:
			created = true // with the stored password already
		case !isPgCode(err, "42710"): // duplicate_object: a concurrent pass made it
			return fmt.Errorf("create role %s: %w", name, err)
		}
	}
	if !created {
		if _, err := p.tenant.Exec(ctx, fmt.Sprintf(`ALTER ROLE %s WITH LOGIN PASSWORD %s`, ident, quoteLiteral(verifier))); err != nil {
			return fmt.Errorf("set password of role %s: %w", name, err)
		}
	}

	// The provisioner's role is not a superuser in production, only CREATEROLE and CREATEDB:
	// to make the space's role own its database, and to change that database's privileges, it
	// must itself be a member of that role. Checked and granted on every pass, so a role made by
	// a pass that stopped right after creating it gets the membership on the next one.
	if err := p.ensureMembership(ctx, name); err != nil {
		return err
	}

	var dbExists bool
	if err := p.tenant.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, name).Scan(&dbExists); err != nil {
		return fmt.Errorf("look up database %s: %w", name, err)
	}
	if !dbExists {
		// CREATE DATABASE cannot run in a transaction; a concurrent creation is duplicate_database.
		_, err := p.tenant.Exec(ctx, fmt.Sprintf(`CREATE DATABASE %s OWNER %s ENCODING 'UTF8' TEMPLATE template0`, ident, ident))
		if err != nil && !isPgCode(err, "42P04") {
			return fmt.Errorf("create database %s: %w", name, err)
		}
	}
	// Every role may connect to a new database (CONNECT and TEMPORARY are granted to PUBLIC): the
	// space's database is its own role's only. Both statements change nothing the second time.
	if _, err := p.tenant.Exec(ctx, fmt.Sprintf(`REVOKE ALL ON DATABASE %s FROM PUBLIC`, ident)); err != nil {
		return fmt.Errorf("restrict database %s: %w", name, err)
	}
	if _, err := p.tenant.Exec(ctx, fmt.Sprintf(`GRANT CONNECT, TEMPORARY ON DATABASE %s TO %s`, ident, ident)); err != nil {
		return fmt.Errorf("grant database %s to its role: %w", name, err)
	}
	// A REVOKE by a role lacking the right is only a warning: check what it left.
	var publicConnect, ownConnect bool
	err = p.tenant.QueryRow(ctx, `SELECT datacl IS NULL OR EXISTS (SELECT 1 FROM aclexplode(datacl) a WHERE a.grantee = 0 AND a.privilege_type = 'CONNECT'),
		has_database_privilege($1, oid, 'CONNECT')
		FROM pg_database WHERE datname = $1`, name).Scan(&publicConnect, &ownConnect)
	if err != nil {
		return fmt.Errorf("check privileges on database %s: %w", name, err)
	}
	switch {
	case publicConnect:
		return fmt.Errorf("database %s: every role may still connect to it; the provisioner's role could not revoke that", name)
	case !ownConnect:
		return fmt.Errorf("database %s: its role %s may not connect to it", name, name)
	}
	p.warnOtherDatabases(ctx, name)
	return nil
}

// ensureMembership makes the provisioner's role (the tenant server's current user) a member of
// role with what CREATE DATABASE … OWNER role and GRANT on its database need: up to Postgres 15,
// membership with its privileges (INHERIT, the default); from 16, also the SET option, which a
// plain GRANT does not give unless createrole_self_grant says so. A superuser has both already.
func (p *Provisioner) ensureMembership(ctx context.Context, role string) error {
	var version int
	if err := p.tenant.QueryRow(ctx, `SELECT current_setting('server_version_num')::int`).Scan(&version); err != nil {
		return fmt.Errorf("tenant server version: %w", err)
	}
	grant := fmt.Sprintf(`GRANT %s TO CURRENT_USER`, pgx.Identifier{role}.Sanitize())
	option := "MEMBER"
	if version >= 160000 {
		grant += ` WITH INHERIT TRUE, SET TRUE`
		option = "SET"
	}
	held := func() (bool, error) {
		var ok bool
		err := p.tenant.QueryRow(ctx, `SELECT pg_has_role($1, 'USAGE') AND pg_has_role($1, $2)`, role, option).Scan(&ok)
		return ok, err
	}
	ok, err := held()
	if err != nil {
		return fmt.Errorf("check membership in role %s: %w", role, err)
	}
	if ok {
		return nil
	}
	if _, err := p.tenant.Exec(ctx, grant); err != nil {
		// A concurrent pass may have made the same grant; only what is held in the end counts.
		if ok, _ := held(); !ok {
			return fmt.Errorf("grant role %s to the provisioner's role: %w", role, err)
		}
	}
	return nil
}

// warnOtherDatabases logs the databases other than its own that the space's role may connect
// to: the service's database and postgres keep CONNECT for PUBLIC until the operator revokes it
// (README, "Running it for real"), which the provisioner's role has no right to do.
func (p *Provisioner) warnOtherDatabases(ctx context.Context, role string) {
	others, err := otherDatabases(ctx, p.tenant, role)
	if err != nil {
		p.logger.WarnContext(ctx, "cannot list the databases a space's role may connect to", "role", role, "err", err)
		return
	}
	if len(others) > 0 {
		const shown = 10
		list := others
		if len(list) > shown {
			list = list[:shown]
		}
		p.logger.WarnContext(ctx, "a space's role may connect to databases not its own: revoke CONNECT on them from PUBLIC",
			"role", role, "databases", list, "count", len(others))
	}
}

// otherDatabases lists, by name, the databases on the server that role may connect to other than
// its own (the one of the same name).
func otherDatabases(ctx context.Context, q interface {
	Query(context.Context, string, ...any) (pgx.Rows, error)
}, role string) ([]string, error) {
	rows, err := q.Query(ctx, `SELECT datname FROM pg_database
		WHERE datallowconn AND datname <> $1 AND has_database_privilege($1, oid, 'CONNECT') ORDER BY datname`, role)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// scramVerifier is Postgres' SCRAM-SHA-256 verifier of password, as pg_authid stores it.
func scramVerifier(password string) (string, error) {
	const iterations = 4096
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	salted, err := pbkdf2.Key(sha256.New, password, salt, iterations, sha256.Size)
	if err != nil {
		return "", err
	}
	mac := func(key []byte, msg string) []byte {
		h := hmac.New(sha256.New, key)
		h.Write([]byte(msg))
		return h.Sum(nil)
	}
	clientKey := mac(salted, "Client Key")
	stored := sha256.Sum256(clientKey)
	serverKey := mac(salted, "Server Key")
	b64 := base64.StdEncoding.EncodeToString
	return fmt.Sprintf("SCRAM-SHA-256$%d:%s$%s:%s", iterations, b64(salt), b64(stored[:]), b64(serverKey)), nil
}

func quoteLiteral(s string) string {
	out := []byte{'\''}
	for i := 0; i < len(s); i++ {
		if s[i] == '\'' {
			out = append(out, '\'')
		}
		out = append(out, s[i])
	}
	return string(append(out, '\''))
}

func isPgCode(err error, code string) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == code
}
