package main

import (
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/assospaces/spaces/tenants"
)

// tokenScopes are the values of token create --scope, the first being the default.
var tokenScopes = []string{string(tenants.ScopeOperator), string(tenants.ScopeRead), string(tenants.ScopeForward)}

// cliTime is how the tokens' and the audit log's tables write times, in the local time zone.
const cliTime = "2006-01-02 15:04"

func newTokenCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "token",
		Short: "Manage operator API tokens (for SPACES_TOKEN)",
		Example: `  spaces token create ops
  spaces token create grafana --scope read --expires 90d
  spaces token list
  spaces token revoke 3`,
	}

	var scope, expires string
	var expiresAt *time.Time
	create := &cobra.Command{
		Use:   "create NAME",
		Short: "Create an API token; it is printed once and only its hash is kept",
		Long: `Create an API token for the operators' commands (SPACES_TOKEN) and the JSON API; it is printed
once and only its hash is kept. Everything done with it is recorded in the audit log under NAME.

--scope operator (the default, as tokens had before scopes existed) may read and change spaces and
applications; --scope read may only read them, the dashboard and the audit log. Prefer read for
anything that only looks, such as monitoring. --scope forward may only send applications
(POST /api/v1/applications): give it to a partner host running this software, which forwards its
applicants here with their consent (it sets it with spaces partner set ID --forward-token-file).

--expires takes a number of days (90d), a duration (12h) or a date (2027-01-31, which expires at
midnight local time as that day starts); without it the token never expires.`,
		Example: `  spaces token create ops
  spaces token create grafana --scope read --expires 90d
  spaces token create contractor --expires 2027-01-31
  spaces token create "Chatons du Nord" --scope forward`,
		Args: exactArgs(1, "NAME"),
		PreRunE: func(cmd *cobra.Command, _ []string) error {
			if !tenants.TokenScope(scope).Valid() {
				return usagef("%s: --scope %q is not a scope; use %s or %s", cmd.CommandPath(), scope,
					strings.Join(tokenScopes[:len(tokenScopes)-1], ", "), tokenScopes[len(tokenScopes)-1])
			}
			if expires == "" {
				return nil
			}
			now := time.Now()
			t, err := tenants.ParseUntil(expires, now, time.Local)
			if err != nil {
				return usagef("%s: --expires %q is not an expiry; use a number of days such as 90d or a date such as 2027-01-31",
					cmd.CommandPath(), expires)
			}
			if !t.After(now) {
				return usagef("%s: --expires %q is not in the future; use a number of days such as 90d or a date to come",
					cmd.CommandPath(), expires)
			}
			expiresAt = &t
			return nil
		},
		RunE: withDatabase(func(cmd *cobra.Command, args []string, _ *Config, db tenants.DB) error {
			t, secret, err := tenants.CreateAPIToken(cmd.Context(), db,
				tenants.NewAPIToken{Name: args[0], Scope: tenants.TokenScope(scope), ExpiresAt: expiresAt}, cliActor())
			if err != nil {
				return err
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "token %d (%s, scope %s, %s) created; shown once:\n%s\n",
				t.ID, t.Name, t.Scope, expiryText(t.ExpiresAt), secret)
			return err
		}),
	}
	create.Flags().StringVar(&scope, "scope", tokenScopes[0], "what the token may do: operator (read and change), read (read only) or forward (send applications only)")
	create.Flags().StringVar(&expires, "expires", "", "when the token stops working: a number of days such as 90d or a date such as 2027-01-31 (default: never)")
	_ = create.RegisterFlagCompletionFunc("scope", cobra.FixedCompletions(tokenScopes, cobra.ShellCompDirectiveNoFileComp))
	bindConfig(create, databaseSettings...)

	var listOut *output
	list := &cobra.Command{
		Use:   "list",
		Short: "List API tokens: name, scope, when created, last used and expiring, and whether active, revoked or expired",
		Example: `  spaces token list
  spaces token list --output json`,
		Args: exactArgs(0, "no arguments"),
		RunE: withDatabase(func(cmd *cobra.Command, _ []string, _ *Config, db tenants.DB) error {
			tokens, err := tenants.ListAPITokens(cmd.Context(), db)
			if err != nil {
				return err
			}
			now := time.Now()
			out := cmd.OutOrStdout()
			if listOut.JSON() {
				items := make([]tokenItem, len(tokens))
				for i, t := range tokens {
					items[i] = tokenItem{APIToken: t, State: t.State(now)}
				}
				return writeJSON(out, map[string]any{"tokens": items})
			}
			if len(tokens) == 0 {
				_, err := fmt.Fprintln(out, "no API tokens; make one with: spaces token create NAME")
				return err
			}
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tNAME\tSCOPE\tCREATED\tLAST USED\tEXPIRES\tSTATE")
			for _, t := range tokens {
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", t.ID, t.Name, t.Scope, t.CreatedAt.Local().Format(cliTime),
					timeOrDash(t.LastUsedAt), timeOrDash(t.ExpiresAt), t.State(now))
			}
			return tw.Flush()
		}),
	}
	listOut = addOutputFlag(list)
	bindConfig(list, databaseSettings...)

	revoke := &cobra.Command{
		Use:     "revoke ID",
		Short:   "Revoke an API token (its ID is in spaces token list); it stops working at once",
		Example: `  spaces token revoke 3`,
		Args:    exactArgs(1, "ID"),
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
	cmd.AddCommand(create, list, revoke)
	return cmd
}

// tokenItem is a token as token list --output json writes it: the token and its state.
type tokenItem struct {
	tenants.APIToken
	State string `json:"state"`
}

// expiryText says when a token expires, for people.
func expiryText(t *time.Time) string {
	if t == nil {
		return "never expires"
	}
	return "expires " + t.Local().Format(cliTime+" MST")
}

// timeOrDash writes t in the tables' form, "—" when there is none.
func timeOrDash(t *time.Time) string {
	if t == nil {
		return "—"
	}
	return t.Local().Format(cliTime)
}
