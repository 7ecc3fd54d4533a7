package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"

	"github.com/assospaces/spaces/jobs/workers"
	"github.com/assospaces/spaces/provisioner"
	"github.com/assospaces/spaces/provisioner/nomad"
	"github.com/assospaces/spaces/templates"
	"github.com/assospaces/spaces/tenants/schema"
	"github.com/assospaces/spaces/webui"
)

// serveSettings are the settings `spaces serve` (and `spaces dev`) read.
var serveSettings = []string{
	"SPACES_DATABASE_URL", "SPACES_LISTEN", "SPACES_METRICS_ADDR", "SPACES_PUBLIC_URL", "SPACES_BASE_DOMAIN", "SPACES_TENANT_DATABASE_URL",
	"NOMAD_ADDR", "NOMAD_TOKEN", "NOMAD_REGION", "NOMAD_NAMESPACE", "SPACES_NOMAD_TEMPLATE", "SPACES_TEMPLATE_DIR",
	"SPACES_STANDIN_BIN", "SPACES_VOLUME_PLUGIN", "SPACES_SMTP_URL", "SPACES_MAIL_FROM", "SPACES_DEFAULT_STORAGE", "SPACES_DEFAULT_ACCOUNTS",
	"SPACES_CAPACITY", "SPACES_PROVISION_TIMEOUT", "SPACES_USAGE_INTERVAL", "SPACES_APPLY_PER_HOUR", "SPACES_PUBLIC_IN_FLIGHT", "SPACES_MODERATION_IN_FLIGHT", "SPACES_BUSY_WAIT", "SPACES_RETENTION", "SPACES_STALE_AFTER", "SPACES_DELETE_GRACE", "SPACES_SECRET_KEY", "SPACES_LOG_LEVEL", "SPACES_LOG_FORMAT",
	"SPACES_TRUSTED_PROXIES", "SPACES_EXPORT_DIR", "SPACES_EXPORT_RETENTION",
	"SPACES_SPACE_SMTP_URL", "SPACES_SPACE_MAIL_DOMAIN", "SPACES_OFFICE_URL", "SPACES_LEGAL_URL", "SPACES_PRIVACY_URL",
	"SPACES_HELP_URL", "SPACES_SPACE_APPS",
}

func newServeCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the web UI, the JSON API and the job workers (provisioning, mail, purge)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(cmd)
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			return serve(ctx, cfg, newLogger(cfg), nil)
		},
	}
	bindConfig(cmd, serveSettings...)
	return cmd
}

// serve runs the service until ctx ends: it migrates the schema, starts the River workers and the
// HTTP server, calls ready with the address it listens on, and shuts everything down in order.
func serve(ctx context.Context, cfg *Config, logger *slog.Logger, ready func(addr string)) error {
	pool, err := openDatabase(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer pool.Close()
	if err := schema.Migrate(ctx, pool, logger); err != nil {
		return err
	}

	// Metrics (SPACES_METRICS_ADDR): built first, so that the reconciler's repairs are counted
	// from the process's log records.
	var metrics *webui.Metrics
	var prov *provisioner.Provisioner
	if cfg.MetricsAddr != "" {
		metrics = webui.NewMetrics(pool, logger, func(ctx context.Context) (int, error) { return prov.Ceiling(ctx) })
		logger = slog.New(metrics.CountRepairs(logger.Handler()))
	}

	mailer, box, err := newMailer(cfg, logger)
	if err != nil {
		return err
	}
	prov, err = newProvisioner(ctx, cfg, pool, logger)
	if err != nil {
		return err
	}
	defer prov.Close()
	jobsClient, err := workers.NewClient(pool, workers.Deps{Logger: logger, Pool: pool, Mailer: mailer, Box: box,
		Retention: cfg.Retention, StaleAfter: cfg.StaleAfter, Provisioner: prov, PublicURL: cfg.PublicURL.String(),
		ExportDir: exportDir(cfg), ExportRetention: cfg.ExportRetention})
	if err != nil {
		return err
	}
	var workersRunning atomic.Bool
	handler, err := webui.New(webui.Options{
		Pool:               pool,
		Jobs:               jobsClient,
		Logger:             logger,
		PublicURL:          cfg.PublicURL,
		BaseDomain:         cfg.BaseDomain,
		DefaultLimits:      cfg.DefaultLimits,
		Ceiling:            prov.Ceiling,
		ApplyPerHour:       cfg.ApplyPerHour,
		PublicInFlight:     cfg.PublicInFlight,
		ModerationInFlight: cfg.ModerationInFlight,
		BusyWait:           cfg.BusyWait,
		SecretKey:          cfg.SecretKey,
		Retention:          cfg.Retention,
		DeleteGrace:        cfg.DeleteGrace,
		TrustedProxies:     cfg.TrustedProxies,
		Metrics:            metrics,
		WorkersRunning:     workersRunning.Load,
	})
	if err != nil {
		return err
	}

	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return &ConfigError{Env: "SPACES_LISTEN", Flag: "listen", Msg: fmt.Sprintf("cannot listen on %s: %v", cfg.Listen, err)}
	}
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	g, ctx := errgroup.WithContext(ctx)
	if metrics != nil {
		msrv, mln, err := listenMetrics(cfg, metrics, logger)
		if err != nil {
			ln.Close()
			return err
		}
		metrics.WatchJobs(ctx, jobsClient)
		g.Go(func() error {
			if err := msrv.Serve(mln); !errors.Is(err, http.ErrServerClosed) {
				return fmt.Errorf("metrics server: %w", err)
			}
			return nil
		})
		g.Go(func() error {
			<-ctx.Done()
			return msrv.Close()
		})
	}
	g.Go(func() error { return workers.Run(ctx, jobsClient, workers.StopGrace, &workersRunning) })
	g.Go(func() error {
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("http server: %w", err)
		}
		return nil
	})
	g.Go(func() error {
		<-ctx.Done()
		shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
		defer cancel()
		return srv.Shutdown(shutdownCtx)
	})
	logger.InfoContext(ctx, "serving", "addr", ln.Addr().String(), "public_url", cfg.PublicURL.String(), "version", versionString())
	if ready != nil {
		ready(ln.Addr().String())
	}
	return g.Wait()
}

// newProvisioner builds the provisioner from the Nomad, template and tenant database settings.
// A template override that does not parse fails the start.
func newProvisioner(ctx context.Context, cfg *Config, pool *pgxpool.Pool, logger *slog.Logger) (*provisioner.Provisioner, error) {
	set, err := templates.Load(cfg.TemplateDir)
	if err != nil {
		return nil, &ConfigError{Env: "SPACES_TEMPLATE_DIR", Flag: "template-dir", Msg: err.Error()}
	}
	nc, err := nomad.New(nomad.Config{Address: cfg.NomadAddr, Token: cfg.NomadToken, Region: cfg.NomadRegion, Namespace: cfg.NomadNamespace})
	if err != nil {
		return nil, &ConfigError{Env: "NOMAD_ADDR", Flag: "nomad-addr", Msg: err.Error()}
	}
	p, err := provisioner.New(ctx, provisioner.Config{
		BaseDomain: cfg.BaseDomain, Template: cfg.NomadTemplate, Templates: set, StandinBin: cfg.StandinBin,
		Namespace: cfg.NomadNamespace, Region: cfg.NomadRegion, TenantDatabaseURL: cfg.TenantDatabaseURL,
		Capacity: cfg.Capacity, CapacityFromNomad: cfg.CapacityFromNomad, HealthTimeout: cfg.ProvisionTimeout,
		UsageInterval: cfg.UsageInterval, VolumePlugin: cfg.VolumePlugin,
		TLSResolver: cfg.TLSResolver, PublicCheck: cfg.PublicCheck,
		Space: spaceSettings(cfg),
	}, pool, nc, logger)
	if err != nil {
		return nil, &ConfigError{Env: "SPACES_TENANT_DATABASE_URL", Flag: "tenant-database-url", Msg: err.Error()}
	}
	logger.InfoContext(ctx, "provisioner ready", "template", set.Origin(cfg.NomadTemplate), "nomad", cfg.NomadAddr,
		"capacity", cfg.Capacity, "capacity_from_nomad", cfg.CapacityFromNomad)
	return p, nil
}
