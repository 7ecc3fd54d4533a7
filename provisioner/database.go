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
	if _, err := p.tenant.Exec(ctx, fmt.Sprintf(`REVOKE ALL ON DATABASE %s FROM PUBLIC`, ident)); err != nil {
		return fmt.Errorf("restrict database %s: %w", name, err)
	}
	return nil
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
