package main

import (
	"fmt"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/assospaces/spaces/tenants"
)

func newTokenCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "token", Short: "Manage operator API tokens (for SPACES_TOKEN)"}
	create := &cobra.Command{
		Use:   "create NAME",
		Short: "Create an API token; it is printed once and only its hash is kept",
		Args:  exactArgs(1, "NAME"),
		RunE: withDatabase(func(cmd *cobra.Command, args []string, _ *Config, db tenants.DB) error {
			t, secret, err := tenants.CreateAPIToken(cmd.Context(), db, args[0], cliActor())
			if err != nil {
				return err
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "token %d (%s) created; shown once:\n%s\n", t.ID, t.Name, secret)
			return err
		}),
	}
	bindConfig(create, databaseSettings...)
	revoke := &cobra.Command{
		Use:   "revoke ID",
		Short: "Revoke an API token",
		Args:  exactArgs(1, "ID"),
		RunE: withDatabase(func(cmd *cobra.Command, args []string, _ *Config, db tenants.DB) error {
			id, err := strconv.ParseInt(args[0], 10, 64)
			if err != nil {
				return usagef("token revoke: ID must be a number, got %q", args[0])
			}
			if err := tenants.RevokeAPIToken(cmd.Context(), db, id, cliActor()); err != nil {
				return err
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "token %d revoked\n", id)
			return err
		}),
	}
	bindConfig(revoke, databaseSettings...)
	cmd.AddCommand(create, revoke)
	return cmd
}
