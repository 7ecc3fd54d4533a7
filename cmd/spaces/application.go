package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/assospaces/spaces/tenants"
)

// The moderation queue from a terminal: the JSON API's /api/v1/applications, which does what the
// moderators' pages do, as the operator's token. A token never claims: a decision on an
// application a moderator has claimed is refused until the claim ends.

// applicationListStates are the values of list --state: every state, or all.
var applicationListStates = func() []string {
	out := make([]string, 0, len(tenants.ApplicationStates)+1)
	for _, s := range tenants.ApplicationStates {
		out = append(out, string(s))
	}
	return append(out, "all")
}()

func newApplicationCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "application",
		Short: "Work the moderation queue through the server's JSON API: list, show, approve, reject, ask",
		Long: `Work the moderation queue as moderators do at /moderation, through the server's JSON API
(SPACES_ADDR, SPACES_TOKEN). Decisions are recorded under the token and mail the applicant.
A token cannot claim an application: one a moderator has claimed cannot be decided here until
the claim ends (claims last 30 minutes).`,
	}
	cmd.AddCommand(newApplicationListCommand(), newApplicationShowCommand(), newApplicationApproveCommand(),
		newApplicationRejectCommand(), newApplicationAskCommand(), newApplicationReasonsCommand())
	return cmd
}

func newApplicationListCommand() *cobra.Command {
	var out *output
	var state, search string
	var limit int
	var after int64
	c := &cobra.Command{
		Use:   "list",
		Short: "List the moderation queue: pending applications oldest first, as the moderators' queue does",
		Example: `  spaces application list
  spaces application list --state needs_info
  spaces application list --state all --search jardin
  spaces application list --state rejected --output json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if !slices.Contains(applicationListStates, state) {
				return usagef("application list: --state %q is not a state; use %s", state, strings.Join(applicationListStates, ", "))
			}
			if limit < 1 || limit > 200 {
				return usagef("application list: --limit %d is out of range; use a whole number from 1 to 200", limit)
			}
			if after < 0 {
				return usagef("application list: --after %d is not an application id", after)
			}
			return withAPI(func(cmd *cobra.Command, _ []string, api *apiClient) error {
				q := url.Values{"state": {state}, "limit": {strconv.Itoa(limit)}, "lang": {"en"}}
				if search != "" {
					q.Set("q", search)
				}
				if after > 0 {
					q.Set("after", strconv.FormatInt(after, 10))
				}
				var page applicationPage
				if err := api.do(cmd.Context(), http.MethodGet, "/api/v1/applications?"+q.Encode(), &page); err != nil {
					return err
				}
				if out.JSON() {
					return writeJSON(cmd.OutOrStdout(), page)
				}
				return printApplicationList(cmd.OutOrStdout(), page, state, search, limit)
			})(cmd, args)
		},
	}
	c.Flags().StringVar(&state, "state", string(tenants.AppPending), "only applications in this state: "+strings.Join(applicationListStates, ", "))
	c.Flags().StringVar(&search, "search", "", "search names, addresses, identifiers (RNA, SIREN) and emails, as the queue's search box")
	c.Flags().IntVar(&limit, "limit", 50, "at most this many applications (1 to 200)")
	c.Flags().Int64Var(&after, "after", 0, "continue a listing after this application id (the next page)")
	_ = c.RegisterFlagCompletionFunc("state", cobra.FixedCompletions(applicationListStates, cobra.ShellCompDirectiveNoFileComp))
	out = addOutputFlag(c)
	bindConfig(c, apiSettings...)
	return c
}

func newApplicationShowCommand() *cobra.Command {
	var out *output
	c := &cobra.Command{
		Use:   "show ID",
		Short: "Show an application: every field, the conversation, possible duplicates, the history, its space",
		Example: `  spaces application show 12
  spaces application show 12 --output json`,
		Args:              exactArgs(1, "ID"),
		ValidArgsFunction: completeApplicationIDs(tenants.AppPending, tenants.AppNeedsInfo, ""),
		RunE: withApplicationID(func(cmd *cobra.Command, id int64, api *apiClient) error {
			var v applicationView
			if err := api.do(cmd.Context(), http.MethodGet, applicationPath(id, ""), &v); err != nil {
				return err
			}
			if out.JSON() {
				return writeJSON(cmd.OutOrStdout(), v)
			}
			return printApplication(cmd.OutOrStdout(), v)
		}),
	}
	out = addOutputFlag(c)
	bindConfig(c, apiSettings...)
	return c
}

func newApplicationApproveCommand() *cobra.Command {
	var out *output
	c := &cobra.Command{
		Use:   "approve ID",
		Short: "Approve a pending application: its space is created with the default limits and provisioned; the applicant is mailed",
		Long: `Approve a pending or needs_info application, as the moderators' Approve button does: the
space is created queued with the server's default limits (SPACES_DEFAULT_STORAGE,
SPACES_DEFAULT_ACCOUNTS; the moderators' page offers no others), its provisioning starts, and
the applicant is mailed. Refused while a moderator holds a claim on the application.`,
		Example: `  spaces application approve 12
  spaces application approve 12 --output json`,
		Args:              exactArgs(1, "ID"),
		ValidArgsFunction: completeApplicationIDs(tenants.AppPending, tenants.AppNeedsInfo),
		RunE: withApplicationID(func(cmd *cobra.Command, id int64, api *apiClient) error {
			var v applicationView
			if err := api.doJSON(cmd.Context(), http.MethodPost, applicationPath(id, "/approve"), struct{}{}, &v); err != nil {
				return err
			}
			if out.JSON() {
				return writeJSON(cmd.OutOrStdout(), v)
			}
			msg := fmt.Sprintf("application #%d approved; the applicant was mailed", id)
			if s := v.Space; s != nil {
				msg += fmt.Sprintf("\nspace %s is %s", s.Slug, s.State)
				if q := v.Queue; q != nil && q.Position > 0 {
					msg += fmt.Sprintf(" (position %d on the waiting list)", q.Position)
				}
				msg += "; follow it with: spaces space show " + s.Slug
			}
			_, err := fmt.Fprintln(cmd.OutOrStdout(), msg)
			return err
		}),
	}
	out = addOutputFlag(c)
	bindConfig(c, apiSettings...)
	return c
}

func newApplicationRejectCommand() *cobra.Command {
	var out *output
	var reason, note string
	c := &cobra.Command{
		Use:   "reject ID --reason REASON [--note TEXT]",
		Short: "Reject an application with a saved reason (and a note); the applicant is mailed them",
		Long: `Reject a pending or needs_info application, as the moderators' Reject form does: --reason
names one of the saved reasons moderators edit at /moderation/reasons, by its title (any case)
or its id (spaces application reasons lists them); its text in the applicant's language,
followed by --note if given, is mailed to the applicant and shown on their status page.
--note - reads the note from standard input. Refused while a moderator holds a claim.`,
		Example: `  spaces application reject 12 --reason "Pas une association"
  spaces application reject 12 --reason 4 --note "Your association already has the space asso-12."
  spaces application reasons`,
		Args:              exactArgs(1, "ID"),
		ValidArgsFunction: completeApplicationIDs(tenants.AppPending, tenants.AppNeedsInfo),
		PreRunE: func(cmd *cobra.Command, args []string) error {
			if strings.TrimSpace(reason) == "" {
				return usagef("application reject: --reason is required: the title or id of a saved reason (spaces application reasons)")
			}
			return nil
		},
		RunE: withApplicationID(func(cmd *cobra.Command, id int64, api *apiClient) error {
			text, err := textFromFlag(cmd, "note", note)
			if err != nil {
				return err
			}
			var v applicationView
			if err := api.doJSON(cmd.Context(), http.MethodPost, applicationPath(id, "/reject"),
				map[string]string{"reason": reason, "note": text}, &v); err != nil {
				return err
			}
			if out.JSON() {
				return writeJSON(cmd.OutOrStdout(), v)
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "application #%d rejected; the applicant was mailed the reason:\n%s\n",
				id, indentLines(v.Application.DecisionReason, "  "))
			return err
		}),
	}
	c.Flags().StringVar(&reason, "reason", "", "a saved rejection reason, by title or id (required; see spaces application reasons)")
	c.Flags().StringVar(&note, "note", "", "text added after the reason, for the applicant (- reads standard input)")
	_ = c.RegisterFlagCompletionFunc("reason", completeRejectionReasons)
	out = addOutputFlag(c)
	bindConfig(c, apiSettings...)
	return c
}

func newApplicationAskCommand() *cobra.Command {
	var out *output
	var message string
	c := &cobra.Command{
		Use:   "ask ID --message TEXT",
		Short: "Ask the applicant for more information; the application waits for their answer",
		Long: `Ask the applicant of a pending application a question, as the moderators' form does: it is
mailed to them and shown on their status page, and the application is needs_info until they
answer. --message - reads the message from standard input. Refused while a moderator holds a
claim.`,
		Example: `  spaces application ask 12 --message "Could you send us your statutes?"
  spaces application ask 12 --message - < question.txt`,
		Args:              exactArgs(1, "ID"),
		ValidArgsFunction: completeApplicationIDs(tenants.AppPending),
		PreRunE: func(cmd *cobra.Command, args []string) error {
			if strings.TrimSpace(message) == "" {
				return usagef("application ask: --message is required: the question mailed to the applicant (- reads standard input)")
			}
			return nil
		},
		RunE: withApplicationID(func(cmd *cobra.Command, id int64, api *apiClient) error {
			text, err := textFromFlag(cmd, "message", message)
			if err != nil {
				return err
			}
			var v applicationView
			if err := api.doJSON(cmd.Context(), http.MethodPost, applicationPath(id, "/ask"), map[string]string{"message": text}, &v); err != nil {
				return err
			}
			if out.JSON() {
				return writeJSON(cmd.OutOrStdout(), v)
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "application #%d now waits for the applicant's answer (%s); the question was mailed\n",
				id, applicationStateWord(v.Application.State))
			return err
		}),
	}
	c.Flags().StringVar(&message, "message", "", "the question for the applicant (required; - reads standard input)")
	out = addOutputFlag(c)
	bindConfig(c, apiSettings...)
	return c
}

func newApplicationReasonsCommand() *cobra.Command {
	var out *output
	c := &cobra.Command{
		Use:     "reasons",
		Short:   "List the saved rejection reasons that reject --reason names",
		Example: `  spaces application reasons`,
		Args:    cobra.NoArgs,
		RunE: withAPI(func(cmd *cobra.Command, _ []string, api *apiClient) error {
			var v reasonList
			if err := api.do(cmd.Context(), http.MethodGet, "/api/v1/rejection-reasons", &v); err != nil {
				return err
			}
			if out.JSON() {
				return writeJSON(cmd.OutOrStdout(), v)
			}
			if len(v.Reasons) == 0 {
				_, err := fmt.Fprintln(cmd.OutOrStdout(), "no saved rejection reasons; moderators write them at /moderation/reasons")
				return err
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tTITLE\tTEXT SENT (ENGLISH)")
			for _, r := range v.Reasons {
				fmt.Fprintf(tw, "%d\t%s\t%s\n", r.ID, r.Title, oneLine(r.TextEN, 80))
			}
			return tw.Flush()
		}),
	}
	out = addOutputFlag(c)
	bindConfig(c, apiSettings...)
	return c
}

// applicationPage is the API's answer to list.
type applicationPage struct {
	Applications []applicationItem                  `json:"applications"`
	Counts       map[tenants.ApplicationState]int64 `json:"counts"`
	NextAfter    int64                              `json:"next_after"`
}

// applicationItem is an application as the API shows it.
type applicationItem struct {
	ID               int64                    `json:"id"`
	State            tenants.ApplicationState `json:"state"`
	AssociationName  string                   `json:"association_name"`
	LegalID          string                   `json:"legal_id"`
	Slug             string                   `json:"slug"`
	Address          string                   `json:"address"`
	ContactName      string                   `json:"contact_name"`
	ContactEmail     string                   `json:"contact_email"`
	Purpose          string                   `json:"purpose"`
	Activities       string                   `json:"activities"`
	ExpectedAccounts int                      `json:"expected_accounts"`
	Locale           string                   `json:"locale"`
	Claim            *struct {
		ModeratorID int64     `json:"moderator_id"`
		Moderator   string    `json:"moderator"`
		Until       time.Time `json:"until"`
	} `json:"claim"`
	DecisionReason string    `json:"decision_reason,omitempty"`
	SpaceID        int64     `json:"space_id,omitempty"`
	CreatedAt      time.Time `json:"created_at"`
	UpdatedAt      time.Time `json:"updated_at"`
	StateChangedAt time.Time `json:"state_changed_at"`
}

// applicationView is the API's answer to show and to every decision.
type applicationView struct {
	Application applicationItem `json:"application"`
	Messages    []struct {
		Author    string    `json:"author"`
		Moderator string    `json:"moderator,omitempty"`
		Body      string    `json:"body"`
		At        time.Time `json:"at"`
	} `json:"messages"`
	Duplicates []struct {
		ID              int64                    `json:"id"`
		State           tenants.ApplicationState `json:"state"`
		AssociationName string                   `json:"association_name"`
		Slug            string                   `json:"slug"`
		SameLegalID     bool                     `json:"same_legal_id"`
		SameEmail       bool                     `json:"same_email"`
		SimilarName     bool                     `json:"similar_name"`
	} `json:"duplicates"`
	History []struct {
		At     time.Time `json:"at"`
		Action string    `json:"action"`
		Actor  string    `json:"actor"`
		Text   string    `json:"text"`
	} `json:"history"`
	Space    *tenants.Space             `json:"space"`
	SpaceURL string                     `json:"space_url,omitempty"`
	Queue    *tenants.WaitingListStatus `json:"waiting_list,omitempty"`
}

// reasonList is the API's answer about the saved rejection reasons.
type reasonList struct {
	Reasons []struct {
		ID     int64  `json:"id"`
		Title  string `json:"title"`
		TextFR string `json:"text_fr"`
		TextEN string `json:"text_en"`
	} `json:"reasons"`
}

// applicationPath is the API path of application id with suffix; the history comes in English,
// as the rest of the command line speaks.
func applicationPath(id int64, suffix string) string {
	return "/api/v1/applications/" + strconv.FormatInt(id, 10) + suffix + "?lang=en"
}

// withApplicationID is withAPI for the commands taking an application ID, read first: a bad ID
// is a usage error.
func withApplicationID(fn func(cmd *cobra.Command, id int64, api *apiClient) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		id, err := strconv.ParseInt(strings.TrimPrefix(args[0], "#"), 10, 64)
		if err != nil || id <= 0 {
			return usagef("%s: ID must be an application number such as 12, got %q", cmd.CommandPath(), args[0])
		}
		return withAPI(func(cmd *cobra.Command, _ []string, api *apiClient) error { return fn(cmd, id, api) })(cmd, args)
	}
}

// textFromFlag is a text flag's value, or standard input when it is "-".
func textFromFlag(cmd *cobra.Command, flag, v string) (string, error) {
	if v != "-" {
		return v, nil
	}
	b, err := io.ReadAll(io.LimitReader(cmd.InOrStdin(), 64<<10))
	if err != nil {
		return "", fmt.Errorf("read --%s from standard input: %w", flag, err)
	}
	if strings.TrimSpace(string(b)) == "" {
		return "", usagef("%s: --%s - read nothing from standard input", cmd.CommandPath(), flag)
	}
	return string(b), nil
}

// doJSON is do with in sent as the JSON body. It goes through do, so that answers and errors
// are read in one place: the body is added by the transport of a copy of the client.
func (a *apiClient) doJSON(ctx context.Context, method, path string, in, out any) error {
	body, err := json.Marshal(in)
	if err != nil {
		return fmt.Errorf("encode the request to %s: %w", path, err)
	}
	next := a.http.Transport
	if next == nil {
		next = http.DefaultTransport
	}
	hc := *a.http
	hc.Transport = jsonBodyTransport{body: body, next: next}
	withBody := *a
	withBody.http = &hc
	return withBody.do(ctx, method, path, out)
}

// jsonBodyTransport sends every request with body as its JSON body.
type jsonBodyTransport struct {
	body []byte
	next http.RoundTripper
}

func (t jsonBodyTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Body = io.NopCloser(bytes.NewReader(t.body))
	r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(t.body)), nil }
	r.ContentLength = int64(len(t.body))
	r.Header.Set("Content-Type", "application/json")
	return t.next.RoundTrip(r)
}

// applicationStateWord is an application's state as people read it: "needs info".
func applicationStateWord(s tenants.ApplicationState) string {
	return strings.ReplaceAll(string(s), "_", " ")
}

// applicationTime writes t in the terminal's time zone, to the minute.
func applicationTime(t time.Time) string { return t.Local().Format("2006-01-02 15:04") }

// applicationClaimNote says who works on an application until when; empty when nobody does.
func applicationClaimNote(a applicationItem) string {
	if a.Claim == nil {
		return ""
	}
	until := a.Claim.Until.Local().Format("15:04")
	if a.Claim.Until.Local().Format(time.DateOnly) != time.Now().Format(time.DateOnly) {
		until = applicationTime(a.Claim.Until)
	}
	return a.Claim.Moderator + " until " + until
}

func printApplicationList(w io.Writer, p applicationPage, state, search string, limit int) error {
	if len(p.Applications) == 0 {
		what := applicationStateWord(tenants.ApplicationState(state)) + " applications"
		if state == "all" {
			what = "applications"
		}
		if search != "" {
			what += " matching " + strconv.Quote(search)
		}
		fmt.Fprintf(w, "no %s\n", what)
	} else {
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tSTATE\tASSOCIATION\tADDRESS\tACCOUNTS\tRECEIVED\tCLAIMED BY")
		for _, a := range p.Applications {
			claim := applicationClaimNote(a)
			if claim == "" {
				claim = "—"
			}
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%d\t%s\t%s\n", a.ID, applicationStateWord(a.State), oneLine(a.AssociationName, 40), a.Slug,
				a.ExpectedAccounts, applicationTime(a.CreatedAt), claim)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	counts := make([]string, 0, len(tenants.ApplicationStates))
	for _, s := range tenants.ApplicationStates {
		counts = append(counts, fmt.Sprintf("%d %s", p.Counts[s], applicationStateWord(s)))
	}
	fmt.Fprintf(w, "\nIn all: %s\n", strings.Join(counts, ", "))
	if p.NextAfter != 0 {
		more := fmt.Sprintf("spaces application list --state %s --after %d", state, p.NextAfter)
		if search != "" {
			more += " --search " + strconv.Quote(search)
		}
		if limit != 50 {
			more += " --limit " + strconv.Itoa(limit)
		}
		fmt.Fprintf(w, "More: %s\n", more)
	}
	return nil
}

func printApplication(w io.Writer, v applicationView) error {
	a := v.Application
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "Application:\t#%d\n", a.ID)
	state := applicationStateWord(a.State) + " since " + applicationTime(a.StateChangedAt)
	if c := applicationClaimNote(a); c != "" {
		state += ", claimed by " + c
	}
	fmt.Fprintf(tw, "State:\t%s\n", state)
	kind := "SIREN"
	if strings.HasPrefix(a.LegalID, "W") {
		kind = "RNA"
	}
	fmt.Fprintf(tw, "Association:\t%s (%s %s)\n", a.AssociationName, kind, a.LegalID)
	fmt.Fprintf(tw, "Address:\t%s (%s)\n", a.Slug, a.Address)
	fmt.Fprintf(tw, "Contact:\t%s <%s>, writes in %s\n", a.ContactName, a.ContactEmail, localeName(a.Locale))
	fmt.Fprintf(tw, "Accounts:\t%d expected\n", a.ExpectedAccounts)
	fmt.Fprintf(tw, "Received:\t%s\n", applicationTime(a.CreatedAt))
	if s := v.Space; s != nil {
		space := fmt.Sprintf("%s, %s", s.Slug, s.State)
		if q := v.Queue; q != nil && q.Position > 0 {
			space += fmt.Sprintf(" (position %d on the waiting list)", q.Position)
		}
		fmt.Fprintf(tw, "Space:\t%s; spaces space show %s\n", space, s.Slug)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "\nPurpose:\n%s\n", indentLines(a.Purpose, "  "))
	fmt.Fprintf(w, "\nActivities:\n%s\n", indentLines(a.Activities, "  "))
	if a.DecisionReason != "" {
		fmt.Fprintf(w, "\nReason sent to the applicant:\n%s\n", indentLines(a.DecisionReason, "  "))
	}
	if len(v.Duplicates) > 0 {
		fmt.Fprintln(w, "\nPossible duplicates:")
		tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		for _, d := range v.Duplicates {
			var why []string
			if d.SameLegalID {
				why = append(why, "same identifier")
			}
			if d.SameEmail {
				why = append(why, "same email")
			}
			if d.SimilarName {
				why = append(why, "similar name")
			}
			fmt.Fprintf(tw, "  #%d\t%s\t%s\t%s\t%s\n", d.ID, applicationStateWord(d.State), oneLine(d.AssociationName, 40), d.Slug, strings.Join(why, ", "))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if len(v.Messages) > 0 {
		fmt.Fprintln(w, "\nConversation:")
		for _, m := range v.Messages {
			who := "the applicant"
			if m.Author == "moderator" {
				who = "the team"
				if m.Moderator != "" {
					who = m.Moderator
				}
			}
			fmt.Fprintf(w, "  %s  %s:\n%s\n", applicationTime(m.At), who, indentLines(m.Body, "    "))
		}
	}
	fmt.Fprintln(w, "\nHistory:")
	for _, h := range v.History {
		fmt.Fprintf(w, "  %s  %s\n", applicationTime(h.At), strings.ReplaceAll(h.Text, "\u00a0", " "))
	}
	return nil
}

// localeName names a locale for people.
func localeName(locale string) string {
	switch locale {
	case "fr":
		return "French"
	case "en":
		return "English"
	}
	return locale
}

// indentLines prefixes every line of s but the empty ones.
func indentLines(s, prefix string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		if l != "" {
			lines[i] = prefix + l
		}
	}
	return strings.Join(lines, "\n")
}

// completionTimeout bounds what a shell completion waits for the server.
const completionTimeout = 3 * time.Second

// applicationCompletionClient is an API client for shell completion, or nil when the settings are missing.
func applicationCompletionClient(cmd *cobra.Command) *apiClient {
	cfg, err := loadConfig(cmd)
	if err != nil {
		return nil
	}
	return &apiClient{base: cfg.APIAddr, token: cfg.APIToken, http: &http.Client{Timeout: completionTimeout}}
}

// completeApplicationIDs completes an application ID with those in states, in that order ("" is
// every state, newest first), each described by its name and state. Completion stays silent
// when the server cannot be asked.
func completeApplicationIDs(states ...tenants.ApplicationState) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		directive := cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveKeepOrder
		if len(args) > 0 {
			return nil, directive
		}
		api := applicationCompletionClient(cmd)
		if api == nil {
			return nil, directive
		}
		ctx, cancel := context.WithTimeout(cmd.Context(), completionTimeout)
		defer cancel()
		var out []cobra.Completion
		seen := map[int64]bool{}
		for _, s := range states {
			state := string(s)
			if s == "" {
				state = "all"
			}
			var page applicationPage
			if err := api.do(ctx, http.MethodGet, "/api/v1/applications?state="+state+"&limit=200", &page); err != nil {
				return out, directive
			}
			for _, a := range page.Applications {
				id := strconv.FormatInt(a.ID, 10)
				if seen[a.ID] || !strings.HasPrefix(id, toComplete) {
					continue
				}
				seen[a.ID] = true
				out = append(out, cobra.CompletionWithDesc(id, oneLine(a.AssociationName, 40)+" ("+applicationStateWord(a.State)+")"))
			}
		}
		return out, directive
	}
}

// completeRejectionReasons completes --reason with the saved reasons' titles.
func completeRejectionReasons(cmd *cobra.Command, _ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	directive := cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveKeepOrder
	api := applicationCompletionClient(cmd)
	if api == nil {
		return nil, directive
	}
	ctx, cancel := context.WithTimeout(cmd.Context(), completionTimeout)
	defer cancel()
	var v reasonList
	if err := api.do(ctx, http.MethodGet, "/api/v1/rejection-reasons", &v); err != nil {
		return nil, directive
	}
	var out []cobra.Completion
	for _, r := range v.Reasons {
		if strings.HasPrefix(strings.ToLower(r.Title), strings.ToLower(toComplete)) {
			out = append(out, cobra.CompletionWithDesc(r.Title, oneLine(r.TextEN, 60)))
		}
	}
	return out, directive
}
