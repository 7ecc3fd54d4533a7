package devenv

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// reapUnder kills what an agent left running under dir and unmounts what it left mounted there.
// It returns how many processes it killed.
//
// A raw_exec task outlives its agent by design (the agent reattaches after a restart), and so does
// its executor. Tasks whose stop the agent did not see through (a job purged while its allocations
// were still stopping, an agent killed after its grace period) would otherwise keep their ports and
// memory after the environment is gone, and the next agent would hand the same ports out again;
// a persistent agent leaves all its tasks running when it stops (the next one starts them again).
// The processes are found by their working directory or command line under dir (each task runs in
// its allocation folder; each executor names its log file there). Each task's secrets/ and private/
// are tmpfs mounts the agent leaves behind too; they are detached so dir can be removed.
func reapUnder(dir string) (int, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return 0, err
	}
	prefix := abs + string(filepath.Separator)
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0, nil // not Linux: nothing to reap this way
	}
	var killed []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		cwd, _ := os.Readlink(fmt.Sprintf("/proc/%d/cwd", pid))
		cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if strings.HasPrefix(cwd+string(filepath.Separator), prefix) || bytes.Contains(cmdline, []byte(prefix)) {
			if syscall.Kill(pid, syscall.SIGKILL) == nil {
				killed = append(killed, pid)
			}
		}
	}
	// Wait (briefly) until they are gone, so that nothing writes under dir while it is removed.
	deadline := time.Now().Add(5 * time.Second)
	for _, pid := range killed {
		for time.Now().Before(deadline) {
			if _, err := os.Stat(fmt.Sprintf("/proc/%d/cwd", pid)); err != nil {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	var errs []error
	for _, m := range mountsUnder(prefix) {
		if err := syscall.Unmount(m, syscall.MNT_DETACH); err != nil && !errors.Is(err, syscall.EINVAL) {
			errs = append(errs, fmt.Errorf("unmount %s: %w", m, err))
		}
	}
	return len(killed), errors.Join(errs...)
}

// mountsUnder lists the mount points below prefix, deepest first.
func mountsUnder(prefix string) []string {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 5 {
			continue
		}
		// Field 5 is the mount point, with spaces and the like escaped in octal (\040).
		m, err := strconv.Unquote(`"` + strings.ReplaceAll(fields[4], `"`, `\"`) + `"`)
		if err != nil {
			m = fields[4]
		}
		if strings.HasPrefix(m, prefix) {
			out = append(out, m)
		}
	}
	sort.Slice(out, func(i, j int) bool { return len(out[i]) > len(out[j]) })
	return out
}
