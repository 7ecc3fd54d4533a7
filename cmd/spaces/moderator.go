package main

import (
	"bufio"
	"fmt"
	"os/user"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/assospaces/spaces/tenants"
)

// cliActor names the person running a direct-to-database command in the audit log.
func cliActor() tenants.Actor {
	name := "unknown"
	if u, err := user.Current(); err == nil {
		name = u.Username
	}
	return tenants.Actor("cli:" + name)
}

func newModeratorCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "moderator", Short: "Manage moderator accounts"}

	var name string
	var passwordStdin bool
	add := &cobra.Command{
		Use:   "add EMAIL",
		Short: "Add a moderator; prints a generated password unless --password-stdin is given",
		Args:  exactArgs(1, "EMAIL"),
		RunE: withDatabase(func(cmd *cobra.Command, args []string, _ *Config, db tenants.DB) error {
			email := args[0]
			if !strings.Contains(email, "@") {
				return usagef("moderator add: %q is not an email address", email)
			}
			if name == "" {
				name = strings.SplitN(email, "@", 2)[0]
			}
			password, generated := "", false
			if passwordStdin {
				line, err := bufio.NewReader(cmd.InOrStdin()).ReadString('\n')
				if err != nil && line == "" {
					return usagef("moderator add: --password-stdin: no password on standard input")
				}
				password = strings.TrimRight(line, "\r\n")
			} else {
				password, generated = tenants.NewSecret("")[:20], true
			}
			m, err := tenants.CreateModerator(cmd.Context(), db, email, name, password, cliActor())
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "moderator %d added: %s (%s)\n", m.ID, m.Email, m.DisplayName)
			if generated {
				fmt.Fprintf(out, "password (shown once): %s\n", password)
			}
			return nil
		}),
	}
	add.Flags().StringVar(&name, "name", "", "display name (default: the part of the email before @)")
	add.Flags().BoolVar(&passwordStdin, "password-stdin", false, "read the password from the first line of standard input")
	bindConfig(add, databaseSettings...)

	disable := &cobra.Command{
		Use:   "disable EMAIL",
		Short: "Stop a moderator from logging in (their decisions stay attributed to them)",
		Args:  exactArgs(1, "EMAIL"),
		RunE: withDatabase(func(cmd *cobra.Command, args []string, _ *Config, db tenants.DB) error {
			m, err := tenants.DisableModerator(cmd.Context(), db, args[0], cliActor())
			if err != nil {
				return err
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "moderator %d disabled: %s\n", m.ID, m.Email)
			return err
		}),
	}
	bindConfig(disable, databaseSettings...)

	list := &cobra.Command{
		Use:   "list",
		Short: "List moderator accounts",
		Args:  cobra.NoArgs,
		RunE: withDatabase(func(cmd *cobra.Command, _ []string, _ *Config, db tenants.DB) error {
			ms, err := tenants.ListModerators(cmd.Context(), db)
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tEMAIL\tNAME\tSTATUS\tCREATED")
			for _, m := range ms {
				status := "active"
				if m.DisabledAt != nil {
					status = "disabled"
				}
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\n", m.ID, m.Email, m.DisplayName, status, m.CreatedAt.Format("2006-01-02"))
			}
			return tw.Flush()
		}),
	}
	bindConfig(list, databaseSettings...)

	cmd.AddCommand(add, disable, list)
	return cmd
}

// exactArgs is cobra.ExactArgs with a message that names what is missing; a usage error (exit 2).
func exactArgs(n int, names string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return usagef("%s: want %s, got %d argument(s) (see %s --help)", cmd.CommandPath(), names, len(args), cmd.CommandPath())
		}
		return nil
	}
}
