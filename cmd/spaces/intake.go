package main

import (
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/assospaces/spaces/tenants"
)

// intakeView is GET /api/v1/intake's answer.
type intakeView = tenants.IntakeStatus

func newIntakeCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "intake",
		Short: "Open or close the public form to new applications, through the server's JSON API (SPACES_ADDR, SPACES_TOKEN)",
		Long: `Open or close the public form to new applications, through the server's JSON API (SPACES_ADDR,
SPACES_TOKEN). A closed form shows the operators' message in the page's language instead of the
form, with the open partner hosts (spaces partner); a form sent while it is closed is answered 503
with the same page and nothing is recorded. Nothing else stops: status pages, moderation,
provisioning and running spaces go on.

The form also closes by itself while the capacity waiting list (approved spaces not started yet)
holds the threshold's number of spaces or more, and reopens by itself when it goes back under.

Every change is recorded under the token in the audit log. Exit codes: 0 done, 1 refused or
failed (the server's message), 2 a command used wrongly.`,
		Example: `  spaces intake show
  spaces intake pause --message "Nous rouvrons le 5 janvier." --message-en "We reopen on January 5."
  spaces intake resume
  spaces intake threshold 200`,
	}
	cmd.AddCommand(newIntakeShowCommand(), newIntakePauseCommand(), newIntakeResumeCommand(), newIntakeThresholdCommand())
	return cmd
}

// printIntake writes the intake for people: open or closed and why, the message, the threshold.
func printIntake(w io.Writer, st intakeView) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	who := string(st.UpdatedBy)
	if st.UpdatedByName != "" {
		who = st.UpdatedByName + " (" + who + ")"
	}
	switch st.ClosedBy {
	case tenants.IntakePaused:
		fmt.Fprintf(tw, "Intake:\tclosed, paused by %s on %s\n", who, st.UpdatedAt.Local().Format("2006-01-02 15:04"))
	case tenants.IntakeWaitingList:
		fmt.Fprintf(tw, "Intake:\tclosed by itself: %d spaces on the waiting list, threshold %d; it reopens under %d\n",
			st.WaitingList, st.WaitingListThreshold, st.WaitingListThreshold)
	default:
		fmt.Fprintf(tw, "Intake:\topen: the form takes new applications\n")
	}
	for _, m := range []struct{ lang, text, other string }{{"fr", st.MessageFR, "en"}, {"en", st.MessageEN, "fr"}} {
		switch {
		case m.text != "":
			fmt.Fprintf(tw, "Message (%s):\t%s\n", m.lang, oneLine(m.text, 200))
		case st.Message(m.lang) != "":
			fmt.Fprintf(tw, "Message (%s):\tnone: the %s one is shown\n", m.lang, m.other)
		default:
			fmt.Fprintf(tw, "Message (%s):\tnone: the page says why the form is closed in its own words\n", m.lang)
		}
	}
	if st.WaitingListThreshold > 0 {
		fmt.Fprintf(tw, "Waiting list:\t%d spaces; the form closes by itself at %d and reopens under it\n", st.WaitingList, st.WaitingListThreshold)
	} else {
		fmt.Fprintf(tw, "Waiting list:\t%d spaces; no threshold (only a pause closes the form)\n", st.WaitingList)
	}
	if !st.UpdatedAt.IsZero() {
		fmt.Fprintf(tw, "Changed:\t%s by %s\n", st.UpdatedAt.Local().Format(time.DateTime), who)
	}
	return tw.Flush()
}

func newIntakeShowCommand() *cobra.Command {
	var out *output
	c := &cobra.Command{
		Use:   "show",
		Short: "Whether the form takes applications, why not, the message applicants see, the waiting list threshold",
		Example: `  spaces intake show
  spaces intake show --output json`,
		Args: exactArgs(0, "no arguments"),
		RunE: withAPI(func(cmd *cobra.Command, _ []string, api *apiClient) error {
			var st intakeView
			if err := api.do(cmd.Context(), http.MethodGet, "/api/v1/intake", &st); err != nil {
				return err
			}
			if out.JSON() {
				return writeJSON(cmd.OutOrStdout(), st)
			}
			return printIntake(cmd.OutOrStdout(), st)
		}),
	}
	out = addOutputFlag(c)
	bindConfig(c, apiSettings...)
	return c
}

// changeIntake posts body to the intake and prints the result: the JSON answer, or sentence and
// the intake as it is now.
func changeIntake(cmd *cobra.Command, api *apiClient, body map[string]any, out *output, sentence func(intakeView) string) error {
	var st intakeView
	if err := api.post(cmd.Context(), "/api/v1/intake", body, &st); err != nil {
		return err
	}
	if out.JSON() {
		return writeJSON(cmd.OutOrStdout(), st)
	}
	if _, err := fmt.Fprintln(cmd.OutOrStdout(), sentence(st)); err != nil {
		return err
	}
	return printIntake(cmd.OutOrStdout(), st)
}

func newIntakePauseCommand() *cobra.Command {
	var out *output
	var message, messageEN string
	c := &cobra.Command{
		Use:   `pause --message TEXT [--message-en TEXT]`,
		Short: "Close the form to new applications with a message for applicants; nothing else stops",
		Long: `Close the form to new applications: it shows --message (in French; also in English unless
--message-en is given) and the open partner hosts instead of the form. A form sent while it is
closed gets the same page, and nothing is recorded. Pausing again replaces the message.
Status pages, moderation, provisioning and running spaces go on.`,
		Example: `  spaces intake pause --message "Nous rouvrons le 5 janvier."
  spaces intake pause --message "Nous rouvrons le 5 janvier." --message-en "We reopen on January 5."`,
		Args: exactArgs(0, "no arguments"),
		PreRunE: func(cmd *cobra.Command, _ []string) error {
			if strings.TrimSpace(message) == "" {
				return usagef("%s: --message is required: applicants see it instead of the form", cmd.CommandPath())
			}
			return nil
		},
		RunE: withAPI(func(cmd *cobra.Command, _ []string, api *apiClient) error {
			return changeIntake(cmd, api, map[string]any{"paused": true, "message_fr": message, "message_en": messageEN}, out,
				func(intakeView) string {
					return "intake paused: the form shows your message and the open partner hosts; nothing else stops."
				})
		}),
	}
	c.Flags().StringVar(&message, "message", "", "what applicants read instead of the form (required; in French, also shown in English unless --message-en)")
	c.Flags().StringVar(&messageEN, "message-en", "", "the message in English")
	out = addOutputFlag(c)
	bindConfig(c, apiSettings...)
	return c
}

func newIntakeResumeCommand() *cobra.Command {
	var out *output
	c := &cobra.Command{
		Use:     "resume",
		Short:   "Open the form to new applications again (unless the waiting list keeps it closed)",
		Example: `  spaces intake resume`,
		Args:    exactArgs(0, "no arguments"),
		RunE: withAPI(func(cmd *cobra.Command, _ []string, api *apiClient) error {
			return changeIntake(cmd, api, map[string]any{"paused": false}, out, func(st intakeView) string {
				if st.Closed {
					return "intake resumed, but the form stays closed while the waiting list holds " +
						strconv.Itoa(st.WaitingListThreshold) + " spaces or more (spaces intake threshold)."
				}
				return "intake resumed: the form takes new applications."
			})
		}),
	}
	out = addOutputFlag(c)
	bindConfig(c, apiSettings...)
	return c
}

func newIntakeThresholdCommand() *cobra.Command {
	var out *output
	c := &cobra.Command{
		Use:   "threshold N",
		Short: "Close the form by itself while the waiting list holds N spaces or more (0: never)",
		Long: `Close the form by itself while the capacity waiting list (approved spaces not started yet) holds N
spaces or more; it reopens by itself when the list goes back under N. 0 turns it off.`,
		Example: `  spaces intake threshold 200
  spaces intake threshold 0`,
		Args: exactArgs(1, "N"),
		PreRunE: func(cmd *cobra.Command, args []string) error {
			if n, err := strconv.Atoi(args[0]); err != nil || n < 0 || n > tenants.MaxWaitingListThreshold {
				return usagef("%s: N must be a whole number from 0 (off) to %d, got %q", cmd.CommandPath(), tenants.MaxWaitingListThreshold, args[0])
			}
			return nil
		},
		RunE: withAPI(func(cmd *cobra.Command, args []string, api *apiClient) error {
			n, _ := strconv.Atoi(args[0])
			return changeIntake(cmd, api, map[string]any{"waiting_list_threshold": n}, out, func(st intakeView) string {
				if n == 0 {
					return "threshold off: only a pause closes the form."
				}
				return fmt.Sprintf("threshold %d: the form closes by itself while %d spaces or more wait (now %d).", n, n, st.WaitingList)
			})
		}),
	}
	out = addOutputFlag(c)
	bindConfig(c, apiSettings...)
	return c
}
