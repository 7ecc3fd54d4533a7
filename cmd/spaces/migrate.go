package main

import (
	"fmt"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/assospaces/spaces/tenants/schema"
)

func newMigrateCommand() *cobra.Command {
	var down string
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Bring the database schema (River's and ours) up to date; idempotent",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(cmd)
			if err != nil {
				return err
			}
			logger := newLogger(cfg)
			ctx := cmd.Context()
			pool, err := openDatabase(ctx, cfg, logger)
			if err != nil {
				return err
			}
			defer pool.Close()
			if down != "" {
				target, err := strconv.Atoi(down)
				if err != nil || target < 0 {
					return usagef("--down-to: want a migration number from 0, got %q", down)
				}
				return schema.Rollback(ctx, pool, target, logger)
			}
			if err := schema.Migrate(ctx, pool, logger); err != nil {
				return err
			}
			_, err = fmt.Fprintln(cmd.OutOrStdout(), "schema up to date")
			return err
		},
	}
	cmd.Flags().StringVar(&down, "down-to", "", "undo our migrations above this number instead (River's schema is kept)")
	bindConfig(cmd, databaseSettings...)
	return cmd
}
