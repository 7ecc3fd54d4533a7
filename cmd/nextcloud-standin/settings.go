package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"time"

	"github.com/spf13/cobra"

	"github.com/assospaces/spaces/cmd/nextcloud-standin/internal/standin"
)

// newSettingsCommands are the occ commands a space's settings hook runs: background:cron,
// app:enable, app:disable, app:list and theming:config, answering as Nextcloud 31's occ does.
func newSettingsCommands() []*cobra.Command {
	cron := &cobra.Command{
		Use:   "background:cron",
		Short: "Run background jobs from the system cron (core backgroundjobs_mode = cron)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withServer(cmd.Context(), func(ctx context.Context, s *standin.Server) error {
				if err := s.SetAppValue(ctx, "core", "backgroundjobs_mode", "cron"); err != nil {
					return err
				}
				fmt.Fprintln(cmd.OutOrStdout(), "Set mode for background jobs to 'cron'")
				return nil
			})
		},
	}
	enable := &cobra.Command{
		Use:   "app:enable APP...",
		Short: "Enable apps, downloading them from the (stand-in) app store when missing",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, apps []string) error {
			return withServer(cmd.Context(), func(ctx context.Context, s *standin.Server) error {
				var failed error
				for _, app := range apps {
					msg, err := s.EnableApp(ctx, app)
					var nf *standin.AppNotFoundError
					if errors.As(err, &nf) {
						fmt.Fprintln(cmd.ErrOrStderr(), "Could not download app "+nf.App)
					}
					if err != nil {
						failed = errors.Join(failed, err)
						continue
					}
					fmt.Fprintln(cmd.OutOrStdout(), msg)
				}
				return failed
			})
		},
	}
	disable := &cobra.Command{
		Use:   "app:disable APP...",
		Short: "Disable apps",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, apps []string) error {
			return withServer(cmd.Context(), func(ctx context.Context, s *standin.Server) error {
				for _, app := range apps {
					msg, err := s.DisableApp(ctx, app)
					if err != nil {
						return err
					}
					fmt.Fprintln(cmd.OutOrStdout(), msg)
				}
				return nil
			})
		},
	}
	list := &cobra.Command{
		Use:   "app:list",
		Short: "List the enabled apps",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withServer(cmd.Context(), func(ctx context.Context, s *standin.Server) error {
				apps, err := s.EnabledApps(ctx)
				if err != nil {
					return err
				}
				fmt.Fprintln(cmd.OutOrStdout(), "Enabled:")
				for _, a := range apps {
					fmt.Fprintf(cmd.OutOrStdout(), "  - %s\n", a)
				}
				return nil
			})
		},
	}
	theming := &cobra.Command{
		Use:   "theming:config KEY VALUE",
		Short: "Set a theming value (name, url, imprintUrl, privacyUrl, slogan, color)",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			key, value := args[0], args[1]
			if !slices.Contains([]string{"name", "url", "imprintUrl", "privacyUrl", "slogan", "color", "disable-user-theming"}, key) {
				fmt.Fprintln(cmd.ErrOrStderr(), "Invalid config key provided")
				return &usageError{fmt.Errorf("theming:config: unknown key %q", key)}
			}
			return withServer(cmd.Context(), func(ctx context.Context, s *standin.Server) error {
				if err := s.SetAppValue(ctx, "theming", key, value); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "Updated %s to %s\n", key, value)
				return nil
			})
		},
	}
	return []*cobra.Command{cron, enable, disable, list, theming}
}

// newCron is the stand-in's cron task: cron.php once at start (as soon as the instance is
// installed) and then every --interval, as the image's /cron.sh runs it every 5 minutes. It opens
// the instance once and keeps it (the system config is re-read when its files change), so that a
// space waiting to be installed costs a file check every 2 s, not a connection and a migration.
func newCron() *cobra.Command {
	var interval time.Duration
	cmd := &cobra.Command{
		Use:   "cron",
		Short: "Run background jobs every --interval on the same state as serve (like the image's /cron.sh)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			logger := newLogger()
			ctx := cmd.Context()
			for {
				err := withServer(ctx, func(ctx context.Context, s *standin.Server) error {
					return cronLoop(ctx, s, interval, logger)
				})
				if ctx.Err() != nil {
					return nil
				}
				logger.WarnContext(ctx, "cron cannot open the instance", "err", err)
				select {
				case <-ctx.Done():
					return nil
				case <-time.After(5 * time.Second):
				}
			}
		},
	}
	cmd.Flags().DurationVar(&interval, "interval", 5*time.Minute, "time between runs")
	return cmd
}

// cronLoop runs cron.php on s until ctx ends.
func cronLoop(ctx context.Context, s *standin.Server, interval time.Duration, logger *slog.Logger) error {
	wait := time.Duration(0)
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
		ran, err := s.RunCron(ctx, time.Now())
		switch {
		case err != nil:
			logger.WarnContext(ctx, "cron run failed", "err", err)
			wait = 5 * time.Second
		case !ran:
			// Not installed yet, or in maintenance mode: look again soon.
			wait = 2 * time.Second
		default:
			logger.InfoContext(ctx, "cron ran")
			wait = interval
		}
	}
}

// runHooks runs the executables in dir/before-starting in name order, as the official image's
// entrypoint runs /docker-entrypoint-hooks.d/before-starting before starting Nextcloud: a hook
// that fails stops the start.
func runHooks(ctx context.Context, dir string, logger *slog.Logger) error {
	if dir == "" {
		return nil
	}
	path := filepath.Join(dir, "before-starting")
	entries, err := os.ReadDir(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read hooks: %w", err)
	}
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		script := filepath.Join(path, e.Name())
		logger.InfoContext(ctx, "running hook", "script", script)
		c := exec.CommandContext(ctx, script)
		c.Stdout, c.Stderr = os.Stderr, os.Stderr
		if err := c.Run(); err != nil {
			return fmt.Errorf("hook %s: %w", script, err)
		}
	}
	return nil
}
