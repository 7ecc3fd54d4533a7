package nomad_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/nomad/api"

	"github.com/assospaces/spaces/provisioner/nomad"
)

// execJob runs a raw_exec task that sleeps, with MARK and NEXTCLOUD_DATA_DIR in its environment
// (as the dev jobspec's task has the latter), and returns its running allocation.
func execJob(t *testing.T, c *nomad.Client) *api.AllocationListStub {
	t.Helper()
	ctx := context.Background()
	id := "space-exec" + suffix()
	job, err := c.ParseJob(ctx, `job "`+id+`" {
  datacenters = ["*"]
  group "nextcloud" {
    ephemeral_disk {
      size = 150
    }
    task "nextcloud" {
      driver = "raw_exec"
      config {
        command = "/bin/sh"
        args    = ["-c", "mkdir -p \"$NEXTCLOUD_DATA_DIR\" && exec sleep 600"]
      }
      env {
        MARK               = "from-the-task"
        NEXTCLOUD_DATA_DIR = "${NOMAD_ALLOC_DIR}/data"
      }
      resources {
        cpu    = 10
        memory = 16
      }
    }
  }
}`)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.RegisterJob(ctx, job); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.DeregisterJob(context.Background(), id, true) }) //nolint:errcheck
	var index uint64
	deadline := time.Now().Add(2 * time.Minute)
	for {
		if time.Now().After(deadline) {
			t.Fatal("no running allocation")
		}
		allocs, next, err := c.Allocations(ctx, id, index, 10*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		index = next
		for _, a := range allocs {
			if ts := a.TaskStates["nextcloud"]; a.ClientStatus == "running" && ts != nil && ts.State == "running" {
				return a
			}
		}
	}
}

// TestExecInARawExecTask: the dev jobspec's driver runs a command in the task, with the task's
// environment, streaming its output however long it is, with its exit code.
func TestExecInARawExecTask(t *testing.T) {
	c := client(t)
	alloc := execJob(t, c)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	var stdout, stderr bytes.Buffer
	code, err := c.Exec(ctx, alloc, "nextcloud", []string{"/bin/sh", "-c", `echo "$MARK"; echo "$NEXTCLOUD_DATA_DIR"; echo oops >&2; exit 3`}, &stdout, &stderr)
	if err != nil || code != 3 {
		t.Fatalf("exec: code %d, %v", code, err)
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	if len(lines) != 2 || lines[0] != "from-the-task" || !strings.HasSuffix(lines[1], "/"+alloc.ID+"/alloc/data") || stderr.String() != "oops\n" {
		t.Errorf("stdout %q, stderr %q; want the task's environment and the command's error output", stdout.String(), stderr.String())
	}

	// A long stream arrives whole.
	const size = 64 << 20
	n := &countingWriter{}
	start := time.Now()
	code, err = c.Exec(ctx, alloc, "nextcloud", []string{"head", "-c", "67108864", "/dev/urandom"}, n, io.Discard)
	if err != nil || code != 0 || n.n != size {
		t.Fatalf("stream: code %d, %d bytes of %d, %v", code, n.n, size, err)
	}
	t.Logf("streamed %d MB through exec in %s (%.0f MB/s)", size>>20, time.Since(start).Round(time.Millisecond),
		float64(size)/1e6/time.Since(start).Seconds())

	// A reader that gives up ends the command with its error.
	broken := errors.New("disk full")
	code, err = c.Exec(ctx, alloc, "nextcloud", []string{"cat", "/dev/zero"}, &failAfter{left: 1 << 20, err: broken}, io.Discard)
	if !errors.Is(err, broken) || code != -1 {
		t.Errorf("exec into a failing writer: code %d, %v; want %v", code, err, broken)
	}

	// So does the caller's context.
	short, cancelShort := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancelShort()
	if _, err := c.Exec(short, alloc, "nextcloud", []string{"sleep", "60"}, io.Discard, io.Discard); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("exec past its context: %v, want the deadline", err)
	}

	// A task that is not there.
	if _, err := c.Exec(ctx, alloc, "nosuchtask", []string{"true"}, io.Discard, io.Discard); err == nil {
		t.Error("exec in a task that does not exist succeeded")
	}
}

type countingWriter struct{ n int64 }

func (c *countingWriter) Write(p []byte) (int, error) {
	c.n += int64(len(p))
	return len(p), nil
}

type failAfter struct {
	left int
	err  error
}

func (f *failAfter) Write(p []byte) (int, error) {
	if f.left <= 0 {
		return 0, f.err
	}
	f.left -= len(p)
	return len(p), nil
}
