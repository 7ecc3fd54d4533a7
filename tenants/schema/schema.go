// Package schema owns the database schema: numbered SQL migrations embedded in the binary, applied
// in order, each in its own transaction, together with River's own schema.
//
// Files are named NNNN_description.up.sql and NNNN_description.down.sql. Numbers are unique and
// only ever added; a migration that has been applied somewhere is never edited.
package schema

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"sort"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"
)

//go:embed migrations/*.sql
var files embed.FS

// lockID serialises concurrent migrators (two `spaces serve` starting at once) on one database.
const lockID = 7_420_031_337

// Migration is one numbered step of the schema.
type Migration struct {
	Version int
	Name    string
	Up      string
	Down    string
}

// Migrations lists the embedded migrations in version order.
func Migrations() ([]Migration, error) {
	entries, err := fs.ReadDir(files, "migrations")
	if err != nil {
		return nil, err
	}
	byVersion := map[int]*Migration{}
	for _, e := range entries {
		name := e.Name()
		base, dir, ok := strings.Cut(strings.TrimSuffix(name, ".sql"), ".")
		if !ok || (dir != "up" && dir != "down") {
			return nil, fmt.Errorf("migration %s: name must end in .up.sql or .down.sql", name)
		}
		num, label, _ := strings.Cut(base, "_")
		v, err := strconv.Atoi(num)
		if err != nil {
			return nil, fmt.Errorf("migration %s: name must start with its number", name)
		}
		body, err := fs.ReadFile(files, "migrations/"+name)
		if err != nil {
			return nil, err
		}
		m := byVersion[v]
		if m == nil {
			m = &Migration{Version: v, Name: label}
			byVersion[v] = m
		} else if m.Name != label {
			return nil, fmt.Errorf("migration %d has two names: %s and %s", v, m.Name, label)
		}
		if dir == "up" {
			m.Up = string(body)
		} else {
			m.Down = string(body)
		}
	}
	out := make([]Migration, 0, len(byVersion))
	for _, m := range byVersion {
		if m.Up == "" {
			return nil, fmt.Errorf("migration %d (%s) has no .up.sql", m.Version, m.Name)
		}
		out = append(out, *m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	return out, nil
}

// Migrate brings River's schema and then ours up to date. It is idempotent and safe to run from
// several processes at once.
func Migrate(ctx context.Context, pool *pgxpool.Pool, logger *slog.Logger) error {
	migrations, err := Migrations()
	if err != nil {
		return err
	}
	return withLock(ctx, pool, func(conn *pgxpool.Conn) error { return migrate(ctx, pool, conn, migrations, logger) })
}

func migrate(ctx context.Context, pool *pgxpool.Pool, conn *pgxpool.Conn, migrations []Migration, logger *slog.Logger) error {

	// River's migrator does not serialise concurrent runs itself; our lock does.
	migrator, err := rivermigrate.New(riverpgxv5.New(pool), &rivermigrate.Config{Logger: logger})
	if err != nil {
		return fmt.Errorf("river migrator: %w", err)
	}
	// On the locked connection, one version per transaction (some versions add enum values, which a
	// later statement of the same transaction may not use). Not through the pool: waiting migrators
	// hold pool connections, so asking the pool for another one here could wait forever.
	for {
		var res *rivermigrate.MigrateResult
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) (err error) {
			//lint:ignore SA1019 one version per transaction on our locked connection is what Migrate cannot do
			res, err = migrator.MigrateTx(ctx, tx, rivermigrate.DirectionUp, &rivermigrate.MigrateOpts{MaxSteps: 1})
			return err
		})
		if err != nil {
			return fmt.Errorf("apply river migrations: %w", err)
		}
		if len(res.Versions) == 0 {
			break
		}
		for _, v := range res.Versions {
			logger.InfoContext(ctx, "applied river migration", "version", v.Version)
		}
	}
	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS spaces_schema_migrations (
		version    integer PRIMARY KEY,
		name       text NOT NULL,
		applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		return fmt.Errorf("create migrations table: %w", err)
	}
	applied, err := appliedVersions(ctx, conn.Conn())
	if err != nil {
		return err
	}
	for _, m := range migrations {
		if applied[m.Version] {
			continue
		}
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, m.Up); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `INSERT INTO spaces_schema_migrations (version, name) VALUES ($1, $2)`, m.Version, m.Name)
			return err
		})
		if err != nil {
			return fmt.Errorf("apply migration %04d_%s: %w", m.Version, m.Name, err)
		}
		logger.InfoContext(ctx, "applied migration", "version", m.Version, "name", m.Name)
	}
	return nil
}

// Rollback undoes our migrations above version target, newest first. River's schema is left alone.
func Rollback(ctx context.Context, pool *pgxpool.Pool, target int, logger *slog.Logger) error {
	migrations, err := Migrations()
	if err != nil {
		return err
	}
	return withLock(ctx, pool, func(conn *pgxpool.Conn) error { return rollback(ctx, conn, migrations, target, logger) })
}

func rollback(ctx context.Context, conn *pgxpool.Conn, migrations []Migration, target int, logger *slog.Logger) error {
	applied, err := appliedVersions(ctx, conn.Conn())
	if err != nil {
		return err
	}
	for i := len(migrations) - 1; i >= 0; i-- {
		m := migrations[i]
		if m.Version <= target || !applied[m.Version] {
			continue
		}
		if m.Down == "" {
			return fmt.Errorf("migration %04d_%s cannot be undone: it has no .down.sql", m.Version, m.Name)
		}
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, m.Down); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `DELETE FROM spaces_schema_migrations WHERE version = $1`, m.Version)
			return err
		})
		if err != nil {
			return fmt.Errorf("undo migration %04d_%s: %w", m.Version, m.Name, err)
		}
		logger.InfoContext(ctx, "undid migration", "version", m.Version, "name", m.Name)
	}
	return nil
}

// withLock runs fn on one connection holding the migration lock, so that concurrent migrators
// (two servers starting at once) take turns.
func withLock(ctx context.Context, pool *pgxpool.Pool, fn func(conn *pgxpool.Conn) error) error {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("acquire connection: %w", err)
	}
	defer conn.Release()
	// Waiting for another migrator and migrating a large table both take longer than the
	// statement timeout the service's connections have: none on this one while it migrates.
	if _, err := conn.Exec(ctx, `SET statement_timeout = 0`); err != nil {
		return fmt.Errorf("lift the statement timeout: %w", err)
	}
	defer conn.Exec(context.WithoutCancel(ctx), `RESET statement_timeout`) //nolint:errcheck
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, lockID); err != nil {
		return fmt.Errorf("take migration lock: %w", err)
	}
	defer conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, lockID) //nolint:errcheck
	return fn(conn)
}

// Pending lists the migrations not yet applied; an up-to-date database gives none.
func Pending(ctx context.Context, pool *pgxpool.Pool) ([]Migration, error) {
	migrations, err := Migrations()
	if err != nil {
		return nil, err
	}
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("acquire connection: %w", err)
	}
	defer conn.Release()
	applied, err := appliedVersions(ctx, conn.Conn())
	if err != nil {
		return nil, err
	}
	var out []Migration
	for _, m := range migrations {
		if !applied[m.Version] {
			out = append(out, m)
		}
	}
	return out, nil
}

func appliedVersions(ctx context.Context, conn *pgx.Conn) (map[int]bool, error) {
	rows, err := conn.Query(ctx, `SELECT version FROM spaces_schema_migrations`)
	if err != nil {
		var pgErr interface{ SQLState() string }
		if errors.As(err, &pgErr) && pgErr.SQLState() == "42P01" { // undefined_table: nothing applied yet
			return map[int]bool{}, nil
		}
		return nil, fmt.Errorf("read applied migrations: %w", err)
	}
	versions, err := pgx.CollectRows(rows, pgx.RowTo[int])
	if err != nil {
		return nil, fmt.Errorf("read applied migrations: %w", err)
	}
	out := make(map[int]bool, len(versions))
	for _, v := range versions {
		out[v] = true
	}
	return out, nil
}
