// Command nextcloud-standin runs the in-repo Nextcloud stand-in (package internal/standin)
// and its occ-like admin commands on the same state (tenant database, config and data dirs).
//
//	nextcloud-standin serve [--listen ADDR]
//	nextcloud-standin serve-many [--listen ADDR] HOST...
//	nextcloud-standin occ maintenance:mode --on|--off
//	nextcloud-standin occ config:app:set serverinfo token --value X
//	nextcloud-standin occ config:system:set one-click-instance.user-limit --value 5 --type integer
//	nextcloud-standin occ user:list
//	nextcloud-standin occ status
//	nextcloud-standin occ background:cron | app:enable APP... | app:disable APP... | app:list
//	nextcloud-standin occ theming:config KEY VALUE
//	nextcloud-standin cron [--interval 5m]
//
// serve reads the environment of the official `nextcloud` image (POSTGRES_*, NEXTCLOUD_*; see
// standin.LoadEnv) so that the dev Nomad template mirrors the production one. On first start
// with NEXTCLOUD_ADMIN_USER/PASSWORD it installs, creating the admin. The admin counts toward
// `one-click-instance.user-limit`, as in Nextcloud: core's Registry counts every enabled user of
// every backend, admins included, so a limit of N leaves N-1 accounts beside the admin.
//
// serve-many serves one instance per HOST from this one process, picked by the Host header (an
// unknown host gets Nextcloud's untrusted-domain answer): all share the POSTGRES_* database, each
// with its own schema, and keep their files under NEXTCLOUD_DATA_DIR/HOST. Each is installed on
// first start with NEXTCLOUD_ADMIN_USER/PASSWORD (required here), and NEXTCLOUD_CONFIG_DIR's
// settings (hashingCost, limits) apply to every one. A benchmark of a thousand spaces runs them
// so, or in-process through standin.Tenants.
//
// A missing or malformed variable prints one line naming it and exits with code 2.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"

	"github.com/assospaces/spaces/cmd/nextcloud-standin/internal/standin"
)

// usageError is a command-line or environment mistake: exit code 2.
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := newRoot().ExecuteContext(ctx)
	if err == nil {
		return
	}
	fmt.Fprintln(os.Stderr, "nextcloud-standin:", err)
	var ue *usageError
	var ee *standin.EnvError
	if errors.As(err, &ue) || errors.As(err, &ee) {
		os.Exit(2)
	}
	os.Exit(1)
}

func newRoot() *cobra.Command {
	root := &cobra.Command{
		Use:           "nextcloud-standin",
		Short:         "A Nextcloud stand-in for tests and development",
		SilenceErrors: true,
		SilenceUsage:  true,
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &usageError{err} })
	root.AddCommand(newServe(), newServeMany(), newOCC(), newCron())
	return root
}

func newLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

func newServe() *cobra.Command {
	var listen string
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve the stand-in (configured by POSTGRES_*, NEXTCLOUD_*, NC_LISTEN, NC_SERVERINFO_TOKEN)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			env, err := standin.LoadEnv(os.LookupEnv)
			if err != nil {
				return err
			}
			listen, err := listenAddr(listen, env)
			if err != nil {
				return err
			}
			return serve(cmd.Context(), env, listen, newLogger())
		},
	}
	cmd.Flags().StringVar(&listen, "listen", "", "listen address host:port (default $NC_LISTEN)")
	return cmd
}

// listenAddr is the --listen flag, else NC_LISTEN, checked.
func listenAddr(flag string, env standin.Env) (string, error) {
	listen := flag
	if listen == "" {
		listen = env.Listen
	}
	if listen == "" {
		return "", &usageError{&standin.EnvError{Var: "NC_LISTEN", Want: "a listen address host:port (or the --listen flag)"}}
	}
	if _, _, err := net.SplitHostPort(listen); err != nil {
		return "", &usageError{&standin.EnvError{Var: "NC_LISTEN", Want: "a listen address host:port, got " + strconv.Quote(listen)}}
	}
	return listen, nil
}

func newServeMany() *cobra.Command {
	var listen string
	cmd := &cobra.Command{
		Use:   "serve-many HOST...",
		Short: "Serve one stand-in per host name from this process (configured like serve)",
		RunE: func(cmd *cobra.Command, hosts []string) error {
			if len(hosts) == 0 {
				return &usageError{errors.New("serve-many: name at least one HOST")}
			}
			env, err := standin.LoadEnv(os.LookupEnv)
			if err != nil {
				return err
			}
			if env.AdminUser == "" {
				return &standin.EnvError{Var: "NEXTCLOUD_ADMIN_USER", Want: "the admin login every instance is installed with (and NEXTCLOUD_ADMIN_PASSWORD)"}
			}
			listen, err := listenAddr(listen, env)
			if err != nil {
				return err
			}
			return serveMany(cmd.Context(), env, listen, hosts, newLogger())
		},
	}
	cmd.Flags().StringVar(&listen, "listen", "", "listen address host:port (default $NC_LISTEN)")
	return cmd
}

// serveMany opens every host's instance, a few at a time (each creates its schema and, the first
// time, hashes its admin's password), then serves them all.
func serveMany(ctx context.Context, env standin.Env, listen string, hosts []string, logger *slog.Logger) error {
	logger.InfoContext(ctx, "starting nextcloud stand-in for many hosts", "listen", listen, "hosts", len(hosts),
		"postgres_host", env.PostgresHost, "postgres_db", env.PostgresDB, "data_dir", env.DataDir, "config_dir", env.ConfigDir)
	shared, err := standin.NewSystemConfig(env.ConfigDir)
	if err != nil {
		return err
	}
	system, err := shared.Values()
	if err != nil {
		return err
	}
	// What an install writes belongs to each instance, not to the shared settings.
	for _, k := range []string{"installed", "instanceid", "datadirectory", "dbtype", "version", "trusted_domains", "maintenance"} {
		delete(system, k)
	}
	pool, err := openPool(ctx, env, logger, 32)
	if err != nil {
		return err
	}
	defer pool.Close()
	tenants := standin.NewTenants()
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	for _, host := range hosts {
		g.Go(func() error {
			s, err := tenants.Open(gctx, standin.TenantConfig{Pool: pool, Root: env.DataDir, Host: host,
				AdminUser: env.AdminUser, AdminPassword: env.AdminPassword, System: system, Logger: logger})
			if err != nil {
				return err
			}
			if env.ServerInfoToken != "" {
				return s.SetAppValue(gctx, "serverinfo", "token", env.ServerInfoToken)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	return listenAndServe(ctx, tenants, listen, logger, "hosts", tenants.Len())
}

// openPool connects to the tenant database with at most maxConns connections (0: the default).
func openPool(ctx context.Context, env standin.Env, logger *slog.Logger, maxConns int32) (*pgxpool.Pool, error) {
	cfg, err := env.PoolConfig()
	if err != nil {
		return nil, err
	}
	if maxConns > 0 {
		cfg.MaxConns = maxConns
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to postgres: %w", err)
	}
	// The database may come up a moment after us (both scheduled at once): retry for a while.
	deadline := time.Now().Add(30 * time.Second)
	for {
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err = pool.Ping(pctx)
		cancel()
		if err == nil {
			return pool, nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			pool.Close()
			return nil, fmt.Errorf("connect to postgres %s:%d/%s: %w", env.PostgresHost, env.PostgresPort, env.PostgresDB, err)
		}
		logger.WarnContext(ctx, "postgres not reachable yet", "host", env.PostgresHost, "db", env.PostgresDB, "err", err)
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
}

func serve(ctx context.Context, env standin.Env, listen string, logger *slog.Logger) error {
	logger.InfoContext(ctx, "starting nextcloud stand-in", "listen", listen, "postgres_host", env.PostgresHost,
		"postgres_port", env.PostgresPort, "postgres_db", env.PostgresDB, "postgres_user", env.PostgresUser,
		"data_dir", env.DataDir, "config_dir", env.ConfigDir, "admin_user", env.AdminUser,
		"trusted_domains", env.TrustedDomains, "serverinfo_token_set", env.ServerInfoToken != "")
	pool, err := openPool(ctx, env, logger, 0)
	if err != nil {
		return err
	}
	defer pool.Close()
	srv, err := standin.New(ctx, standin.Config{Pool: pool, DataDir: env.DataDir, ConfigDir: env.ConfigDir, Logger: logger})
	if err != nil {
		return err
	}
	if env.AdminUser != "" && !srv.Installed() {
		if err := srv.Install(ctx, env.AdminUser, env.AdminPassword, env.TrustedDomains); err != nil {
			return err
		}
	}
	if env.ServerInfoToken != "" {
		if err := srv.SetAppValue(ctx, "serverinfo", "token", env.ServerInfoToken); err != nil {
			return err
		}
	}
	if srv.Installed() {
		if err := runHooks(ctx, os.Getenv("NEXTCLOUD_HOOKS_DIR"), logger); err != nil {
			return err
		}
	}
	return listenAndServe(ctx, srv, listen, logger, "installed", srv.Installed())
}

// listenAndServe serves h on listen until ctx ends, then shuts down gracefully. The log line
// "nextcloud stand-in listening" names the address actually bound (useful with port 0).
func listenAndServe(ctx context.Context, h http.Handler, listen string, logger *slog.Logger, attrs ...any) error {
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", listen, err)
	}
	hs := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelWarn)}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	logger.InfoContext(ctx, "nextcloud stand-in listening", append([]any{"addr", ln.Addr().String()}, attrs...)...)
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	logger.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return hs.Shutdown(sctx)
}

// newOCC is the occ-like admin tool. Commands that only touch config files need no database.
func newOCC() *cobra.Command {
	occ := &cobra.Command{
		Use:   "occ",
		Short: "Administer the stand-in like Nextcloud's occ (same environment as serve)",
	}

	var on, off bool
	maint := &cobra.Command{
		Use:   "maintenance:mode",
		Short: "Show, or switch with --on/--off, maintenance mode",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			conf, err := systemConfig()
			if err != nil {
				return err
			}
			if on && off {
				return &usageError{errors.New("maintenance:mode: --on and --off are exclusive")}
			}
			out := cmd.OutOrStdout()
			switch {
			case on:
				if err := conf.Set("maintenance", true); err != nil {
					return err
				}
				fmt.Fprintln(out, "Maintenance mode enabled")
			case off:
				if err := conf.Set("maintenance", false); err != nil {
					return err
				}
				fmt.Fprintln(out, "Maintenance mode disabled")
			default:
				if conf.Bool("maintenance", false) {
					fmt.Fprintln(out, "Maintenance mode is currently enabled")
				} else {
					fmt.Fprintln(out, "Maintenance mode is currently disabled")
				}
			}
			return nil
		},
	}
	maint.Flags().BoolVar(&on, "on", false, "enable maintenance mode")
	maint.Flags().BoolVar(&off, "off", false, "disable maintenance mode")

	var sysValue, sysType string
	sysSet := &cobra.Command{
		Use:   "config:system:set NAME [INDEX] --value VALUE [--type string|integer|double|boolean|json]",
		Short: "Set a system config value (written to config.json)",
		Args:  cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !cmd.Flags().Changed("value") {
				return &usageError{errors.New("config:system:set: --value is required")}
			}
			v, err := standin.ParseValue(sysValue, sysType)
			if err != nil {
				return &usageError{fmt.Errorf("config:system:set: %w", err)}
			}
			conf, err := systemConfig()
			if err != nil {
				return err
			}
			if len(args) == 2 {
				idx, err := strconv.Atoi(args[1])
				if err != nil || idx < 0 {
					return &usageError{fmt.Errorf("config:system:set: index %q: want a list index", args[1])}
				}
				cur := conf.Strings(args[0])
				items := make([]any, 0, max(len(cur), idx+1))
				for _, s := range cur {
					items = append(items, s)
				}
				for len(items) <= idx {
					items = append(items, "")
				}
				items[idx] = v
				v = items
			}
			if err := conf.Set(args[0], v); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "System config value %s set to %s\n", args[0], sysValue)
			return nil
		},
	}
	sysSet.Flags().StringVar(&sysValue, "value", "", "the value")
	sysSet.Flags().StringVar(&sysType, "type", "string", "value type: string, integer, double, boolean, json")

	sysGet := &cobra.Command{
		Use:   "config:system:get NAME",
		Short: "Print a system config value",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			conf, err := systemConfig()
			if err != nil {
				return err
			}
			v, err := conf.Value(args[0])
			if err != nil {
				return err
			}
			if v == nil {
				return fmt.Errorf("config:system:get: %s is not set", args[0])
			}
			return printValue(cmd, v)
		},
	}

	var appValue string
	appSet := &cobra.Command{
		Use:   "config:app:set APP NAME --value VALUE",
		Short: "Set an app config value (oc_appconfig), e.g. serverinfo token",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !cmd.Flags().Changed("value") {
				return &usageError{errors.New("config:app:set: --value is required")}
			}
			return withServer(cmd.Context(), func(ctx context.Context, s *standin.Server) error {
				if err := s.SetAppValue(ctx, args[0], args[1], appValue); err != nil {
					return err
				}
				// Like occ, print the key but never secrets' values.
				fmt.Fprintf(cmd.OutOrStdout(), "Config value %s for app %s set\n", args[1], args[0])
				return nil
			})
		},
	}
	appSet.Flags().StringVar(&appValue, "value", "", "the value")

	appGet := &cobra.Command{
		Use:   "config:app:get APP NAME",
		Short: "Print an app config value",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withServer(cmd.Context(), func(ctx context.Context, s *standin.Server) error {
				v, ok, err := s.AppValue(ctx, args[0], args[1])
				if err != nil {
					return err
				}
				if !ok {
					return fmt.Errorf("config:app:get: %s/%s is not set", args[0], args[1])
				}
				fmt.Fprintln(cmd.OutOrStdout(), v)
				return nil
			})
		},
	}

	var output string
	userList := &cobra.Command{
		Use:   "user:list",
		Short: "List users",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withServer(cmd.Context(), func(ctx context.Context, s *standin.Server) error {
				users, err := s.Users(ctx)
				if err != nil {
					return err
				}
				if output == "json" {
					m := map[string]string{}
					for _, u := range users {
						m[u.ID] = u.DisplayName
					}
					return printValue(cmd, m)
				}
				for _, u := range users {
					fmt.Fprintf(cmd.OutOrStdout(), "  - %s: %s\n", u.ID, u.DisplayName)
				}
				return nil
			})
		},
	}
	userList.Flags().StringVar(&output, "output", "plain", "plain or json")

	var statusOutput string
	status := &cobra.Command{
		Use:   "status",
		Short: "Show installed, version and maintenance state",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			conf, err := systemConfig()
			if err != nil {
				return err
			}
			installed, maintenance := conf.Bool("installed", false), conf.Bool("maintenance", false)
			if statusOutput == "json" {
				return printValue(cmd, map[string]any{"installed": installed, "version": standin.Version,
					"versionstring": standin.VersionString, "edition": "", "maintenance": maintenance,
					"needsDbUpgrade": false, "productname": "Nextcloud", "extendedSupport": false})
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "  - installed: %t\n  - version: %s\n  - versionstring: %s\n  - edition: \n  - maintenance: %t\n  - needsDbUpgrade: false\n  - productname: Nextcloud\n  - extendedSupport: false\n",
				installed, standin.Version, standin.VersionString, maintenance)
			return nil
		},
	}
	status.Flags().StringVar(&statusOutput, "output", "plain", "plain or json")

	occ.AddCommand(maint, sysSet, sysGet, appSet, appGet, userList, status)
	occ.AddCommand(newSettingsCommands()...)
	return occ
}

func printValue(cmd *cobra.Command, v any) error {
	if s, ok := v.(string); ok {
		fmt.Fprintln(cmd.OutOrStdout(), s)
		return nil
	}
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	fmt.Fprintln(cmd.OutOrStdout(), string(b))
	return nil
}

func systemConfig() (*standin.SystemConfig, error) {
	env, err := standin.LoadFilesEnv(os.LookupEnv)
	if err != nil {
		return nil, err
	}
	return standin.NewSystemConfig(env.ConfigDir)
}

func withServer(ctx context.Context, fn func(context.Context, *standin.Server) error) error {
	env, err := standin.LoadEnv(os.LookupEnv)
	if err != nil {
		return err
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	pool, err := openPool(ctx, env, logger, 0)
	if err != nil {
		return err
	}
	defer pool.Close()
	s, err := standin.New(ctx, standin.Config{Pool: pool, DataDir: env.DataDir, ConfigDir: env.ConfigDir, Logger: logger})
	if err != nil {
		return err
	}
	return fn(ctx, s)
}
