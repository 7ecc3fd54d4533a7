package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/assospaces/spaces/quota"
	"github.com/assospaces/spaces/tenants"
)

// apiSettings are what the operators' API commands read.
var apiSettings = []string{"SPACES_ADDR", "SPACES_TOKEN", "SPACES_LOG_LEVEL", "SPACES_LOG_FORMAT"}

// sizeForms names the sizes --storage accepts, as the server reads them (quota.ParseSize).
const sizeForms = `a number of bytes (1073741824) or a number with a unit KB, MB, GB or TB (80GB, "80 GB", 1.5TB, 512mb); units are binary (1 GB = 1024³ bytes)`

// The states each decision is allowed from (tenants/lifecycle.go), for shell completion.
var (
	resizableStates = []tenants.SpaceState{tenants.SpaceQueued, tenants.SpaceProvisioning, tenants.SpaceActive, tenants.SpaceSuspended, tenants.SpaceFailed}
	deletableStates = resizableStates
)

func newSpaceCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "space",
		Short: "Inspect spaces and decide about them through the server's JSON API (SPACES_ADDR, SPACES_TOKEN)",
		Long: `Inspect spaces and decide about them through the server's JSON API (SPACES_ADDR, SPACES_TOKEN).
Decisions (resize, suspend, resume, delete, restore, retry) are recorded under the token in the
audit log, the association is mailed about a suspension, a resumption, a deletion and a restore,
and the reconciler applies them: --wait follows it until the space's new generation is observed.

Exit codes: 0 done, 1 refused or failed (the server's message), 2 a command used wrongly.`,
		Example: `  spaces space list --near-quota
  spaces space show jardins
  spaces space resize jardins --storage 80GB --wait
  spaces space suspend jardins --reason "Unpaid hosting since March"
  spaces space delete jardins --reason "The association dissolved"`,
	}
	cmd.AddCommand(newSpaceListCommand(), newSpaceShowCommand(), newSpaceRetryCommand(), newSpaceResizeCommand(),
		newSpaceSuspendCommand(), newSpaceResumeCommand(), newSpaceDeleteCommand(), newSpaceRestoreCommand())
	cmd.AddCommand(newSpaceExportCommand())
	return cmd
}

func newSpaceListCommand() *cobra.Command {
	var out *output
	var states []string
	var over, near bool
	c := &cobra.Command{
		Use:   "list [--state S] [--over-quota | --near-quota]",
		Short: "List spaces: slug, state, generation observed, limits, storage used, reason",
		Long: `List spaces: slug, state, generation observed of decided, accounts enabled of the limit, storage
limit and share used (as last measured), since when in this state, and why (a failure's reason, a
suspension's, or a deletion's with its purge date).

--over-quota keeps the spaces whose storage is full (uploads are refused) or that have more
accounts enabled than their limit. --near-quota keeps those whose storage is past 80 % (their
association was warned) or whose accounts reach 80 % of the limit; it includes those over quota.`,
		Example: `  spaces space list
  spaces space list --state failed
  spaces space list --state active,suspended --near-quota
  spaces space list --over-quota --output json`,
		Args: exactArgs(0, "no arguments"),
		PreRunE: func(cmd *cobra.Command, _ []string) error {
			for _, s := range states {
				if !tenants.SpaceState(s).Valid() {
					return usagef("space list: --state %q is not a state (queued, provisioning, active, suspended, deleting, deleted, failed)", s)
				}
			}
			if over && near {
				return usagef("space list: --over-quota and --near-quota cannot be combined: --near-quota already lists the spaces over quota")
			}
			return nil
		},
		RunE: withAPI(func(cmd *cobra.Command, _ []string, api *apiClient) error {
			q := url.Values{"state": states}
			switch {
			case over:
				q.Set("level", string(tenants.QuotaOver))
			case near:
				q.Set("level", string(tenants.QuotaNear))
			}
			all, err := listSpaces(cmd.Context(), api, q)
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if out.JSON() {
				return writeJSON(w, map[string]any{"spaces": all})
			}
			if len(all) == 0 {
				_, err := fmt.Fprintln(w, "no spaces")
				return err
			}
			tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "SLUG\tSTATE\tGENERATION\tACCOUNTS\tSTORAGE\tUSED\tSINCE\tREASON")
			for _, s := range all {
				fmt.Fprintf(tw, "%s\t%s\t%d/%d\t%s\t%s\t%s\t%s\t%s\n", s.Slug, s.State, s.ObservedGeneration, s.Generation,
					accountsColumn(s), quota.FormatSize(s.Limits.StorageBytes), usedColumn(s), s.StateChangedAt.Local().Format("2006-01-02 15:04"),
					reasonColumn(s.Space))
			}
			return tw.Flush()
		}),
	}
	c.Flags().StringSliceVar(&states, "state", nil, "only spaces in these states (repeatable or comma-separated)")
	c.Flags().BoolVar(&over, "over-quota", false, "only spaces whose storage is full or that have more accounts than their limit")
	c.Flags().BoolVar(&near, "near-quota", false, "only spaces past 80 % of their storage or accounts limit (those over quota included)")
	_ = c.RegisterFlagCompletionFunc("state", cobra.FixedCompletions(spaceStateNames(), cobra.ShellCompDirectiveNoFileComp))
	out = addOutputFlag(c)
	bindConfig(c, apiSettings...)
	return c
}

// listSpaces reads every page of GET /api/v1/spaces with the filters in q.
func listSpaces(ctx context.Context, api *apiClient, q url.Values) ([]spaceItem, error) {
	var all []spaceItem
	for after := int64(0); ; {
		q.Set("after", strconv.FormatInt(after, 10))
		q.Set("limit", "1000")
		var page struct {
			Spaces    []spaceItem `json:"spaces"`
			NextAfter int64       `json:"next_after"`
		}
		if err := api.do(ctx, http.MethodGet, "/api/v1/spaces?"+q.Encode(), &page); err != nil {
			return all, err
		}
		all = append(all, page.Spaces...)
		if page.NextAfter == 0 {
			return all, nil
		}
		after = page.NextAfter
	}
}

func spaceStateNames() []string {
	out := make([]string, len(tenants.SpaceStates))
	for i, s := range tenants.SpaceStates {
		out[i] = string(s)
	}
	return out
}

// reasonColumn is the list's REASON: why a space failed, was suspended or deleted (with its
// purge date).
func reasonColumn(s tenants.Space) string {
	switch {
	case s.State == tenants.SpaceDeleting && s.DeleteAfter != nil:
		return oneLine(s.DeleteReason, 50) + " (purge " + s.DeleteAfter.Local().Format("2006-01-02") + ")"
	case s.State == tenants.SpaceSuspended:
		return oneLine(s.SuspendReason, 60)
	}
	return oneLine(s.FailureReason, 60)
}

func newSpaceShowCommand() *cobra.Command {
	var out *output
	c := &cobra.Command{
		Use:   "show SLUG",
		Short: "Show one space: state and why, usage, conditions, generation, limits, queue position",
		Long: `Show one space: its state (with a failure's, a suspension's or a deletion's reason, the purge
date and the state a restore brings it back to), its place on the waiting list, its generation and the
one the reconciler observed, its limits, its usage as last measured, and its conditions.`,
		Example: `  spaces space show jardins
  spaces space show jardins --output json`,
		Args:              exactArgs(1, "SLUG"),
		ValidArgsFunction: completeSpaceSlugs(),
		RunE: withAPI(func(cmd *cobra.Command, args []string, api *apiClient) error {
			var v spaceView
			if err := api.do(cmd.Context(), http.MethodGet, spacePath(args[0], ""), &v); err != nil {
				return err
			}
			if out.JSON() {
				return writeJSON(cmd.OutOrStdout(), v)
			}
			return printSpace(cmd.OutOrStdout(), v)
		}),
	}
	out = addOutputFlag(c)
	bindConfig(c, apiSettings...)
	return c
}

func newSpaceRetryCommand() *cobra.Command {
	var out *output
	var wait *waitFlags
	c := &cobra.Command{
		Use:   "retry SLUG [--wait]",
		Short: "Queue a failed space for provisioning again; every step resumes from what exists",
		Example: `  spaces space retry jardins
  spaces space retry jardins --wait --timeout 20m`,
		Args:              exactArgs(1, "SLUG"),
		ValidArgsFunction: completeSpaceSlugs(tenants.SpaceFailed),
		RunE: withAPI(func(cmd *cobra.Command, args []string, api *apiClient) error {
			return decideSpace(cmd, api, args[0], "retry", "retried", nil, out, wait, func(d spaceView, final *spaceView) string {
				s := d.Space
				if final != nil {
					return fmt.Sprintf("space %s provisioned again (generation %d): %s.", s.Slug, s.Generation, final.Space.State)
				}
				return fmt.Sprintf("space %s is %s again (generation %d); follow it with: spaces space show %s", s.Slug, s.State, s.Generation, s.Slug)
			})
		}),
	}
	out, wait = addOutputFlag(c), addWaitFlags(c)
	bindConfig(c, apiSettings...)
	return c
}

func newSpaceResizeCommand() *cobra.Command {
	var out *output
	var wait *waitFlags
	var storage string
	var accounts int
	var force bool
	var body struct {
		Storage  string `json:"storage,omitempty"`
		Accounts int    `json:"accounts,omitempty"`
		Force    bool   `json:"force,omitempty"`
	}
	c := &cobra.Command{
		Use:   "resize SLUG [--storage SIZE] [--accounts N] [--force]",
		Short: "Change a space's storage or accounts limit; the reconciler applies it to Nextcloud",
		Long: `Change a space's storage limit (shared by its accounts), its accounts limit, or both. The
reconciler applies the new limits: the user limit in the jobspec and the quotas of every account.
A limit below what the space uses (as last measured) is refused unless --force: then nobody can
add files, or accounts, until some are removed. Deleting and deleted spaces cannot be resized.

--storage takes ` + sizeForms + `.`,
		Example: `  spaces space resize jardins --storage 80GB
  spaces space resize jardins --accounts 100 --wait
  spaces space resize jardins --storage "30 GB" --accounts 20 --force`,
		Args:              exactArgs(1, "SLUG"),
		ValidArgsFunction: completeSpaceSlugs(resizableStates...),
		PreRunE: func(cmd *cobra.Command, _ []string) error {
			path := cmd.CommandPath()
			storageSet, accountsSet := cmd.Flags().Changed("storage"), cmd.Flags().Changed("accounts")
			if !storageSet && !accountsSet {
				return usagef("%s: nothing to change: give --storage, --accounts or both (for example --storage 80GB)", path)
			}
			if storageSet {
				b, err := quota.ParseSize(storage)
				if err != nil {
					return usagef("%s: --storage %q is not a size; write %s", path, storage, sizeForms)
				}
				if err := (quota.Limits{StorageBytes: b, Accounts: 1}).Validate(); err != nil {
					return usagef("%s: --storage %q: %v", path, storage, err)
				}
				body.Storage = storage
			}
			if accountsSet {
				if err := (quota.Limits{StorageBytes: 1, Accounts: accounts}).Validate(); err != nil {
					return usagef("%s: --accounts %d: %v", path, accounts, err)
				}
				body.Accounts = accounts
			}
			body.Force = force
			return nil
		},
		RunE: withAPI(func(cmd *cobra.Command, args []string, api *apiClient) error {
			var before spaceView
			if err := api.do(cmd.Context(), http.MethodGet, spacePath(args[0], ""), &before); err != nil {
				return err
			}
			return decideSpace(cmd, api, args[0], "resize", "resized", body, out, wait, func(d spaceView, final *spaceView) string {
				return resizeSentence(before.Space, d, final)
			})
		}),
	}
	c.Flags().StringVar(&storage, "storage", "", "new storage limit, such as 80GB")
	c.Flags().IntVar(&accounts, "accounts", 0, "new accounts limit (1 to 100000)")
	c.Flags().BoolVar(&force, "force", false, "allow limits below what the space uses now")
	out, wait = addOutputFlag(c), addWaitFlags(c)
	bindConfig(c, apiSettings...)
	return c
}

// resizeSentence says what a resize decided (d, from the limits before) and, when final is set,
// that it was applied.
func resizeSentence(before tenants.Space, d spaceView, final *spaceView) string {
	s := d.Space
	var changes []string
	if b, a := before.Limits.StorageBytes, s.Limits.StorageBytes; a != b {
		changes = append(changes, "storage "+quota.FormatSize(b)+" → "+quota.FormatSize(a))
	}
	if b, a := before.Limits.Accounts, s.Limits.Accounts; a != b {
		changes = append(changes, fmt.Sprintf("accounts %d → %d", b, a))
	}
	msg := fmt.Sprintf("space %s resized (generation %d): %s", s.Slug, s.Generation, strings.Join(changes, ", "))
	if u := d.Usage; u != nil && u.Collected() && (s.Limits.StorageBytes < u.UsedBytes || s.Limits.Accounts < u.AccountsEnabled) {
		msg += ", below what it uses (forced)"
	}
	switch {
	case final != nil:
		return msg + "; Nextcloud's user limit and quotas now follow."
	case s.State == tenants.SpaceActive || s.State == tenants.SpaceSuspended:
		return msg + "; the reconciler applies it to Nextcloud's user limit and quotas."
	case s.State == tenants.SpaceFailed:
		return msg + "; it applies when the space is provisioned again (spaces space retry " + s.Slug + ")."
	}
	return msg + "; the space is provisioned with these limits."
}

func newSpaceSuspendCommand() *cobra.Command {
	var out *output
	var wait *waitFlags
	var reason string
	c := &cobra.Command{
		Use:   "suspend SLUG --reason TEXT",
		Short: "Suspend an active space: its people see Nextcloud's maintenance page, its data stays; the association is mailed the reason",
		Long: `Suspend an active space: its Nextcloud shows the maintenance page to everyone, its files and
accounts stay as they are. The association's contact is mailed --reason, which is required.
spaces space resume SLUG brings it back.`,
		Example: `  spaces space suspend jardins --reason "Unpaid hosting since March"
  spaces space suspend jardins --reason "Phishing pages reported on 2026-11-02" --wait`,
		Args:              exactArgs(1, "SLUG"),
		ValidArgsFunction: completeSpaceSlugs(tenants.SpaceActive),
		PreRunE:           requireReason(&reason),
		RunE: withAPI(func(cmd *cobra.Command, args []string, api *apiClient) error {
			return decideSpace(cmd, api, args[0], "suspend", "suspended", map[string]string{"reason": reason}, out, wait,
				func(d spaceView, final *spaceView) string {
					see := "see Nextcloud's maintenance page once the reconciler applies it"
					if final != nil {
						see = "now see Nextcloud's maintenance page"
					}
					return fmt.Sprintf("space %s suspended (generation %d); its people %s (their files stay); the contact was mailed the reason.",
						d.Space.Slug, d.Space.Generation, see)
				})
		}),
	}
	c.Flags().StringVar(&reason, "reason", "", "why (required): the association's contact is mailed it")
	out, wait = addOutputFlag(c), addWaitFlags(c)
	bindConfig(c, apiSettings...)
	return c
}

// requireReason checks that --reason was given, a usage error otherwise.
func requireReason(reason *string) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, _ []string) error {
		if strings.TrimSpace(*reason) == "" {
			return usagef("%s: --reason is required: the association's contact is mailed it", cmd.CommandPath())
		}
		return nil
	}
}

func newSpaceResumeCommand() *cobra.Command {
	var out *output
	var wait *waitFlags
	c := &cobra.Command{
		Use:   "resume SLUG",
		Short: "Resume a suspended space: its people can use Nextcloud again; the association is mailed",
		Example: `  spaces space resume jardins
  spaces space resume jardins --wait`,
		Args:              exactArgs(1, "SLUG"),
		ValidArgsFunction: completeSpaceSlugs(tenants.SpaceSuspended),
		RunE: withAPI(func(cmd *cobra.Command, args []string, api *apiClient) error {
			return decideSpace(cmd, api, args[0], "resume", "resumed", nil, out, wait, func(d spaceView, final *spaceView) string {
				when := " once the reconciler applies it"
				if final != nil {
					when = ""
				}
				return fmt.Sprintf("space %s resumed (generation %d); its people can use Nextcloud again%s; the contact was mailed.",
					d.Space.Slug, d.Space.Generation, when)
			})
		}),
	}
	out, wait = addOutputFlag(c), addWaitFlags(c)
	bindConfig(c, apiSettings...)
	return c
}

func newSpaceDeleteCommand() *cobra.Command {
	var out *output
	var wait *waitFlags
	var reason string
	c := &cobra.Command{
		Use:   "delete SLUG --reason TEXT",
		Short: "Delete a space softly: stopped at once, purged after the grace period unless restored; the association is mailed",
		Long: `Delete a space softly: its job is stopped and its data kept for the grace period
(SPACES_DELETE_GRACE on the server, 30 days by default); then the purge removes its Nextcloud, its
database and the personal data kept about it. Until then spaces space restore SLUG brings it back
in the state it had. Its place under the capacity ceiling goes to the next space waiting. The
association's contact is mailed --reason, which is required, and the purge date (not for a space
still queued).`,
		Example: `  spaces space delete jardins --reason "The association dissolved"
  spaces space delete jardins --reason "Asked by its board on 2026-11-02" --wait`,
		Args:              exactArgs(1, "SLUG"),
		ValidArgsFunction: completeSpaceSlugs(deletableStates...),
		PreRunE:           requireReason(&reason),
		RunE: withAPI(func(cmd *cobra.Command, args []string, api *apiClient) error {
			var before spaceView
			if err := api.do(cmd.Context(), http.MethodGet, spacePath(args[0], ""), &before); err != nil {
				return err
			}
			return decideSpace(cmd, api, args[0], "delete", "deleted", map[string]string{"reason": reason}, out, wait,
				func(d spaceView, final *spaceView) string {
					return deleteSentence(before.Space.State, d.Space, final != nil)
				})
		}),
	}
	c.Flags().StringVar(&reason, "reason", "", "why (required): the association's contact is mailed it")
	out, wait = addOutputFlag(c), addWaitFlags(c)
	bindConfig(c, apiSettings...)
	return c
}

// deleteSentence says what deleting a space that was in state before did, and until when it
// can be restored.
func deleteSentence(before tenants.SpaceState, s tenants.Space, stopped bool) string {
	until := "the purge"
	if s.DeleteAfter != nil {
		until = s.DeleteAfter.Local().Format("2006-01-02 15:04 MST")
	}
	if before == tenants.SpaceQueued {
		return fmt.Sprintf("space %s deleted (generation %d) before it was provisioned; it can be restored to the queue until %s "+
			"(spaces space restore %s), then it is purged. Nothing was mailed: the space had not started.", s.Slug, s.Generation, until, s.Slug)
	}
	job := "its job is being stopped"
	if stopped {
		job = "its job is stopped"
	}
	return fmt.Sprintf("space %s deleted (generation %d); %s and its data kept until %s, then purged: until then spaces space restore %s "+
		"brings it back as %s. The contact was mailed.", s.Slug, s.Generation, job, until, s.Slug, s.RestoreState)
}

func newSpaceRestoreCommand() *cobra.Command {
	var out *output
	var wait *waitFlags
	c := &cobra.Command{
		Use:   "restore SLUG",
		Short: "Restore a deleted space before its purge, in the state it had; the association is mailed",
		Long: `Restore a space deleted less than the grace period ago: it goes back to the state it had
(active, suspended, failed, or queued when it was not provisioned yet) and its job runs again.
Once the grace period is over the space is purged and cannot be restored.`,
		Example: `  spaces space restore jardins
  spaces space restore jardins --wait`,
		Args:              exactArgs(1, "SLUG"),
		ValidArgsFunction: completeSpaceSlugs(tenants.SpaceDeleting),
		RunE: withAPI(func(cmd *cobra.Command, args []string, api *apiClient) error {
			return decideSpace(cmd, api, args[0], "restore", "restored", nil, out, wait, restoreSentence)
		}),
	}
	out, wait = addOutputFlag(c), addWaitFlags(c)
	bindConfig(c, apiSettings...)
	return c
}

// restoreSentence says what a restore did, by the state the space went back to.
func restoreSentence(d spaceView, final *spaceView) string {
	s := d.Space
	switch s.State {
	case tenants.SpaceQueued:
		if final != nil {
			return fmt.Sprintf("space %s restored (generation %d) and provisioned again: %s.", s.Slug, s.Generation, final.Space.State)
		}
		return fmt.Sprintf("space %s restored (generation %d): queued again, it is provisioned when its turn comes.", s.Slug, s.Generation)
	case tenants.SpaceSuspended:
		return fmt.Sprintf("space %s restored as suspended, as it was before its deletion (generation %d); its people see Nextcloud's "+
			"maintenance page until spaces space resume %s; the contact was mailed.", s.Slug, s.Generation, s.Slug)
	case tenants.SpaceFailed:
		return fmt.Sprintf("space %s restored as failed, as it was before its deletion (generation %d); spaces space retry %s "+
			"provisions it again; the contact was mailed.", s.Slug, s.Generation, s.Slug)
	}
	when := " once the reconciler starts its job"
	if final != nil {
		when = ""
	}
	return fmt.Sprintf("space %s restored as %s (generation %d); its people can use Nextcloud again%s; the contact was mailed.",
		s.Slug, s.State, s.Generation, when)
}

// decideSpace posts a decision (action: resize, suspend, …; body nil for none) about slug, waits
// for the reconciler to apply it when --wait asks, and prints what happened: say's sentence, or
// the space as JSON. say gets the space as the decision left it, and final, the space as last
// seen, when the wait saw the decision applied. done is the decision in words, for errors.
func decideSpace(cmd *cobra.Command, api *apiClient, slug, action, done string, body any, out *output, wait *waitFlags,
	say func(d spaceView, final *spaceView) string) error {
	var d spaceView
	if err := api.post(cmd.Context(), spacePath(slug, "/"+action), body, &d); err != nil {
		return err
	}
	var final *spaceView
	if wait.wait {
		v, err := waitApplied(cmd.Context(), api, d, wait.timeout, cmd.ErrOrStderr())
		if err != nil {
			return fmt.Errorf("space %s %s (generation %d), but %w", slug, done, d.Space.Generation, err)
		}
		final = &v
	}
	w := cmd.OutOrStdout()
	if out.JSON() {
		if final != nil {
			return writeJSON(w, final)
		}
		return writeJSON(w, d)
	}
	_, err := fmt.Fprintln(w, say(d, final))
	return err
}

// spacePath is the API path of space slug followed by suffix.
func spacePath(slug, suffix string) string { return "/api/v1/spaces/" + url.PathEscape(slug) + suffix }

// completeSpaceSlugs completes a SLUG with the spaces in states (every space when none), each
// described by its association's name and state. Completion stays silent when the server cannot
// be asked.
func completeSpaceSlugs(states ...tenants.SpaceState) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		directive := cobra.ShellCompDirectiveNoFileComp
		if len(args) > 0 {
			return nil, directive
		}
		cfg, err := loadConfig(cmd)
		if err != nil {
			return nil, directive
		}
		api := &apiClient{base: cfg.APIAddr, token: cfg.APIToken, http: &http.Client{Timeout: completionTimeout}}
		ctx := cmd.Context()
		if ctx == nil {
			ctx = context.Background()
		}
		ctx, cancel := context.WithTimeout(ctx, completionTimeout)
		defer cancel()
		q := url.Values{}
		for _, s := range states {
			q.Add("state", string(s))
		}
		spaces, _ := listSpaces(ctx, api, q)
		var out []cobra.Completion
		for _, s := range spaces {
			if strings.HasPrefix(s.Slug, toComplete) {
				out = append(out, cobra.CompletionWithDesc(s.Slug, oneLine(s.AssociationName, 40)+" ("+string(s.State)+")"))
			}
		}
		return out, directive
	}
}

// spaceView is the API's answer about one space.
type spaceView struct {
	Space   tenants.Space              `json:"space"`
	Queue   *tenants.WaitingListStatus `json:"waiting_list,omitempty"`
	Usage   *tenants.Usage             `json:"usage"` // nil: never measured
	History []tenants.UsagePoint       `json:"history"`
	// Decisions are the space's last audit entries, newest first.
	Decisions []auditItem `json:"decisions"`
}

// spaceItem is a space in the API's list: the space and its usage (nil: never measured).
type spaceItem struct {
	tenants.Space
	Usage *tenants.Usage `json:"usage"`
}

// usedColumn is the list's USED: the share of the storage limit used, "—" when never measured,
// marked stale when the last measurement failed.
func usedColumn(s spaceItem) string {
	u := s.Usage
	used := "—"
	if u != nil && u.Collected() {
		used = percent(u.UsedBytes, s.Limits.StorageBytes)
	}
	if u != nil && u.Stale() {
		used += " stale"
	}
	return used
}

// accountsColumn is the list's ACCOUNTS: enabled of the limit, or the limit alone before the
// first measurement.
func accountsColumn(s spaceItem) string {
	if s.Usage == nil || !s.Usage.Collected() {
		return fmt.Sprintf("—/%d", s.Limits.Accounts)
	}
	return fmt.Sprintf("%d/%d", s.Usage.AccountsEnabled, s.Limits.Accounts)
}

// percent writes used as a whole percentage of limit, rounded down so that 80 % means the 80 %
// level is reached.
func percent(used, limit int64) string {
	return strconv.FormatInt(int64(math.Floor(quota.Percent(used, limit))), 10) + " %"
}

// storageBar draws used of limit in 20 cells: [#################...].
func storageBar(used, limit int64) string {
	full := min(int(quota.Percent(used, limit)/5), 20)
	return "[" + strings.Repeat("#", full) + strings.Repeat(".", 20-full) + "]"
}

// levelNote says what the storage level means for the association; empty below 80 %.
func levelNote(l quota.Level) string {
	switch l {
	case quota.LevelWarn80:
		return ", past 80 % (the association was warned)"
	case quota.LevelWarn90:
		return ", past 90 % (the association was warned)"
	case quota.LevelFull:
		return ", FULL: uploads are refused"
	}
	return ""
}

// printUsage writes the usage part of show: the measurement's date or why it is stale, the
// storage bar, accounts, active users and the history in one line.
func printUsage(w io.Writer, s tenants.Space, u *tenants.Usage, history []tenants.UsagePoint) error {
	const when = "2006-01-02 15:04"
	switch {
	case u == nil:
		_, err := fmt.Fprintln(w, "\nUsage: never measured")
		return err
	case u.Collected() && u.Stale():
		fmt.Fprintf(w, "\nUsage: STALE, figures from %s; not reachable since %s: %s\n", u.CollectedAt.Local().Format(when),
			u.StaleSince.Local().Format(when), oneLine(u.StaleReason, 200))
	case u.Stale():
		_, err := fmt.Fprintf(w, "\nUsage: never measured; not reachable since %s: %s\n", u.StaleSince.Local().Format(when),
			oneLine(u.StaleReason, 200))
		return err
	default:
		fmt.Fprintf(w, "\nUsage (measured %s):\n", u.CollectedAt.Local().Format(when))
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "  storage\t%s  %s of %s (%s)%s\n", storageBar(u.UsedBytes, s.Limits.StorageBytes), quota.FormatSize(u.UsedBytes),
		quota.FormatSize(s.Limits.StorageBytes), percent(u.UsedBytes, s.Limits.StorageBytes), levelNote(u.Level))
	accounts := fmt.Sprintf("%d of %d accounts enabled", u.AccountsEnabled, s.Limits.Accounts)
	if u.AccountsDisabled > 0 {
		accounts += fmt.Sprintf(", %d disabled", u.AccountsDisabled)
	}
	if u.AccountsEnabled >= s.Limits.Accounts {
		accounts += " (limit reached)"
	}
	fmt.Fprintf(tw, "  accounts\t%s\n", accounts)
	fmt.Fprintf(tw, "  active users\t%d in the last 24 hours, %d in the last month\n", u.ActiveUsersDay, u.ActiveUsersMonth)
	if len(history) > 0 {
		first, last, top := history[0], history[len(history)-1], history[0]
		for _, p := range history {
			if p.UsedBytes > top.UsedBytes {
				top = p
			}
		}
		day := func(p tenants.UsagePoint) string { return p.At.UTC().Format(time.DateOnly) }
		if len(history) == 1 {
			fmt.Fprintf(tw, "  history\t1 day: %s on %s\n", quota.FormatSize(last.UsedBytes), day(last))
		} else {
			fmt.Fprintf(tw, "  history\t%d days: from %s on %s to %s on %s, highest %s on %s\n", len(history),
				quota.FormatSize(first.UsedBytes), day(first), quota.FormatSize(last.UsedBytes), day(last),
				quota.FormatSize(top.UsedBytes), day(top))
		}
	}
	return tw.Flush()
}

// conditionMark tells at a glance whether a condition is good news: most are good when True,
// Drifted when False; a new generation being applied or storage past a warning is "~".
func conditionMark(c tenants.Condition) string {
	switch {
	case c.Status != "True" && c.Status != "False":
		return "?"
	case c.Type == "Drifted" && c.Reason == "NewGeneration",
		c.Type == "StorageWithinLimit" && (c.Reason == "Above80Percent" || c.Reason == "Above90Percent"):
		return "~"
	case (c.Status == "True") != (c.Type == "Drifted"):
		return "ok"
	}
	return "!!"
}

func printSpace(w io.Writer, v spaceView) error {
	s := v.Space
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "Space:\t%s (id %d)\n", s.Slug, s.ID)
	fmt.Fprintf(tw, "Association:\t%s <%s>\n", s.AssociationName, s.ContactEmail)
	fmt.Fprintf(tw, "State:\t%s since %s\n", s.State, s.StateChangedAt.Local().Format(time.DateTime))
	if s.FailureReason != "" {
		fmt.Fprintf(tw, "Failure reason:\t%s\n", s.FailureReason)
	}
	printLifecycle(tw, s, time.Now())
	if q := v.Queue; q != nil {
		ceiling := "no ceiling"
		if q.Capacity > 0 {
			ceiling = fmt.Sprintf("%d of %d places taken", q.InUse, q.Capacity)
		}
		waiting := "waiting for a worker"
		if q.WaitingForRoom {
			waiting = "waiting for room"
		}
		fmt.Fprintf(tw, "Waiting list:\tposition %d, %s (%s)\n", q.Position, waiting, ceiling)
	}
	fmt.Fprintf(tw, "Nomad job:\tspace-%s%s\n", s.Slug, allocationNote(s))
	fmt.Fprintf(tw, "Generation:\t%d (observed %d)\n", s.Generation, s.ObservedGeneration)
	fmt.Fprintf(tw, "Limits:\t%d accounts, %s\n", s.Limits.Accounts, quota.FormatSize(s.Limits.StorageBytes))
	fmt.Fprintf(tw, "Created:\t%s\n", s.CreatedAt.Local().Format(time.DateTime))
	if err := tw.Flush(); err != nil {
		return err
	}
	if err := printUsage(w, s, v.Usage, v.History); err != nil {
		return err
	}
	if len(s.Conditions) == 0 {
		fmt.Fprintln(w, "\nConditions: none observed yet")
	} else {
		fmt.Fprintln(w, "\nConditions (ok good, !! a problem, ~ worth a look):")
		tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		for _, c := range s.Conditions {
			fmt.Fprintf(tw, "  %s\t%s=%s\t%s\tsince %s\t%s\n", conditionMark(c), c.Type, c.Status, c.Reason,
				c.Since.Local().Format("2006-01-02 15:04"), oneLine(c.Message, 100))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if len(v.Decisions) == 0 {
		return nil
	}
	fmt.Fprintf(w, "\nDecisions (the last %d, newest first; all of them: spaces audit list --space %s):\n", len(v.Decisions), s.Slug)
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, e := range v.Decisions {
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", e.At.Local().Format("2006-01-02 15:04"), e.actorColumn(), e.Action,
			e.statesColumn(), oneLine(dashIfEmpty(e.DetailText), 100))
	}
	return tw.Flush()
}

// allocationNote is where the space's job runs, from its Healthy condition: " (allocation
// 4f2a1b9c at 10.0.3.12:23456)", or "" when none is healthy.
func allocationNote(s tenants.Space) string {
	for _, c := range s.Conditions {
		if c.Type == "Healthy" && c.Status == "True" {
			return " (" + c.Message + ")"
		}
	}
	return ""
}

// printLifecycle writes what operators decided about a space's life: why it was suspended, why
// it was deleted, when it will be purged and what a restore brings back, or when it was purged.
func printLifecycle(tw io.Writer, s tenants.Space, now time.Time) {
	if s.SuspendReason != "" {
		fmt.Fprintf(tw, "Suspended because:\t%s\n", oneLine(s.SuspendReason, 300))
	}
	if s.State == tenants.SpaceDeleting {
		fmt.Fprintf(tw, "Deleted because:\t%s\n", oneLine(s.DeleteReason, 300))
		if s.DeleteAfter != nil {
			fmt.Fprintf(tw, "Purge:\tafter %s (%s)\n", s.DeleteAfter.Local().Format("2006-01-02 15:04 MST"), untilText(*s.DeleteAfter, now))
		}
		fmt.Fprintf(tw, "Restore:\tback to %s with: spaces space restore %s (until the purge)\n", s.RestoreState, s.Slug)
	}
	if s.PurgedAt != nil {
		fmt.Fprintf(tw, "Purged:\t%s: its Nextcloud, its database and its personal data are gone\n", s.PurgedAt.Local().Format(time.DateTime))
	}
}

// untilText says how long until t, in days past two: "in 30 days", "in 5h0m0s", "due now".
func untilText(t, now time.Time) string {
	d := t.Sub(now)
	switch {
	case d <= 0:
		return "due now"
	case d < 48*time.Hour:
		return "in " + d.Round(time.Minute).String()
	}
	return fmt.Sprintf("in %d days", int(math.Round(d.Hours()/24)))
}

func oneLine(s string, max int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > max {
		return string(r[:max-1]) + "…"
	}
	return s
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// apiClient calls the server's JSON API with the operator token.
type apiClient struct {
	base  *url.URL
	token string
	http  *http.Client
}

// withAPI runs fn with an API client built from SPACES_ADDR and SPACES_TOKEN.
func withAPI(fn func(cmd *cobra.Command, args []string, api *apiClient) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		cfg, err := loadConfig(cmd)
		if err != nil {
			return err
		}
		return fn(cmd, args, &apiClient{base: cfg.APIAddr, token: cfg.APIToken, http: &http.Client{Timeout: 30 * time.Second}})
	}
}

// apiCallError is an error answer of the API.
type apiCallError struct {
	Status  int
	Code    string
	Message string
	Field   string
}

func (e *apiCallError) Error() string {
	msg := e.Message
	if e.Field != "" {
		msg += " (" + e.Field + ")"
	}
	if e.Status == http.StatusUnauthorized {
		msg += "; check SPACES_TOKEN"
	}
	return fmt.Sprintf("%s [%s, HTTP %d]", msg, e.Code, e.Status)
}

// do sends a request and decodes a 2xx JSON answer into out, or returns the API's error.
func (a *apiClient) do(ctx context.Context, method, path string, out any) error {
	return a.send(ctx, method, path, nil, out)
}

// post is do with in sent as the JSON body (none when in is nil).
func (a *apiClient) post(ctx context.Context, path string, in, out any) error {
	if in == nil {
		return a.send(ctx, http.MethodPost, path, nil, out)
	}
	body, err := json.Marshal(in)
	if err != nil {
		return fmt.Errorf("encode the request to %s: %w", path, err)
	}
	return a.send(ctx, http.MethodPost, path, body, out)
}

// send sends a request with body as its JSON body (none when nil) and decodes a 2xx JSON answer
// into out, or returns the API's error.
func (a *apiClient) send(ctx context.Context, method, path string, body []byte, out any) error {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, a.base.String()+path, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+a.token)
	req.Header.Set("Accept", "application/json")
	resp, err := a.http.Do(req)
	if err != nil {
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err
		}
		return fmt.Errorf("cannot reach the server at %s (SPACES_ADDR): %w", a.base, err)
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("read the answer of %s: %w", a.base, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		var e struct {
			Error apiCallError `json:"error"`
		}
		if json.Unmarshal(answer, &e) != nil || e.Error.Code == "" {
			return fmt.Errorf("%s %s: HTTP %d from %s (is SPACES_ADDR the spaces server?)", method, path, resp.StatusCode, a.base)
		}
		e.Error.Status = resp.StatusCode
		return &e.Error
	}
	if err := json.Unmarshal(answer, out); err != nil {
		return fmt.Errorf("decode the answer of %s: %w", a.base, err)
	}
	return nil
}
