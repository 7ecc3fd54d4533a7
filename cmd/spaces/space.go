package main

import (
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

func newSpaceCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "space", Short: "Inspect and retry spaces through the server's JSON API (SPACES_ADDR, SPACES_TOKEN)"}
	var listOut, showOut, retryOut *output
	var states []string

	list := &cobra.Command{
		Use:   "list",
		Short: "List spaces: slug, state, generation observed, limits, storage used, failure reason",
		Args:  cobra.NoArgs,
		RunE: withAPI(func(cmd *cobra.Command, _ []string, api *apiClient) error {
			q := url.Values{}
			for _, s := range states {
				if !tenants.SpaceState(s).Valid() {
					return usagef("space list: --state %q is not a state (queued, provisioning, active, suspended, deleting, deleted, failed)", s)
				}
				q.Add("state", s)
			}
			var all []spaceItem
			for after := int64(0); ; {
				q.Set("after", strconv.FormatInt(after, 10))
				q.Set("limit", "1000")
				var page struct {
					Spaces    []spaceItem `json:"spaces"`
					NextAfter int64       `json:"next_after"`
				}
				if err := api.do(cmd.Context(), http.MethodGet, "/api/v1/spaces?"+q.Encode(), &page); err != nil {
					return err
				}
				all = append(all, page.Spaces...)
				if page.NextAfter == 0 {
					break
				}
				after = page.NextAfter
			}
			out := cmd.OutOrStdout()
			if listOut.JSON() {
				return writeJSON(out, map[string]any{"spaces": all})
			}
			if len(all) == 0 {
				_, err := fmt.Fprintln(out, "no spaces")
				return err
			}
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "SLUG\tSTATE\tGENERATION\tACCOUNTS\tSTORAGE\tUSED\tSINCE\tREASON")
			for _, s := range all {
				fmt.Fprintf(tw, "%s\t%s\t%d/%d\t%s\t%s\t%s\t%s\t%s\n", s.Slug, s.State, s.ObservedGeneration, s.Generation,
					accountsColumn(s), quota.FormatSize(s.Limits.StorageBytes), usedColumn(s), s.StateChangedAt.Local().Format("2006-01-02 15:04"),
					oneLine(s.FailureReason, 60))
			}
			return tw.Flush()
		}),
	}
	list.Flags().StringSliceVar(&states, "state", nil, "only spaces in these states (repeatable or comma-separated)")

	show := &cobra.Command{
		Use:   "show SLUG",
		Short: "Show one space: state, failure reason, usage, conditions, generation, limits, queue position",
		Args:  exactArgs(1, "SLUG"),
		RunE: withAPI(func(cmd *cobra.Command, args []string, api *apiClient) error {
			var v spaceView
			if err := api.do(cmd.Context(), http.MethodGet, "/api/v1/spaces/"+url.PathEscape(args[0]), &v); err != nil {
				return err
			}
			if showOut.JSON() {
				return writeJSON(cmd.OutOrStdout(), v)
			}
			return printSpace(cmd.OutOrStdout(), v)
		}),
	}

	retry := &cobra.Command{
		Use:   "retry SLUG",
		Short: "Queue a failed space for provisioning again; every step resumes from what exists",
		Args:  exactArgs(1, "SLUG"),
		RunE: withAPI(func(cmd *cobra.Command, args []string, api *apiClient) error {
			var v spaceView
			if err := api.do(cmd.Context(), http.MethodPost, "/api/v1/spaces/"+url.PathEscape(args[0])+"/retry", &v); err != nil {
				return err
			}
			if retryOut.JSON() {
				return writeJSON(cmd.OutOrStdout(), v)
			}
			_, err := fmt.Fprintf(cmd.OutOrStdout(), "space %s is %s again (generation %d); follow it with: spaces space show %s\n",
				v.Space.Slug, v.Space.State, v.Space.Generation, v.Space.Slug)
			return err
		}),
	}

	listOut, showOut, retryOut = addOutputFlag(list), addOutputFlag(show), addOutputFlag(retry)
	for _, c := range []*cobra.Command{list, show, retry} {
		bindConfig(c, apiSettings...)
		cmd.AddCommand(c)
	}
	return cmd
}

// spaceView is the API's answer about one space.
type spaceView struct {
	Space   tenants.Space        `json:"space"`
	Queue   *tenants.QueueStatus `json:"queue,omitempty"`
	Usage   *tenants.Usage       `json:"usage"` // nil: never measured
	History []tenants.UsagePoint `json:"history"`
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
	if q := v.Queue; q != nil {
		ceiling := "no ceiling"
		if q.Capacity > 0 {
			ceiling = fmt.Sprintf("%d of %d places taken", q.InUse, q.Capacity)
		}
		waiting := "waiting for a worker"
		if q.WaitingForRoom {
			waiting = "waiting for room"
		}
		fmt.Fprintf(tw, "Queue:\tposition %d, %s (%s)\n", q.Position, waiting, ceiling)
	}
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
		_, err := fmt.Fprintln(w, "\nConditions: none observed yet")
		return err
	}
	fmt.Fprintln(w, "\nConditions (ok good, !! a problem, ~ worth a look):")
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, c := range s.Conditions {
		fmt.Fprintf(tw, "  %s\t%s=%s\t%s\tsince %s\t%s\n", conditionMark(c), c.Type, c.Status, c.Reason,
			c.Since.Local().Format("2006-01-02 15:04"), oneLine(c.Message, 100))
	}
	return tw.Flush()
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
	req, err := http.NewRequestWithContext(ctx, method, a.base.String()+path, nil)
	if err != nil {
		return err
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
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("read the answer of %s: %w", a.base, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		var e struct {
			Error apiCallError `json:"error"`
		}
		if json.Unmarshal(body, &e) != nil || e.Error.Code == "" {
			return fmt.Errorf("%s %s: HTTP %d from %s (is SPACES_ADDR the spaces server?)", method, path, resp.StatusCode, a.base)
		}
		e.Error.Status = resp.StatusCode
		return &e.Error
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("decode the answer of %s: %w", a.base, err)
	}
	return nil
}
