package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/jackc/pgx/v5"
	"github.com/spf13/cobra"

	"github.com/assospaces/spaces/cmd/internal/devenv"
	"github.com/assospaces/spaces/tenants"
	"github.com/assospaces/spaces/tenants/notify/smtptest"
	"github.com/assospaces/spaces/tenants/secretbox"
)

// devCredentials are the seeded accounts of a development environment, kept in its folder so
// that a second `make dev` prints the same ones.
type devCredentials struct {
	SecretKey         string `json:"secret_key"`
	ModeratorEmail    string `json:"moderator_email"`
	ModeratorPassword string `json:"moderator_password"`
	APIToken          string `json:"api_token"`
}

func newDevCommand() *cobra.Command {
	var dir, nomadBin string
	var pgPort, nomadPort int
	cmd := &cobra.Command{
		Use:   "dev",
		Short: "Run everything on this machine: private Postgres and Nomad, seeded accounts, and the server",
		Long: `dev starts a private PostgreSQL cluster and a single-node Nomad agent, server and client
(data in --dir), applies the migrations, seeds a moderator account (an operator) and an operator API
token, and serves the web UI with the dev jobspec (raw_exec running the Nextcloud stand-in). Ctrl-C stops
everything it started and keeps the data for next time: Postgres, and Nomad's jobs and Variables
(the spaces' secrets). On the next run Nomad starts the spaces' jobs again, seconds after it is up.
Delete --dir (make clean-dev) to start afresh.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			// Output piped to a program that goes first (make dev | tee) must not kill us before
			// Nomad and Postgres are stopped: a write to a closed pipe then fails instead.
			signal.Ignore(syscall.SIGPIPE)
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
			defer stop()
			return runDev(ctx, cmd, dir, nomadBin, pgPort, nomadPort)
		},
	}
	cmd.Flags().StringVar(&dir, "dir", ".dev", "folder for the environment's data")
	cmd.Flags().StringVar(&nomadBin, "nomad-bin", os.Getenv("SPACES_NOMAD_BIN"), "nomad binary [$SPACES_NOMAD_BIN]")
	cmd.Flags().IntVar(&pgPort, "postgres-port", 54329, "port of the private PostgreSQL on 127.0.0.1")
	cmd.Flags().IntVar(&nomadPort, "nomad-port", 4646, "HTTP port of the Nomad agent on 127.0.0.1; its RPC and Serf ports, chosen at the first run (the next two if free), are kept in --dir")
	bindConfig(cmd, serveSettings...)
	return cmd
}

func runDev(ctx context.Context, cmd *cobra.Command, dir, nomadBin string, pgPort, nomadPort int) error {
	if nomadBin == "" {
		return usagef("dev: --nomad-bin or SPACES_NOMAD_BIN must name the nomad binary (make dev builds it)")
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	credsPath := filepath.Join(dir, "credentials.json")
	creds, err := readDevCredentials(credsPath)
	if err != nil {
		return err
	}
	// Settings the environment decides, unless the person set them.
	setDefaultEnv("SPACES_SECRET_KEY", creds.SecretKey)
	setDefaultEnv("SPACES_DATABASE_URL", fmt.Sprintf("postgres://postgres@127.0.0.1:%d/spaces?sslmode=disable", pgPort))
	setDefaultEnv("SPACES_TENANT_DATABASE_URL", fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", pgPort))
	setDefaultEnv("NOMAD_ADDR", fmt.Sprintf("http://127.0.0.1:%d", nomadPort))
	setDefaultEnv("SPACES_NOMAD_TEMPLATE", "dev")
	setDefaultEnv("SPACES_EXPORT_DIR", filepath.Join(dir, "exports"))
	// Mail goes to a local catcher that keeps every message as an .eml file, unless a real mail
	// server was set.
	mailDir := filepath.Join(dir, "mail")
	if os.Getenv("SPACES_SMTP_URL") == "" {
		catcher, err := smtptest.Start("127.0.0.1:0", smtptest.Options{Dir: mailDir,
			Logger: slog.New(slog.NewTextHandler(os.Stderr, nil))})
		if err != nil {
			return fmt.Errorf("start mail catcher: %w", err)
		}
		defer catcher.Close()                       //nolint:errcheck
		os.Setenv("SPACES_SMTP_URL", catcher.URL()) //nolint:errcheck
	}
	cfg, err := loadConfig(cmd)
	if err != nil {
		return err
	}
	logger := newLogger(cfg)

	pg := &devenv.Postgres{Dir: filepath.Join(dir, "postgres"), Port: pgPort}
	defer pg.Stop() //nolint:errcheck
	if err := pg.Start(ctx, logger); err != nil {
		return fmt.Errorf("start postgres: %w", err)
	}
	if err := ensureDatabase(ctx, pg.URL("postgres"), "spaces"); err != nil {
		return err
	}
	// A persistent agent: jobs and Variables (each space's secrets) survive a restart, as in production.
	nomad := &devenv.Nomad{Bin: nomadBin, Dir: filepath.Join(dir, "nomad"), HTTPPort: nomadPort, Persistent: true}
	defer func() {
		if err := nomad.Stop(); err != nil {
			logger.Warn("stopping nomad", "err", err)
		}
	}()
	if err := nomad.Start(ctx, logger); err != nil {
		return fmt.Errorf("start nomad: %w", err)
	}

	ready := func(addr string) {
		creds, err := seedDev(ctx, cfg, creds, credsPath)
		if err != nil {
			logger.ErrorContext(ctx, "seed accounts", "err", err)
			return
		}
		base := cfg.PublicURL.String()
		fmt.Fprintf(cmd.OutOrStdout(), `
  Spaces is running.

    Web UI (public form)  %[1]s/
    Moderators            %[1]s/moderation
                          login %[2]s  password %[3]s
                          role operator: reviews applications and acts on spaces
    Operator CLI          export SPACES_ADDR=%[1]s SPACES_TOKEN=%[4]s
    Nomad UI              %[5]s/ui
    Mail (.eml files)     %[8]s
    PostgreSQL            %[6]s

  Ctrl-C stops everything; data stays in %[7]s for the next make dev.

`, base, creds.ModeratorEmail, creds.ModeratorPassword, creds.APIToken, nomad.Addr(), cfg.DatabaseURL, dir, mailDir)
	}
	return serve(ctx, cfg, logger, ready)
}

func setDefaultEnv(key, value string) {
	if os.Getenv(key) == "" {
		os.Setenv(key, value) //nolint:errcheck
	}
}

// ensureDatabase creates database name on the server at adminURL unless it exists.
func ensureDatabase(ctx context.Context, adminURL, name string) error {
	conn, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return fmt.Errorf("connect to postgres: %w", err)
	}
	defer conn.Close(ctx)
	var exists bool
	if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, name).Scan(&exists); err != nil {
		return err
	}
	if exists {
		return nil
	}
	_, err = conn.Exec(ctx, `CREATE DATABASE `+pgx.Identifier{name}.Sanitize())
	return err
}

// readDevCredentials reads the credentials file, making a secret key the first time.
func readDevCredentials(path string) (devCredentials, error) {
	var creds devCredentials
	if b, err := os.ReadFile(path); err == nil {
		if err := json.Unmarshal(b, &creds); err != nil {
			return creds, fmt.Errorf("read %s: %w", path, err)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return creds, err
	}
	if creds.SecretKey == "" {
		creds.SecretKey = secretbox.NewKey()
	}
	return creds, nil
}

// seedDev makes sure the dev moderator (an operator) and operator token exist and match the
// credentials file, creating both (and the file) the first time.
func seedDev(ctx context.Context, cfg *Config, creds devCredentials, path string) (devCredentials, error) {
	pool, err := openDatabase(ctx, cfg, newLogger(cfg))
	if err != nil {
		return creds, err
	}
	defer pool.Close()
	actor := tenants.Actor("system:dev")
	if creds.ModeratorEmail == "" {
		creds.ModeratorEmail = "moderator@example.org"
		creds.ModeratorPassword = tenants.NewSecret("")[:16]
	}
	if _, err := tenants.AuthenticateModerator(ctx, pool, creds.ModeratorEmail, creds.ModeratorPassword); err != nil {
		if !errors.Is(err, tenants.ErrBadCredentials) {
			return creds, err
		}
		if _, err := tenants.CreateModerator(ctx, pool, creds.ModeratorEmail, "Modération (dev)", creds.ModeratorPassword, actor); err != nil {
			if !errors.Is(err, tenants.ErrEmailTaken) {
				return creds, err
			}
			ms, err := tenants.ListModerators(ctx, pool)
			if err != nil {
				return creds, err
			}
			for _, m := range ms {
				if m.Email == creds.ModeratorEmail {
					if err := tenants.SetModeratorPassword(ctx, pool, m.ID, creds.ModeratorPassword, actor); err != nil {
						return creds, err
					}
				}
			}
		}
	}
	// The dev moderator is an operator, so that every page and action can be tried.
	if _, _, err := tenants.SetModeratorRole(ctx, pool, creds.ModeratorEmail, tenants.RoleOperator, actor); err != nil {
		return creds, err
	}
	if _, err := tenants.AuthenticateAPIToken(ctx, pool, creds.APIToken); err != nil {
		_, secret, err := tenants.CreateAPIToken(ctx, pool, tenants.NewAPIToken{Name: "dev", Scope: tenants.ScopeOperator}, actor)
		if err != nil {
			return creds, err
		}
		creds.APIToken = secret
	}
	b, _ := json.MarshalIndent(creds, "", "  ")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		return creds, err
	}
	return creds, nil
}
