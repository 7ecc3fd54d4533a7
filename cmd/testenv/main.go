// Command testenv runs a command beside a throwaway PostgreSQL cluster and Nomad dev agent:
//
//	testenv -- go test ./...
//
// It sets SPACES_TEST_DATABASE_URL and NOMAD_ADDR for the command, and SPACES_TEST_NOMAD_CLUSTER_ADDR
// and SPACES_TEST_NOMAD_CLUSTER_DIR for a Nomad cluster of one server and two client nodes (see
// devenv.Cluster), exits with its exit code, and removes the servers and their data afterwards.
// `make test` runs the suite this way.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"syscall"

	"github.com/assospaces/spaces/cmd/internal/devenv"
)

func main() {
	args := os.Args[1:]
	if len(args) > 0 && args[0] == "--" {
		args = args[1:]
	}
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, "usage: testenv -- COMMAND [ARGS...]   (SPACES_NOMAD_BIN names the nomad binary)")
		os.Exit(2)
	}
	os.Exit(run(args))
}

func run(args []string) int {
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	// The cluster starts beside Postgres and the single agent, in the same seconds. A cluster that
	// does not start fails only the tests that need it: they find no SPACES_TEST_NOMAD_CLUSTER_ADDR.
	type started struct {
		cluster *devenv.Cluster
		err     error
	}
	clusterCh := make(chan started, 1)
	go func() {
		c, err := devenv.StartCluster(ctx, os.Getenv("SPACES_NOMAD_BIN"), logger)
		clusterCh <- started{c, err}
	}()
	env, err := devenv.StartEphemeral(ctx, os.Getenv("SPACES_NOMAD_BIN"), logger)
	cl := <-clusterCh
	if cl.cluster != nil {
		defer func() {
			if err := cl.cluster.Stop(); err != nil {
				logger.Warn("stopping the nomad cluster", "err", err)
			}
		}()
	}
	if env != nil {
		defer env.Stop(logger)
	}
	if err != nil {
		logger.Error("test environment did not start", "err", err)
		return 1
	}
	vars := env.Vars()
	if cl.err != nil {
		logger.Error("nomad cluster did not start: the tests that need it will fail", "err", cl.err)
	} else {
		vars = append(vars, devenv.ClusterVars(cl.cluster)...)
	}

	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.Env = append(os.Environ(), vars...)
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	if err := cmd.Run(); err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			return exit.ExitCode()
		}
		logger.Error("run command", "err", err)
		return 1
	}
	return 0
}
