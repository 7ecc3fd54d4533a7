package main

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/assospaces/spaces/tenants"
)

func newAuditCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "audit",
		Short:   "Read the audit log through the server's JSON API (SPACES_ADDR, SPACES_TOKEN)",
		Example: `  spaces audit list --space jardins-belleville`,
	}

	var space, actor, since string
	var limit int
	var sinceAt time.Time
	var listOut *output
	list := &cobra.Command{
		Use:   "list",
		Short: "List audit entries, newest first: when, who (by name), what, on what, from which state to which",
		Long: `List audit entries, newest first: when, who, what, on what, from which state to which, and the
details. Who is the name of the API token or the moderator (with the actor as the log writes it:
token:3, moderator:5), or applicant, system:reconciler, cli:USER.

--space keeps the entries about a space and the application it came from. --actor takes an API
token's name, a moderator's email or an actor as the log writes it. --since takes a number of days
(7d), a duration (12h), a date (2026-11-01, from midnight local time) or an RFC 3339 time.`,
		Example: `  spaces audit list
  spaces audit list --space jardins-belleville
  spaces audit list --actor ops --since 7d
  spaces audit list --actor alex@example.org --since 2026-11-01 --limit 500
  spaces audit list --actor system:reconciler --output json`,
		Args: exactArgs(0, "no arguments"),
		PreRunE: func(cmd *cobra.Command, _ []string) error {
			if limit < 1 {
				return usagef("%s: --limit %d is not a number of entries; use a whole number from 1", cmd.CommandPath(), limit)
			}
			if since == "" {
				return nil
			}
			t, err := tenants.ParseSince(since, time.Now(), time.Local)
			if err != nil {
				return usagef("%s: --since %q is not a time; use a number of days such as 7d, a duration such as 12h or a date such as 2026-11-01",
					cmd.CommandPath(), since)
			}
			sinceAt = t
			return nil
		},
		RunE: withAPI(func(cmd *cobra.Command, _ []string, api *apiClient) error {
			q := url.Values{}
			if space != "" {
				q.Set("space", space)
			}
			if actor != "" {
				q.Set("actor", actor)
			}
			if !sinceAt.IsZero() {
				q.Set("since", sinceAt.Format(time.RFC3339Nano))
			}
			var all []auditItem
			more := false
			for after := int64(0); len(all) < limit; {
				q.Set("after", strconv.FormatInt(after, 10))
				q.Set("limit", strconv.Itoa(min(limit-len(all), tenants.MaxAuditLimit)))
				var page struct {
					Entries   []auditItem `json:"entries"`
					NextAfter int64       `json:"next_after"`
				}
				if err := api.do(cmd.Context(), http.MethodGet, "/api/v1/audit?"+q.Encode(), &page); err != nil {
					return err
				}
				all = append(all, page.Entries...)
				if page.NextAfter == 0 {
					break
				}
				after, more = page.NextAfter, len(all) >= limit
			}
			out := cmd.OutOrStdout()
			if listOut.JSON() {
				if all == nil {
					all = []auditItem{}
				}
				return writeJSON(out, map[string]any{"entries": all})
			}
			if len(all) == 0 {
				_, err := fmt.Fprintln(out, "no audit entries")
				return err
			}
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "AT\tACTOR\tACTION\tSUBJECT\tFROM→TO\tDETAIL")
			for _, e := range all {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", e.At.Local().Format(cliTime), e.actorColumn(), e.Action,
					e.subjectColumn(), e.statesColumn(), dashIfEmpty(oneLine(e.DetailText, 120)))
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			if more {
				fmt.Fprintf(cmd.ErrOrStderr(), "(the %d newest entries; there may be older ones: raise --limit)\n", len(all))
			}
			return nil
		}),
	}
	list.Flags().StringVar(&space, "space", "", "only the entries about this space (its slug) and the application it came from")
	list.Flags().StringVar(&actor, "actor", "", "only the entries by this API token (its name), moderator (their email) or actor (token:3, applicant, system:reconciler)")
	list.Flags().StringVar(&since, "since", "", "only the entries since then: a number of days such as 7d or a date such as 2026-11-01")
	list.Flags().IntVar(&limit, "limit", tenants.DefaultAuditLimit, "at most this many entries, the newest")
	listOut = addOutputFlag(list)
	bindConfig(list, apiSettings...)
	cmd.AddCommand(list)
	return cmd
}

// auditItem is an audit entry as GET /api/v1/audit answers it.
type auditItem struct {
	ID          int64          `json:"id"`
	At          time.Time      `json:"at"`
	Actor       string         `json:"actor"`
	ActorName   string         `json:"actor_name"`
	Action      string         `json:"action"`
	SubjectType string         `json:"subject_type"`
	SubjectID   int64          `json:"subject_id"`
	SubjectName string         `json:"subject_name"`
	FromState   string         `json:"from_state"`
	ToState     string         `json:"to_state"`
	Detail      map[string]any `json:"detail"`
	DetailText  string         `json:"detail_text"`
}

// actorColumn is who acted: the token's or moderator's name with the actor as the log writes it,
// or the actor alone when it is no token or moderator.
func (e auditItem) actorColumn() string {
	if e.ActorName == "" {
		return e.Actor
	}
	return e.ActorName + " (" + e.Actor + ")"
}

// subjectColumn is what the entry is about: its type and name, or its id when it has no name.
func (e auditItem) subjectColumn() string {
	switch {
	case e.SubjectName != "":
		return e.SubjectType + " " + e.SubjectName
	case e.SubjectID != 0:
		return e.SubjectType + " #" + strconv.FormatInt(e.SubjectID, 10)
	}
	return e.SubjectType
}

// statesColumn is the move the entry records: failed→queued, →queued for a creation, "—" when
// the entry changes no state.
func (e auditItem) statesColumn() string {
	if e.FromState == "" && e.ToState == "" {
		return "—"
	}
	return e.FromState + "→" + e.ToState
}

func dashIfEmpty(s string) string {
	if s == "" {
		return "—"
	}
	return s
}
