package main

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/spf13/cobra"

	"github.com/assospaces/spaces/tenants"
)

// usageError is a command used wrongly (a bad flag value, a missing argument); exit code 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return &usageError{msg: fmt.Sprintf(format, args...)} }

func newRootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:           "spaces",
		Short:         "Free cloud spaces for associations: applications, moderation, Nextcloud on Nomad",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		return usagef("%s: %v (see %s --help)", cmd.CommandPath(), err, cmd.CommandPath())
	})
	root.AddCommand(
		newServeCommand(),
		newMigrateCommand(),
		newDevCommand(),
		newVersionCommand(),
		newModeratorCommand(),
		newTokenCommand(),
		newConfigCommand(),
		newSpaceCommand(),
		newApplicationCommand(),
		newAuditCommand(),
		newIntakeCommand(),
		newPartnerCommand(),
	)
	return root
}

// databaseSettings are the settings of the commands that work on the database directly.
var databaseSettings = []string{"SPACES_DATABASE_URL", "SPACES_LOG_LEVEL", "SPACES_LOG_FORMAT"}

// withDatabase runs fn with a connected pool, for the commands that work on the database directly
// (bound with databaseSettings).
func withDatabase(fn func(cmd *cobra.Command, args []string, cfg *Config, db tenants.DB) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		cfg, err := loadConfig(cmd)
		if err != nil {
			return err
		}
		pool, err := openDatabase(cmd.Context(), cfg, newLogger(cfg))
		if err != nil {
			return err
		}
		defer pool.Close()
		return fn(cmd, args, cfg, pool)
	}
}

// Defaults of the service database's pool and sessions, each overridden by the same name in
// SPACES_DATABASE_URL (pool_max_conns=…, options=-c statement_timeout=…, or the URL parameter).
const (
	// dbMaxConns: pgx's default (4 on two cores) is shared by the web handlers, River's producers
	// and its workers (10 default, 5 mail, 2 reconcile, and up to 100 provisioning passes that
	// hold a connection only for their short database steps): 4 would queue them all behind one
	// slow query.
	dbMaxConns = 32
	// dbStatementTimeout bounds every statement, so that a lock held by a stuck transaction turns
	// into an error and a retry rather than requests that wait forever.
	dbStatementTimeout = "30s"
	// dbIdleInTransactionTimeout ends a transaction left open by a stuck caller, releasing its locks.
	dbIdleInTransactionTimeout = "60s"
)

// openDatabase connects to the service database and checks that it answers.
func openDatabase(ctx context.Context, cfg *Config, logger *slog.Logger) (*pgxpool.Pool, error) {
	pc, err := pgxpool.ParseConfig(cfg.DatabaseURL)
	if err != nil {
		return nil, &ConfigError{Env: "SPACES_DATABASE_URL", Flag: "database-url", Msg: "cannot be used: " + err.Error()}
	}
	if !strings.Contains(cfg.DatabaseURL, "pool_max_conns") {
		pc.MaxConns = dbMaxConns
	}
	params := pc.ConnConfig.RuntimeParams
	options := params["options"]
	for name, value := range map[string]string{"statement_timeout": dbStatementTimeout, "idle_in_transaction_session_timeout": dbIdleInTransactionTimeout} {
		if _, set := params[name]; !set && !strings.Contains(options, name) {
			params[name] = value
		}
	}
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, &ConfigError{Env: "SPACES_DATABASE_URL", Flag: "database-url", Msg: "cannot be used: " + err.Error()}
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect to the database (SPACES_DATABASE_URL): %w", err)
	}
	logger.DebugContext(ctx, "database connected")
	return pool, nil
}
