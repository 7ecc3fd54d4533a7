package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/assospaces/spaces/quota"
	"github.com/assospaces/spaces/tenants"
)

// exportDir is where `spaces serve` writes export archives: SPACES_EXPORT_DIR, or else a folder of
// the service user's state directory (XDG), or ./exports when there is no home.
func exportDir(cfg *Config) string {
	if cfg.ExportDir != "" {
		return cfg.ExportDir
	}
	if d := os.Getenv("XDG_STATE_HOME"); filepath.IsAbs(d) {
		return filepath.Join(d, "spaces", "exports")
	}
	if home, err := os.UserHomeDir(); err == nil && filepath.IsAbs(home) {
		return filepath.Join(home, ".local", "state", "spaces", "exports")
	}
	if abs, err := filepath.Abs("exports"); err == nil {
		return abs
	}
	return "exports"
}

// exportOptions are the flags of `spaces space export`.
type exportOptions struct {
	to      string
	force   bool
	timeout time.Duration
	id      int64
	out     *output
}

// newSpaceExportCommand is `spaces space export SLUG --to FILE`: it asks the server for an export
// of the space (an archive of its files and its database dump, made by a job), follows it, then
// downloads the archive to FILE and prints its size and SHA-256.
func newSpaceExportCommand() *cobra.Command {
	o := &exportOptions{}
	cmd := &cobra.Command{
		Use:   "export SLUG --to FILE",
		Short: "Export a space's files and database to an archive for its association, with progress",
		Long: `Export a space: the server makes an archive (.tar.gz) of the space's Nextcloud data directory
(files/), its database dump (database.sql) and a README.txt for the association, then this
command downloads it to FILE (through FILE.part, renamed once whole and checked against the
server's SHA-256) and prints its size and SHA-256. Only an active or suspended space can be
exported. Asking
while an export of the space runs follows that one. If the command stops (Ctrl-C, --timeout),
the export goes on on the server: --id N downloads it later. The archive holds personal data.`,
		Args: exactArgs(1, "SLUG"),
		PreRunE: func(cmd *cobra.Command, _ []string) error {
			if o.to == "" {
				return usagef("%s: --to FILE is required: where to write the archive", cmd.CommandPath())
			}
			if o.timeout <= 0 {
				return usagef("%s: --timeout %s is not a positive duration", cmd.CommandPath(), o.timeout)
			}
			if o.id < 0 {
				return usagef("%s: --id %d is not an export id", cmd.CommandPath(), o.id)
			}
			return nil
		},
		RunE: withAPI(func(cmd *cobra.Command, args []string, api *apiClient) error {
			return runExport(cmd, api, args[0], o)
		}),
	}
	cmd.Flags().StringVar(&o.to, "to", "", "file to write the archive to (.tar.gz); required")
	cmd.Flags().BoolVar(&o.force, "force", false, "replace FILE if it exists")
	cmd.Flags().DurationVar(&o.timeout, "timeout", 2*time.Hour, "how long to wait for the export and its download in all")
	cmd.Flags().Int64Var(&o.id, "id", 0, "download this export of the space (already asked for) instead of asking for a new one")
	o.out = addOutputFlag(cmd)
	bindConfig(cmd, apiSettings...)
	return cmd
}

// exportResult is what the command prints with --output json.
type exportResult struct {
	File      string         `json:"file"`
	SizeBytes int64          `json:"size_bytes"`
	SHA256    string         `json:"sha256"`
	Export    tenants.Export `json:"export"`
}

func runExport(cmd *cobra.Command, api *apiClient, slug string, o *exportOptions) error {
	to, err := filepath.Abs(o.to)
	if err != nil {
		return err
	}
	if err := checkExportTarget(to, o.force); err != nil {
		return err
	}
	// Ctrl-C stops the command cleanly (no FILE.part left behind); the export goes on.
	sigCtx, stopSignals := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	defer stopSignals()
	ctx, cancel := context.WithTimeout(sigCtx, o.timeout)
	defer cancel()
	prog := newProgress(cmd.ErrOrStderr())
	base := "/api/v1/spaces/" + url.PathEscape(slug) + "/exports"

	var v struct {
		Export tenants.Export `json:"export"`
	}
	if o.id > 0 {
		err = api.do(ctx, http.MethodGet, base+"/"+strconv.FormatInt(o.id, 10), &v)
	} else {
		err = api.do(ctx, http.MethodPost, base, &v)
	}
	if err != nil {
		return err
	}
	e := v.Export
	prog.println(fmt.Sprintf("export %d of %s: %s (asked by %s at %s)", e.ID, e.Slug, e.State, e.RequestedBy,
		e.CreatedAt.Local().Format("2006-01-02 15:04:05")))

	// Why the command stopped early, and how to pick the export up again.
	stopped := func() string {
		if sigCtx.Err() != nil {
			return "interrupted"
		}
		return "stopped at --timeout " + o.timeout.String()
	}
	e, err = waitExport(ctx, api, base, e, prog)
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("%s while export %d of %s is %s; it goes on on the server: spaces space export %s --id %d --to %s downloads it once done",
				stopped(), e.ID, slug, e.State, slug, e.ID, o.to)
		}
		return err
	}
	size, sum, err := downloadExport(ctx, api, base, e, to, o.force, prog)
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("download of export %d %s; the archive stays on the server until it expires: spaces space export %s --id %d --to %s",
				e.ID, stopped(), slug, e.ID, o.to)
		}
		return err
	}
	out := cmd.OutOrStdout()
	if o.out.JSON() {
		return writeJSON(out, exportResult{File: to, SizeBytes: size, SHA256: sum, Export: e})
	}
	fmt.Fprintf(out, "%s\n  size    %s (%d bytes)\n  sha256  %s\n", to, quota.FormatSize(size), size, sum)
	fmt.Fprintf(out, "  holds   %d files (%s), database dump %s\n", e.Files, quota.FormatSize(e.FilesBytes), quota.FormatSize(e.DatabaseBytes))
	if e.Warning != "" {
		fmt.Fprintf(out, "  warning %s\n", e.Warning)
	}
	if e.ExpiresAt != nil {
		_, err = fmt.Fprintf(out, "  the server removes its copy at %s\n", e.ExpiresAt.Local().Format("2006-01-02 15:04"))
	}
	return err
}

// checkExportTarget refuses a destination that cannot take the archive, before anything is asked.
func checkExportTarget(to string, force bool) error {
	fi, err := os.Stat(to)
	switch {
	case err == nil && fi.IsDir():
		return fmt.Errorf("%s is a directory; --to names the archive's file", to)
	case err == nil && !force:
		return fmt.Errorf("%s exists; pass --force to replace it", to)
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return err
	}
	if fi, err := os.Stat(filepath.Dir(to)); err != nil || !fi.IsDir() {
		return fmt.Errorf("cannot write %s: its folder %s does not exist", to, filepath.Dir(to))
	}
	return nil
}

// exportPoll is how often the export's progress is asked for.
const exportPoll = time.Second

// waitExport follows the export until it is done; a failed export is an error with its reason.
func waitExport(ctx context.Context, api *apiClient, base string, e tenants.Export, prog *progress) (tenants.Export, error) {
	start := time.Now()
	failures := 0
	for {
		switch e.State {
		case tenants.ExportDone:
			prog.done(fmt.Sprintf("export %d of %s: done, %s in %s", e.ID, e.Slug, quota.FormatSize(e.BytesWritten), elapsed(start)))
			return e, nil
		case tenants.ExportFailed:
			prog.done(fmt.Sprintf("export %d of %s: failed", e.ID, e.Slug))
			return e, fmt.Errorf("export %d of %s failed: %s", e.ID, e.Slug, e.Error)
		case tenants.ExportExpired:
			return e, fmt.Errorf("the archive of export %d of %s was removed after its retention; ask for a new export (without --id)", e.ID, e.Slug)
		}
		line := fmt.Sprintf("export %d of %s: %s, %s written, %s", e.ID, e.Slug, e.State, quota.FormatSize(e.BytesWritten), elapsed(start))
		if e.Error != "" {
			line += " (" + oneLine(e.Error, 80) + ")"
		}
		prog.update(line)
		select {
		case <-ctx.Done():
			prog.done(line)
			return e, ctx.Err()
		case <-time.After(exportPoll):
		}
		var v struct {
			Export tenants.Export `json:"export"`
		}
		err := api.do(ctx, http.MethodGet, base+"/"+strconv.FormatInt(e.ID, 10), &v)
		var apiErr *apiCallError
		switch {
		case err == nil:
			e, failures = v.Export, 0
		case errors.As(err, &apiErr) && apiErr.Status < 500, ctx.Err() != nil:
			prog.done(line)
			return e, err
		default:
			// The server restarting (a deploy): the export goes on; ask again a few times.
			if failures++; failures > 10 {
				prog.done(line)
				return e, err
			}
		}
	}
}

// downloadExport writes the export's archive to to, through to.part, checking its length and its
// SHA-256 against the server's; it returns the size and the SHA-256.
func downloadExport(ctx context.Context, api *apiClient, base string, e tenants.Export, to string, force bool, prog *progress) (int64, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, api.base.String()+base+"/"+strconv.FormatInt(e.ID, 10)+"/archive", nil)
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Authorization", "Bearer "+api.token)
	// No overall timeout: the download may take hours; ctx (--timeout) bounds it.
	resp, err := (&http.Client{}).Do(req)
	if err != nil {
		return 0, "", fmt.Errorf("download the archive from %s: %w", api.base, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, "", apiErrorOf(resp, api.base)
	}
	part := to + ".part"
	f, err := os.OpenFile(part, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return 0, "", err
	}
	ok := false
	defer func() {
		if !ok {
			f.Close()
			os.Remove(part)
		}
	}()
	total := resp.ContentLength
	h := sha256.New()
	cw := &countWriter{}
	stop := prog.every(func() string {
		n := cw.n.Load()
		s := fmt.Sprintf("downloading %s: %s", filepath.Base(to), quota.FormatSize(n))
		if total > 0 {
			s += fmt.Sprintf(" of %s (%d %%)", quota.FormatSize(total), n*100/total)
		}
		return s
	})
	start := time.Now()
	n, err := io.Copy(io.MultiWriter(f, h, cw), resp.Body)
	stop()
	if err != nil {
		return n, "", fmt.Errorf("download the archive: %w", err)
	}
	sum := hex.EncodeToString(h.Sum(nil))
	switch {
	case total >= 0 && n != total:
		return n, "", fmt.Errorf("download the archive: got %d bytes of %d", n, total)
	case e.SHA256 != "" && sum != e.SHA256:
		return n, "", fmt.Errorf("download the archive: its SHA-256 is %s, the server's is %s", sum, e.SHA256)
	}
	if err := f.Sync(); err != nil {
		return n, "", err
	}
	if err := f.Close(); err != nil {
		return n, "", err
	}
	if err := publish(part, to, force); err != nil {
		return n, "", err
	}
	ok = true
	prog.done(fmt.Sprintf("downloaded %s: %s in %s", filepath.Base(to), quota.FormatSize(n), elapsed(start)))
	return n, sum, nil
}

// publish renames part to to; without force, never over a file that appeared meanwhile.
func publish(part, to string, force bool) error {
	if force {
		return os.Rename(part, to)
	}
	if err := os.Link(part, to); err == nil {
		return os.Remove(part)
	} else if errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("%s appeared during the download; the archive is in %s", to, part)
	}
	// A file system without hard links: check, then rename.
	if _, err := os.Lstat(to); err == nil {
		return fmt.Errorf("%s appeared during the download; the archive is in %s", to, part)
	}
	return os.Rename(part, to)
}

// apiErrorOf reads an API error answer.
func apiErrorOf(resp *http.Response, base *url.URL) error {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var e struct {
		Error apiCallError `json:"error"`
	}
	if json.Unmarshal(body, &e) != nil || e.Error.Code == "" {
		return fmt.Errorf("HTTP %d from %s (is SPACES_ADDR the spaces server?)", resp.StatusCode, base)
	}
	e.Error.Status = resp.StatusCode
	return &e.Error
}

type countWriter struct{ n atomic.Int64 }

func (c *countWriter) Write(p []byte) (int, error) {
	c.n.Add(int64(len(p)))
	return len(p), nil
}

func elapsed(since time.Time) string {
	d := time.Since(since).Round(time.Second)
	return fmt.Sprintf("%d:%02d:%02d", int(d.Hours()), int(d.Minutes())%60, int(d.Seconds())%60)
}

// progress shows how far a long operation is: on a terminal one line rewritten in place, else a
// plain line every few seconds (for logs and pipes).
type progress struct {
	w     io.Writer
	tty   bool
	last  time.Time
	shown bool // a line is on the terminal, not yet ended
}

// progressEvery is how often a plain line is written when the output is not a terminal.
const progressEvery = 5 * time.Second

func newProgress(w io.Writer) *progress {
	p := &progress{w: w}
	if f, ok := w.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 && os.Getenv("TERM") != "dumb" {
			p.tty = true
		}
	}
	return p
}

// update shows line as the current state.
func (p *progress) update(line string) {
	if p.tty {
		fmt.Fprintf(p.w, "\r\033[K%s", line)
		p.shown = true
		return
	}
	if now := time.Now(); now.Sub(p.last) >= progressEvery {
		fmt.Fprintln(p.w, line)
		p.last = now
	}
}

// done ends the current state with line.
func (p *progress) done(line string) {
	if p.tty {
		fmt.Fprintf(p.w, "\r\033[K%s\n", line)
		p.shown = false
		return
	}
	fmt.Fprintln(p.w, line)
	p.last = time.Time{}
}

// println writes a line of its own.
func (p *progress) println(line string) {
	if p.shown {
		fmt.Fprintln(p.w)
		p.shown = false
	}
	fmt.Fprintln(p.w, line)
}

// every shows line() regularly until the returned stop is called.
func (p *progress) every(line func() string) (stop func()) {
	tick := 200 * time.Millisecond
	if !p.tty {
		tick = progressEvery
	}
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(tick)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				p.last = time.Time{}
				p.update(strings.TrimSpace(line()))
			}
		}
	}()
	return func() {
		close(done)
		<-finished
	}
}
