package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/assospaces/spaces/tenants"
)

// --wait: a decision is applied when the reconciler (or the provisioner, for a space that is
// provisioned again) reports the space's new generation observed. A deletion's generation is
// observed once its job is stopped.

// waitPoll is how often --wait asks the server how the space is.
const waitPoll = time.Second

// waitFlags are the --wait and --timeout flags of the commands that change a space.
type waitFlags struct {
	wait    bool
	timeout time.Duration
}

// addWaitFlags gives cmd --wait and --timeout, checked before the command runs.
func addWaitFlags(cmd *cobra.Command) *waitFlags {
	f := &waitFlags{}
	cmd.Flags().BoolVar(&f.wait, "wait", false, "wait until the reconciler reports the decision applied (the space's new generation observed)")
	cmd.Flags().DurationVar(&f.timeout, "timeout", 10*time.Minute, "with --wait, how long to wait before giving up (exit code 1)")
	prev := cmd.PreRunE
	cmd.PreRunE = func(c *cobra.Command, args []string) error {
		if c.Flags().Changed("timeout") && !f.wait {
			return usagef("%s: --timeout is for --wait; add --wait or leave --timeout out", c.CommandPath())
		}
		if f.timeout <= 0 {
			return usagef("%s: --timeout %s is not a positive duration; use one such as 10m or 90s", c.CommandPath(), f.timeout)
		}
		if prev != nil {
			return prev(c, args)
		}
		return nil
	}
	return f
}

// waitApplied waits until the generation the decision d gave the space is observed, showing its
// progress on w, and returns the space as then seen. It gives up after timeout, when the space is
// failed (nothing applies a generation until a retry), when the server answers an error, or on
// Ctrl-C, with an error saying what it last saw. Network errors are waited through: the server
// may be restarting.
func waitApplied(ctx context.Context, api *apiClient, d spaceView, timeout time.Duration, w io.Writer) (spaceView, error) {
	slug, gen := d.Space.Slug, d.Space.Generation
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	show := newWaitDisplay(w)
	start := time.Now()
	tick := time.NewTicker(waitPoll)
	defer tick.Stop()
	v, seen := d, describeWait(d, gen)
	for {
		var now spaceView
		err := api.do(ctx, http.MethodGet, spacePath(slug, ""), &now)
		var apiErr *apiCallError
		switch {
		case errors.As(err, &apiErr):
			show.end()
			return v, fmt.Errorf("it cannot be followed: %w", err)
		case err != nil && ctx.Err() == nil:
			seen = "server not reachable (" + err.Error() + "); still trying"
		case err == nil:
			v, seen = now, describeWait(now, gen)
			switch {
			case v.Space.ObservedGeneration >= gen || v.Space.State == tenants.SpaceDeleted:
				show.end()
				return v, nil
			case v.Space.State == tenants.SpaceFailed:
				show.end()
				return v, fmt.Errorf("it is not applied: space %s is failed (%s); nothing applies generation %d until it is retried (spaces space retry %s)",
					slug, oneLine(v.Space.FailureReason, 200), gen, slug)
			}
		}
		show.update(time.Since(start), seen)
		select {
		case <-ctx.Done():
			show.end()
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return v, fmt.Errorf("it is not applied after %s: last seen %s; the decision stands and the reconciler goes on: spaces space show %s",
					timeout, seen, slug)
			}
			return v, fmt.Errorf("the wait was interrupted: last seen %s; the decision stands and the reconciler goes on: spaces space show %s", seen, slug)
		case <-tick.C:
		}
	}
}

// describeWait is what --wait shows of a space whose generation gen is awaited: its state, the
// generation observed, its place on the waiting list, and the Healthy and Drifted conditions' messages.
func describeWait(v spaceView, gen int64) string {
	s := v.Space
	parts := []string{fmt.Sprintf("%s, generation %d observed of %d", s.State, s.ObservedGeneration, gen)}
	if q := v.Queue; q != nil && q.Position > 0 {
		parts[0] += fmt.Sprintf(", position %d on the waiting list", q.Position)
	}
	found := false
	for _, c := range s.Conditions {
		if c.Type != "Healthy" && c.Type != "Drifted" {
			continue
		}
		found = true
		parts = append(parts, fmt.Sprintf("%s=%s (%s): %s", c.Type, c.Status, c.Reason, oneLine(c.Message, 120)))
	}
	if !found {
		parts = append(parts, "nothing observed yet")
	}
	return strings.Join(parts, "; ")
}

// waitDisplay shows --wait's progress: on a terminal one line rewritten in place (elapsed time
// and what is seen); otherwise, for logs and pipes, a line each time what is seen changes.
type waitDisplay struct {
	w        io.Writer
	terminal bool
	width    int    // the terminal's columns
	last     string // what was last shown
	shown    bool   // a terminal line is on screen
}

func newWaitDisplay(w io.Writer) *waitDisplay {
	d := &waitDisplay{w: w}
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) && os.Getenv("TERM") != "dumb" {
		d.terminal, d.width = true, 80
		if cols, _, err := term.GetSize(int(f.Fd())); err == nil && cols > 0 {
			d.width = cols
		}
	}
	return d
}

// update shows what is seen after elapsed.
func (d *waitDisplay) update(elapsed time.Duration, seen string) {
	line := waitClock(elapsed) + "  " + seen
	if d.terminal {
		// A line longer than the terminal wraps, and \r then rewrites only its last row.
		if r := []rune(line); len(r) > d.width-1 {
			line = string(r[:max(d.width-2, 1)]) + "…"
		}
		fmt.Fprint(d.w, "\r\033[K"+line)
		d.shown = true
		return
	}
	if seen != d.last {
		fmt.Fprintln(d.w, line)
		d.last = seen
	}
}

// end clears the terminal's progress line, so that what follows starts on a clean line.
func (d *waitDisplay) end() {
	if d.shown {
		fmt.Fprint(d.w, "\r\033[K")
		d.shown = false
	}
}

// waitClock writes elapsed as m:ss, or h:mm:ss past an hour.
func waitClock(elapsed time.Duration) string {
	s := int(elapsed.Round(time.Second).Seconds())
	if s >= 3600 {
		return fmt.Sprintf("%d:%02d:%02d", s/3600, s/60%60, s%60)
	}
	return fmt.Sprintf("%d:%02d", s/60, s%60)
}
