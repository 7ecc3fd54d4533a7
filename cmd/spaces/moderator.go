package main

import (
	"bufio"
	"errors"
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

// moderatorRoles are the values of moderator add --role and moderator role, the first being the default.
var moderatorRoles = []string{string(tenants.RoleModerator), string(tenants.RoleOperator)}

// rolesHelp says what each role may do, for the commands' help.
const rolesHelp = `A moderator reviews applications (claim, approve, reject, ask) and sees the spaces pages
read-only; an operator may also resize, suspend, resume, delete and restore spaces there.`

// parseRole reads a role given on the command line; a usage error names the allowed values.
func parseRole(cmd *cobra.Command, what, value string) (tenants.ModeratorRole, error) {
	r := tenants.ModeratorRole(value)
	if !r.Valid() {
		return "", usagef("%s: %s %q is not a role; use %s", cmd.CommandPath(), what, value, strings.Join(moderatorRoles, " or "))
	}
	return r, nil
}

func newModeratorCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "moderator", Short: "Manage moderator accounts and their roles (moderator or operator)", Long: "Manage moderator accounts and their roles.\n\n" + rolesHelp,
		Example: `  spaces moderator add alex@example.org --name "Alex Martin"
  spaces moderator add sam@example.org --role operator
  spaces moderator role alex@example.org operator
  spaces moderator list`}

	var name, roleFlag string
	var passwordStdin bool
	var role tenants.ModeratorRole
	add := &cobra.Command{
		Use:   "add EMAIL",
		Short: "Add a moderator (--role moderator, the default, or operator); prints a generated password unless --password-stdin is given",
		Long:  "Add a moderator account; prints a generated password unless --password-stdin is given.\n\n" + rolesHelp,
		Args:  exactArgs(1, "EMAIL"),
		PreRunE: func(cmd *cobra.Command, _ []string) (err error) {
			role, err = parseRole(cmd, "--role", roleFlag)
			return err
		},
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
			m, err := tenants.CreateModeratorWithRole(cmd.Context(), db, email, name, password, role, cliActor())
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "moderator %d added: %s (%s), role %s\n", m.ID, m.Email, m.DisplayName, m.Role)
			if generated {
				fmt.Fprintf(out, "password (shown once): %s\n", password)
			}
			return nil
		}),
	}
	add.Flags().StringVar(&name, "name", "", "display name (default: the part of the email before @)")
	add.Flags().BoolVar(&passwordStdin, "password-stdin", false, "read the password from the first line of standard input")
	add.Flags().StringVar(&roleFlag, "role", moderatorRoles[0], "moderator (reviews applications, sees spaces; the default) or operator (also acts on spaces)")
	_ = add.RegisterFlagCompletionFunc("role", cobra.FixedCompletions(moderatorRoles, cobra.ShellCompDirectiveNoFileComp))
	bindConfig(add, databaseSettings...)

	var newRole tenants.ModeratorRole
	roleCmd := &cobra.Command{
		Use:       "role EMAIL moderator|operator",
		Short:     "Give a moderator a role: moderator (sees spaces read-only) or operator (also acts on spaces)",
		Long:      "Give a moderator a role; it applies from their next page, without logging in again.\n\n" + rolesHelp,
		Args:      exactArgs(2, "EMAIL and a role (moderator or operator)"),
		ValidArgs: moderatorRoles,
		PreRunE: func(cmd *cobra.Command, args []string) (err error) {
			newRole, err = parseRole(cmd, "role", args[1])
			return err
		},
		RunE: withDatabase(func(cmd *cobra.Command, args []string, _ *Config, db tenants.DB) error {
			m, before, err := tenants.SetModeratorRole(cmd.Context(), db, args[0], newRole, cliActor())
			if errors.Is(err, tenants.ErrNotFound) {
				return fmt.Errorf("no moderator with email %s (see spaces moderator list)", args[0])
			}
			if err != nil {
				return err
			}
			if before == m.Role {
				_, err = fmt.Fprintf(cmd.OutOrStdout(), "moderator %d (%s) is already %s\n", m.ID, m.Email, m.Role)
				return err
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "moderator %d (%s) is now %s (was %s)\n", m.ID, m.Email, m.Role, before)
			return err
		}),
	}
	bindConfig(roleCmd, databaseSettings...)

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
		Short: "List moderator accounts with their role",
		Args:  cobra.NoArgs,
		RunE: withDatabase(func(cmd *cobra.Command, _ []string, _ *Config, db tenants.DB) error {
			ms, err := tenants.ListModerators(cmd.Context(), db)
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tEMAIL\tNAME\tROLE\tSTATUS\tCREATED")
			for _, m := range ms {
				status := "active"
				if m.DisabledAt != nil {
					status = "disabled"
				}
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", m.ID, m.Email, m.DisplayName, m.Role, status, m.CreatedAt.Format("2006-01-02"))
			}
			return tw.Flush()
		}),
	}
	bindConfig(list, databaseSettings...)

	cmd.AddCommand(add, roleCmd, disable, list)
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
