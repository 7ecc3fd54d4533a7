package devenv

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// An agent killed outright leaves its raw_exec tasks running, by design; Stop must not.
func TestStopReapsTasksThatOutliveTheAgent(t *testing.T) {
	bin := os.Getenv("SPACES_NOMAD_BIN")
	if bin == "" {
		t.Fatal("SPACES_NOMAD_BIN is not set: this test runs a real Nomad agent (run it with `make test`)")
	}
	ctx := context.Background()
	dir := t.TempDir()
	port, err := FreePort()
	if err != nil {
		t.Fatal(err)
	}
	n := &Nomad{Bin: bin, Dir: dir, HTTPPort: port}
	if err := n.Start(ctx, slog.New(slog.NewTextHandler(io.Discard, nil))); err != nil {
		t.Fatal(err)
	}
	job := `{"Job": {"ID": "sleeper", "Name": "sleeper", "Type": "service", "Datacenters": ["*"],
		"TaskGroups": [{"Name": "g", "Count": 1, "Tasks": [{"Name": "t", "Driver": "raw_exec",
		"Config": {"command": "/bin/sleep", "args": ["600"]}, "Resources": {"CPU": 20, "MemoryMB": 16}}]}]}}`
	resp, err := http.Post(n.Addr()+"/v1/jobs", "application/json", strings.NewReader(job))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("register: %s", resp.Status)
	}
	var task []int
	for deadline := time.Now().Add(time.Minute); len(task) == 0; {
		if time.Now().After(deadline) {
			t.Fatal("the task did not start")
		}
		time.Sleep(100 * time.Millisecond)
		task = processesUnder(t, dir, "sleep")
	}
	if len(mountsUnder(dir+"/")) == 0 {
		t.Fatal("the agent mounted nothing under its folder; the test expects each task's secrets mount")
	}

	// The agent dies without stopping anything: its task lives on.
	if err := syscall.Kill(-n.cmd.Process.Pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	if len(processesUnder(t, dir, "sleep")) == 0 {
		t.Fatal("the task died with the agent: nothing left for Stop to reap")
	}

	err = n.Stop()
	if err == nil || !strings.Contains(err.Error(), "outlived") {
		t.Errorf("Stop() = %v, want it to say what it reaped", err)
	}
	if left := processesUnder(t, dir, ""); len(left) > 0 {
		t.Errorf("processes still running under the agent's folder: %v", left)
	}
	if m := mountsUnder(dir + "/"); len(m) > 0 {
		t.Errorf("still mounted: %v", m)
	}
	if err := os.RemoveAll(dir); err != nil {
		t.Errorf("remove the agent's folder: %v", err)
	}
}

// processesUnder lists the processes (named name, when not empty) whose working directory is under dir.
func processesUnder(t *testing.T, dir, name string) []int {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cwd, _ := os.Readlink(fmt.Sprintf("/proc/%d/cwd", pid))
		comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
		if strings.HasPrefix(cwd, dir+string(filepath.Separator)) && (name == "" || string(bytes.TrimSpace(comm)) == name) {
			pids = append(pids, pid)
		}
	}
	return pids
}
