package devenv

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"syscall"
)

// Env is a running PostgreSQL cluster and Nomad agent.
type Env struct {
	Postgres *Postgres
	Nomad    *Nomad
	// tmp is removed on Stop when the environment was throwaway.
	tmp string
}

// Vars are the environment variables that point tests and programs at this environment.
func (e *Env) Vars() []string {
	return []string{
		"SPACES_TEST_DATABASE_URL=" + e.Postgres.URL("postgres"),
		"NOMAD_ADDR=" + e.Nomad.Addr(),
	}
}

// StartEphemeral starts a throwaway cluster and agent in a new temporary folder.
// On error the returned Env, when not nil, still holds what started and must be stopped.
func StartEphemeral(ctx context.Context, nomadBin string, logger *slog.Logger) (*Env, error) {
	tmp, err := os.MkdirTemp(throwawayParent(), "spaces-testenv-")
	if err != nil {
		return nil, err
	}
	// The postgres user must reach its folder below ours.
	if err := os.Chmod(tmp, 0o755); err != nil {
		return nil, err
	}
	env := &Env{tmp: tmp}
	pgPort, err := FreePort()
	if err != nil {
		return env, err
	}
	env.Postgres = &Postgres{Dir: filepath.Join(tmp, "postgres"), Port: pgPort, Fast: true}
	if err := env.Postgres.Start(ctx, logger); err != nil {
		return env, fmt.Errorf("postgres: %w", err)
	}
	httpPort, err := FreePort()
	if err != nil {
		return env, err
	}
	env.Nomad = &Nomad{Bin: nomadBin, Dir: filepath.Join(tmp, "nomad"), HTTPPort: httpPort}
	if err := env.Nomad.Start(ctx, logger); err != nil {
		return env, fmt.Errorf("nomad: %w", err)
	}
	logger.InfoContext(ctx, "test environment ready", "postgres", env.Postgres.URL("postgres"), "nomad", env.Nomad.Addr())
	return env, nil
}

// throwawayParent is where a throwaway environment lives: in memory (/dev/shm) when it has room,
// else the system's temporary folder. On disk, creating the ~300 files of each CREATE DATABASE
// and of each allocation directory costs real CPU in the filesystem (ext4 looking for free
// inodes among recently deleted ones, after thousands of test databases come and go), and the
// data is thrown away anyway.
func throwawayParent() string {
	const shm, room = "/dev/shm", 2 << 30
	var st syscall.Statfs_t
	if err := syscall.Statfs(shm, &st); err != nil || uint64(st.Bavail)*uint64(st.Bsize) < room {
		return os.TempDir()
	}
	if f, err := os.CreateTemp(shm, ".spaces-probe-"); err == nil {
		f.Close()
		os.Remove(f.Name())
		return shm
	}
	return os.TempDir()
}

// Stop stops the agent (its jobs first) and the cluster, and removes a throwaway folder.
func (e *Env) Stop(logger *slog.Logger) {
	var errs []error
	if e.Nomad != nil {
		errs = append(errs, e.Nomad.Stop())
	}
	if e.Postgres != nil {
		errs = append(errs, e.Postgres.Stop())
	}
	if err := errors.Join(errs...); err != nil {
		logger.Warn("stopping the environment", "err", err)
	}
	if e.tmp != "" {
		_ = os.RemoveAll(e.tmp)
	}
}
