package webui

import (
	"errors"
	"os/exec"
	"strings"
	"testing"
)

// TestHandlersDoNotDependOnNomad keeps the layering: handlers decide and insert jobs (package
// jobs) and read the database; they never reach Nomad, the provisioner or the workers, which run
// in `spaces serve` behind the jobs.
func TestHandlersDoNotDependOnNomad(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to list the dependencies: %v", err)
	}
	out, err := exec.Command(goBin, "list", "-deps", "-f", "{{.ImportPath}}", ".").Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("go list -deps: %v\n%s", err, ee.Stderr)
		}
		t.Fatalf("go list -deps: %v", err)
	}
	for _, dep := range strings.Fields(string(out)) {
		for _, banned := range []string{"github.com/hashicorp/", "github.com/assospaces/spaces/provisioner", "github.com/assospaces/spaces/jobs/workers"} {
			if strings.HasPrefix(dep, banned) {
				t.Errorf("package webui depends on %s: handlers insert jobs through package jobs, and what needs Nomad runs in jobs/workers", dep)
			}
		}
	}
}
