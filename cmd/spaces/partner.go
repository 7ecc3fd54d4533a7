package main

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/assospaces/spaces/tenants"
)

func newPartnerCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "partner",
		Short: "Keep the list of partner hosts offered to applicants, through the server's JSON API (SPACES_ADDR, SPACES_TOKEN)",
		Long: `Keep the list of partner hosts: other services that give associations spaces. The open ones
are offered to applicants, with their name, a link and what they offer, while the form is closed
(spaces intake) and, meanwhile, to those whose space waits for a place. A full partner is kept
but not offered.

A partner running this same software may also take applications forwarded from here: with
spaces partner set ID --forward-url URL --forward-token-file FILE (a token of scope forward it
gave), the closed form offers "Send my application to …", and spaces partner forwards follows them.

Every change is recorded under the token in the audit log. Exit codes: 0 done, 1 refused or
failed (the server's message), 2 a command used wrongly.`,
		Example: `  spaces partner list
  spaces partner add "Chatons du Sud" --url https://chatons-sud.example --offer "Nextcloud, 10 Go par association"
  spaces partner set 3 --full
  spaces partner set 3 --forward-url https://chatons-sud.example --forward-token-file token.txt
  spaces partner forwards --state refused
  spaces partner remove 3`,
	}
	cmd.AddCommand(newPartnerListCommand(), newPartnerAddCommand(), newPartnerSetCommand(), newPartnerRemoveCommand(),
		newPartnerForwardsCommand())
	return cmd
}

// printPartner writes one partner host for people.
func printPartner(cmd *cobra.Command, p tenants.Partner) error {
	tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "ID:\t%d\nName:\t%s\nAddress:\t%s\nState:\t%s\n", p.ID, p.Name, p.URL, partnerState(p))
	if p.Forwarding {
		fmt.Fprintf(tw, "Forwarding:\tto %s/api/v1/applications (its token is kept sealed)\n", strings.TrimSuffix(p.ForwardURL, "/"))
	} else {
		fmt.Fprintf(tw, "Forwarding:\toff (applicants go there themselves)\n")
	}
	for _, m := range []struct{ lang, text, other string }{{"fr", p.OfferFR, "en"}, {"en", p.OfferEN, "fr"}} {
		if m.text == "" {
			fmt.Fprintf(tw, "Offer (%s):\tnone: the %s one is shown\n", m.lang, m.other)
		} else {
			fmt.Fprintf(tw, "Offer (%s):\t%s\n", m.lang, oneLine(m.text, 200))
		}
	}
	return tw.Flush()
}

func partnerState(p tenants.Partner) string {
	state := "full"
	if p.Open {
		state = "open"
	}
	if p.Forwarding {
		state += ", forwarding"
	}
	return state
}

// partnerIDArg checks that the argument is a partner's id; a usage error otherwise.
func partnerIDArg(cmd *cobra.Command, args []string) error {
	if n, err := strconv.ParseInt(args[0], 10, 64); err != nil || n <= 0 {
		return usagef("%s: ID must be a partner host's number such as 3 (spaces partner list), got %q", cmd.CommandPath(), args[0])
	}
	return nil
}

func newPartnerListCommand() *cobra.Command {
	var out *output
	c := &cobra.Command{
		Use:   "list",
		Short: "List the partner hosts: ID, NAME, STATE (open or full, and forwarding), ADDRESS, OFFER",
		Example: `  spaces partner list
  spaces partner list --output json`,
		Args: exactArgs(0, "no arguments"),
		RunE: withAPI(func(cmd *cobra.Command, _ []string, api *apiClient) error {
			var page struct {
				Partners []tenants.Partner `json:"partners"`
			}
			if err := api.do(cmd.Context(), http.MethodGet, "/api/v1/partners", &page); err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if out.JSON() {
				return writeJSON(w, page)
			}
			if len(page.Partners) == 0 {
				_, err := fmt.Fprintln(w, "no partner hosts (spaces partner add NAME --url URL --offer TEXT)")
				return err
			}
			tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tNAME\tSTATE\tADDRESS\tOFFER")
			for _, p := range page.Partners {
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\n", p.ID, p.Name, partnerState(p), p.URL, oneLine(p.Offer("fr"), 60))
			}
			return tw.Flush()
		}),
	}
	out = addOutputFlag(c)
	bindConfig(c, apiSettings...)
	return c
}

func newPartnerAddCommand() *cobra.Command {
	var out *output
	var address, offer, offerEN string
	var full bool
	c := &cobra.Command{
		Use:   "add NAME --url URL --offer TEXT [--offer-en TEXT] [--full]",
		Short: "Add a partner host, open unless --full",
		Long: `Add a partner host: its name, the address where associations apply there (https:// or http://)
and what it offers, in French (--offer; also shown in English unless --offer-en is given).`,
		Example: `  spaces partner add "Chatons du Sud" --url https://chatons-sud.example --offer "Nextcloud, 10 Go par association"
  spaces partner add "Nuage Libre" --url https://nuage.example --offer "Agendas et fichiers" --offer-en "Calendars and files" --full`,
		Args: exactArgs(1, "NAME"),
		PreRunE: func(cmd *cobra.Command, _ []string) error {
			if address == "" {
				return usagef("%s: --url is required: where associations apply to this partner (https://…)", cmd.CommandPath())
			}
			if offer == "" && offerEN == "" {
				return usagef("%s: --offer is required: what the partner offers, shown to applicants", cmd.CommandPath())
			}
			return nil
		},
		RunE: withAPI(func(cmd *cobra.Command, args []string, api *apiClient) error {
			var p tenants.Partner
			if err := api.post(cmd.Context(), "/api/v1/partners", map[string]any{"name": args[0], "url": address,
				"offer_fr": offer, "offer_en": offerEN, "open": !full}, &p); err != nil {
				return err
			}
			if out.JSON() {
				return writeJSON(cmd.OutOrStdout(), p)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "partner host %d added (%s).\n", p.ID, partnerState(p))
			return printPartner(cmd, p)
		}),
	}
	c.Flags().StringVar(&address, "url", "", "where associations apply to this partner (required)")
	c.Flags().StringVar(&offer, "offer", "", "what it offers, in French (required; also shown in English unless --offer-en)")
	c.Flags().StringVar(&offerEN, "offer-en", "", "what it offers, in English")
	c.Flags().BoolVar(&full, "full", false, "recorded as full: not offered until spaces partner set ID --open")
	out = addOutputFlag(c)
	bindConfig(c, apiSettings...)
	return c
}

func newPartnerSetCommand() *cobra.Command {
	var out *output
	var name, address, offer, offerEN, forwardURL, forwardTokenFile string
	var open, full, noForward bool
	c := &cobra.Command{
		Use:   "set ID [--name NAME] [--url URL] [--offer TEXT] [--offer-en TEXT] [--open | --full] [--forward-url URL --forward-token-file FILE | --no-forward]",
		Short: "Change a partner host: its name, address, offer, whether it takes associations, and forwarding",
		Long: `Change a partner host. Forwarding sends applicants' applications, with their consent, to a partner
running this same software, through its JSON API: --forward-url is its address (the service's
root, https://…; /api/v1/applications is appended) and --forward-token-file a file holding the
token of scope forward it gave (- reads standard input). The token is sealed on the server, never
printed nor answered back; give it again only to change it. --no-forward turns forwarding off.`,
		Example: `  spaces partner set 3 --full
  spaces partner set 3 --open --offer "Nextcloud, 20 Go par association"
  spaces partner set 3 --forward-url https://chatons-sud.example --forward-token-file token.txt
  pass show chatons-sud | spaces partner set 3 --forward-url https://chatons-sud.example --forward-token-file -
  spaces partner set 3 --no-forward`,
		Args: exactArgs(1, "ID"),
		PreRunE: func(cmd *cobra.Command, args []string) error {
			if err := partnerIDArg(cmd, args); err != nil {
				return err
			}
			if open && full {
				return usagef("%s: --open and --full cannot be combined", cmd.CommandPath())
			}
			f := cmd.Flags()
			if noForward && (f.Changed("forward-url") || f.Changed("forward-token-file")) {
				return usagef("%s: --no-forward cannot be combined with --forward-url or --forward-token-file", cmd.CommandPath())
			}
			if f.Changed("forward-url") && forwardURL == "" {
				return usagef("%s: --forward-url is empty: give the partner's address (https://…), or --no-forward", cmd.CommandPath())
			}
			if f.Changed("forward-token-file") && forwardTokenFile == "" {
				return usagef("%s: --forward-token-file is empty: give a file holding the partner's token, or - for standard input", cmd.CommandPath())
			}
			if !f.Changed("name") && !f.Changed("url") && !f.Changed("offer") && !f.Changed("offer-en") && !open && !full &&
				!f.Changed("forward-url") && !f.Changed("forward-token-file") && !noForward {
				return usagef("%s: nothing to change: give --name, --url, --offer, --offer-en, --open or --full (or --forward-url, --forward-token-file, --no-forward)", cmd.CommandPath())
			}
			return nil
		},
		RunE: withAPI(func(cmd *cobra.Command, args []string, api *apiClient) error {
			body := map[string]any{}
			f := cmd.Flags()
			for flag, field := range map[string]struct {
				key string
				v   string
			}{"name": {"name", name}, "url": {"url", address}, "offer": {"offer_fr", offer}, "offer-en": {"offer_en", offerEN}} {
				if f.Changed(flag) {
					body[field.key] = field.v
				}
			}
			if open || full {
				body["open"] = open
			}
			switch {
			case noForward:
				body["forward_url"] = ""
			case f.Changed("forward-url"):
				body["forward_url"] = forwardURL
			}
			if f.Changed("forward-token-file") {
				token, err := readTokenFile(cmd, forwardTokenFile)
				if err != nil {
					return err
				}
				body["forward_token"] = token
			}
			var p tenants.Partner
			if err := api.post(cmd.Context(), "/api/v1/partners/"+args[0], body, &p); err != nil {
				return err
			}
			if out.JSON() {
				return writeJSON(cmd.OutOrStdout(), p)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "partner host %d changed.\n", p.ID)
			return printPartner(cmd, p)
		}),
	}
	c.Flags().StringVar(&name, "name", "", "its name")
	c.Flags().StringVar(&address, "url", "", "where associations apply to it")
	c.Flags().StringVar(&offer, "offer", "", "what it offers, in French")
	c.Flags().StringVar(&offerEN, "offer-en", "", "what it offers, in English (empty: the French one is shown)")
	c.Flags().BoolVar(&open, "open", false, "it takes associations: offered to applicants")
	c.Flags().BoolVar(&full, "full", false, "it takes no one for now: not offered")
	c.Flags().StringVar(&forwardURL, "forward-url", "", "forward applications to this partner's API, at this address (https://…)")
	c.Flags().StringVar(&forwardTokenFile, "forward-token-file", "", "a file holding the token of scope forward the partner gave (- for standard input)")
	c.Flags().BoolVar(&noForward, "no-forward", false, "stop forwarding applications to this partner (its token is forgotten)")
	out = addOutputFlag(c)
	bindConfig(c, apiSettings...)
	return c
}

func newPartnerRemoveCommand() *cobra.Command {
	var out *output
	c := &cobra.Command{
		Use:     "remove ID",
		Short:   "Remove a partner host from the list (spaces partner set ID --full keeps it without offering it)",
		Example: `  spaces partner remove 3`,
		Args:    exactArgs(1, "ID"),
		PreRunE: partnerIDArg,
		RunE: withAPI(func(cmd *cobra.Command, args []string, api *apiClient) error {
			var p tenants.Partner
			if err := api.send(cmd.Context(), http.MethodDelete, "/api/v1/partners/"+args[0], nil, &p); err != nil {
				return err
			}
			if out.JSON() {
				return writeJSON(cmd.OutOrStdout(), p)
			}
			_, err := fmt.Fprintf(cmd.OutOrStdout(), "partner host %d removed: %s (%s).\n", p.ID, p.Name, p.URL)
			return err
		}),
	}
	out = addOutputFlag(c)
	bindConfig(c, apiSettings...)
	return c
}

// readTokenFile reads a secret from a file, or from standard input for "-": its first line,
// trimmed. The secret is never printed; an empty one is a usage error.
func readTokenFile(cmd *cobra.Command, path string) (string, error) {
	var raw []byte
	var err error
	if path == "-" {
		raw, err = io.ReadAll(io.LimitReader(cmd.InOrStdin(), 64<<10))
	} else {
		raw, err = os.ReadFile(path)
	}
	if err != nil {
		return "", fmt.Errorf("%s: --forward-token-file: %w", cmd.CommandPath(), err)
	}
	line, _, _ := strings.Cut(string(raw), "\n")
	if token := strings.TrimSpace(line); token != "" {
		return token, nil
	}
	return "", usagef("%s: --forward-token-file %s holds no token on its first line", cmd.CommandPath(), path)
}

// forwardStates are the values of partner forwards --state.
var forwardStates = []string{string(tenants.ForwardQueued), string(tenants.ForwardDelivered), string(tenants.ForwardRefused), string(tenants.ForwardFailed)}

func newPartnerForwardsCommand() *cobra.Command {
	var out *output
	var partner int64
	var state string
	var limit int
	c := &cobra.Command{
		Use:   "forwards [--partner ID] [--state queued|delivered|refused|failed] [--limit N]",
		Short: "List the applications forwarded to partner hosts: ID, SENT, PARTNER, ASSOCIATION, STATE, ANSWER",
		Long: `List the applications forwarded to partner hosts, the most recent first: when, to which partner,
for which association, and how it went: queued (being sent, or retried while the partner cannot be
reached), delivered (the partner took it and mailed the applicant), refused (the partner answered
it cannot take it: its answer is shown) or failed (not sent after every attempt). The applicant is
mailed when it is refused or failed. What they typed is deleted here once it is no longer queued.`,
		Example: `  spaces partner forwards
  spaces partner forwards --partner 3 --state refused
  spaces partner forwards --output json`,
		Args: exactArgs(0, "no arguments"),
		PreRunE: func(cmd *cobra.Command, _ []string) error {
			if cmd.Flags().Changed("partner") && partner <= 0 {
				return usagef("%s: --partner must be a partner host's number such as 3 (spaces partner list), got %d", cmd.CommandPath(), partner)
			}
			if state != "" && !slices.Contains(forwardStates, state) {
				return usagef("%s: --state %q is not a state; use %s", cmd.CommandPath(), state, strings.Join(forwardStates, ", "))
			}
			if limit < 1 || limit > 500 {
				return usagef("%s: --limit must be from 1 to 500, got %d", cmd.CommandPath(), limit)
			}
			return nil
		},
		RunE: withAPI(func(cmd *cobra.Command, _ []string, api *apiClient) error {
			q := url.Values{"limit": {strconv.Itoa(limit)}}
			if partner > 0 {
				q.Set("partner", strconv.FormatInt(partner, 10))
			}
			if state != "" {
				q.Set("state", state)
			}
			var page struct {
				Forwards []tenants.Forward `json:"forwards"`
			}
			if err := api.do(cmd.Context(), http.MethodGet, "/api/v1/forwards?"+q.Encode(), &page); err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if out.JSON() {
				return writeJSON(w, page)
			}
			if len(page.Forwards) == 0 {
				_, err := fmt.Fprintln(w, "no forwarded applications")
				return err
			}
			tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tSENT\tPARTNER\tASSOCIATION\tSTATE\tANSWER")
			for _, f := range page.Forwards {
				answer := "—"
				if f.Answer != "" {
					answer = oneLine(f.Answer, 80)
				}
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", f.ID, f.CreatedAt.Local().Format(cliTime), f.PartnerName,
					oneLine(f.AssociationName, 40), f.State, answer)
			}
			return tw.Flush()
		}),
	}
	c.Flags().Int64Var(&partner, "partner", 0, "only those sent to this partner host")
	c.Flags().StringVar(&state, "state", "", "only those in this state: queued, delivered, refused or failed")
	c.Flags().IntVar(&limit, "limit", 50, "at most this many, 1 to 500")
	_ = c.RegisterFlagCompletionFunc("state", cobra.FixedCompletions(forwardStates, cobra.ShellCompDirectiveNoFileComp))
	out = addOutputFlag(c)
	bindConfig(c, apiSettings...)
	return c
}
