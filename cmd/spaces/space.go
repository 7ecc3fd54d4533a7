package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
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
	var asJSON bool
	var states []string

	list := &cobra.Command{
		Use:   "list",
		Short: "List spaces: slug, state, generation observed, limits, failure reason",
		Args:  cobra.NoArgs,
		RunE: withAPI(func(cmd *cobra.Command, _ []string, api *apiClient) error {
			q := url.Values{}
			for _, s := range states {
				if !tenants.SpaceState(s).Valid() {
					return usagef("space list: --state %q is not a state (queued, provisioning, active, suspended, deleting, deleted, failed)", s)
				}
				q.Add("state", s)
			}
			var all []tenants.Space
			for after := int64(0); ; {
				q.Set("after", strconv.FormatInt(after, 10))
				q.Set("limit", "1000")
				var page struct {
					Spaces    []tenants.Space `json:"spaces"`
					NextAfter int64           `json:"next_after"`
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
			if asJSON {
				return writeJSON(out, map[string]any{"spaces": all})
			}
			if len(all) == 0 {
				_, err := fmt.Fprintln(out, "no spaces")
				return err
			}
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "SLUG\tSTATE\tGENERATION\tACCOUNTS\tSTORAGE\tSINCE\tREASON")
			for _, s := range all {
				fmt.Fprintf(tw, "%s\t%s\t%d/%d\t%d\t%s\t%s\t%s\n", s.Slug, s.State, s.ObservedGeneration, s.Generation,
					s.Limits.Accounts, quota.FormatSize(s.Limits.StorageBytes), s.StateChangedAt.Local().Format("2006-01-02 15:04"),
					oneLine(s.FailureReason, 60))
			}
			return tw.Flush()
		}),
	}
	list.Flags().StringSliceVar(&states, "state", nil, "only spaces in these states (repeatable or comma-separated)")

	show := &cobra.Command{
		Use:   "show SLUG",
		Short: "Show one space: state, failure reason, conditions, generation, limits, queue position",
		Args:  exactArgs(1, "SLUG"),
		RunE: withAPI(func(cmd *cobra.Command, args []string, api *apiClient) error {
			var v spaceView
			if err := api.do(cmd.Context(), http.MethodGet, "/api/v1/spaces/"+url.PathEscape(args[0]), &v); err != nil {
				return err
			}
			if asJSON {
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
			if asJSON {
				return writeJSON(cmd.OutOrStdout(), v)
			}
			_, err := fmt.Fprintf(cmd.OutOrStdout(), "space %s is %s again (generation %d); follow it with: spaces space show %s\n",
				v.Space.Slug, v.Space.State, v.Space.Generation, v.Space.Slug)
			return err
		}),
	}

	for _, c := range []*cobra.Command{list, show, retry} {
		c.Flags().BoolVar(&asJSON, "json", false, "print the API's JSON instead of text")
		bindConfig(c, apiSettings...)
		cmd.AddCommand(c)
	}
	return cmd
}

// spaceView is the API's answer about one space.
type spaceView struct {
	Space tenants.Space        `json:"space"`
	Queue *tenants.QueueStatus `json:"queue,omitempty"`
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
	if len(s.Conditions) == 0 {
		_, err := fmt.Fprintln(w, "\nConditions: none observed yet")
		return err
	}
	fmt.Fprintln(w, "\nConditions:")
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  TYPE\tSTATUS\tREASON\tSINCE\tMESSAGE")
	for _, c := range s.Conditions {
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", c.Type, c.Status, c.Reason, c.Since.Local().Format(time.DateTime), oneLine(c.Message, 100))
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
