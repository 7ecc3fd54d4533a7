// Package devenv starts the real servers that `make dev` and `make test` need on this one machine:
// a private PostgreSQL cluster and a single-node Nomad agent (a throwaway dev agent for tests, a
// persistent one for make dev). Each is a child process of the caller and is stopped by it; their
// data lives in a folder the caller names.
package devenv

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Postgres is a private PostgreSQL cluster started with pg_ctl.
type Postgres struct {
	// Dir holds the cluster (Dir/data) and its unix socket (Dir/run).
	Dir string
	// Port is the TCP port on 127.0.0.1.
	Port int
	// Fast turns off durability (fsync, synchronous commit, full page writes); for throwaway clusters.
	Fast bool

	bin    string
	runAs  string // "postgres" when we are root: initdb and postgres refuse to run as root
	logger *slog.Logger
}

// URL is the superuser connection URL for database name.
func (p *Postgres) URL(database string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", p.Port, database)
}

// Start initialises the cluster if Dir has none, then starts it and waits until it accepts connections.
func (p *Postgres) Start(ctx context.Context, logger *slog.Logger) error {
	p.logger = logger
	bin, err := postgresBinDir()
	if err != nil {
		return err
	}
	p.bin = bin
	if os.Geteuid() == 0 {
		p.runAs = "postgres"
	}
	data := filepath.Join(p.Dir, "data")
	run := filepath.Join(p.Dir, "run")
	for _, d := range []string{p.Dir, run} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return fmt.Errorf("create %s: %w", d, err)
		}
	}
	if err := p.chown(p.Dir, run); err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(data, "PG_VERSION")); errors.Is(err, os.ErrNotExist) {
		logger.InfoContext(ctx, "initialising postgres cluster", "dir", data)
		if err := p.run(ctx, "initdb", "-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync"); err != nil {
			return fmt.Errorf("initdb: %w", err)
		}
	}
	// A cluster left running by a killed session is stopped first, so the port and flags are ours.
	if _, err := os.Stat(filepath.Join(data, "postmaster.pid")); err == nil {
		_ = p.run(ctx, "pg_ctl", "-D", data, "-m", "fast", "-w", "stop")
	}
	opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c max_connections=300", p.Port, run)
	if p.Fast {
		opts += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
	}
	if err := p.run(ctx, "pg_ctl", "-D", data, "-l", filepath.Join(p.Dir, "postgres.log"), "-w", "-t", "60", "-o", opts, "start"); err != nil {
		return fmt.Errorf("start postgres (log: %s): %w", filepath.Join(p.Dir, "postgres.log"), err)
	}
	return waitTCP(ctx, fmt.Sprintf("127.0.0.1:%d", p.Port), 30*time.Second)
}

// Stop shuts the cluster down, keeping its data.
func (p *Postgres) Stop() error {
	if p.bin == "" {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return p.run(ctx, "pg_ctl", "-D", filepath.Join(p.Dir, "data"), "-m", "fast", "-w", "stop")
}

func (p *Postgres) run(ctx context.Context, name string, args ...string) error {
	path := filepath.Join(p.bin, name)
	var cmd *exec.Cmd
	if p.runAs != "" {
		cmd = exec.CommandContext(ctx, "runuser", append([]string{"-u", p.runAs, "--", path}, args...)...)
	} else {
		cmd = exec.CommandContext(ctx, path, args...)
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %w: %s", name, err, strings.TrimSpace(string(out)))
	}
	return nil
}

func (p *Postgres) chown(dirs ...string) error {
	if p.runAs == "" {
		return nil
	}
	u, err := user.Lookup(p.runAs)
	if err != nil {
		return fmt.Errorf("look up user %s (is the postgresql package installed?): %w", p.runAs, err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	for _, d := range dirs {
		if err := os.Chown(d, uid, gid); err != nil {
			return fmt.Errorf("chown %s: %w", d, err)
		}
	}
	return nil
}

// postgresBinDir finds the newest PostgreSQL server installed from Debian packages,
// or the directory named by SPACES_POSTGRES_BIN.
func postgresBinDir() (string, error) {
	if dir := os.Getenv("SPACES_POSTGRES_BIN"); dir != "" {
		return dir, nil
	}
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/pg_ctl")
	if len(matches) == 0 {
		return "", errors.New("no PostgreSQL server found in /usr/lib/postgresql: install the Debian package postgresql, or set SPACES_POSTGRES_BIN")
	}
	sort.Slice(matches, func(i, j int) bool {
		vi, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(matches[i]))))
		vj, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(matches[j]))))
		return vi > vj
	})
	return filepath.Dir(matches[0]), nil
}

// FreePort asks the kernel for a TCP port on 127.0.0.1 that is free now.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func waitTCP(ctx context.Context, addr string, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		conn, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			conn.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("nothing answers on %s after %s: %w", addr, limit, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}
