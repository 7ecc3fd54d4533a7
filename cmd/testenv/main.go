// Command testenv runs a command beside a throwaway PostgreSQL cluster and Nomad dev agent:
//
//	testenv -- go test ./...
//
// It sets SPACES_TEST_DATABASE_URL and NOMAD_ADDR for the command, exits with its exit code, and
// removes both servers and their data afterwards. `make test` runs the suite this way.
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

	env, err := devenv.StartEphemeral(ctx, os.Getenv("SPACES_NOMAD_BIN"), logger)
	if env != nil {
		defer env.Stop(logger)
	}
	if err != nil {
		logger.Error("test environment did not start", "err", err)
		return 1
	}

	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.Env = append(os.Environ(), env.Vars()...)
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
