package jobs_test

import (
	"errors"
	"os/exec"
	"strings"
	"testing"
)

// TestInsertingDoesNotImportTheWorkersDependencies keeps what inserts jobs apart from what does
// them: package jobs (imported by the web UI's handlers) must never pull in the workers, the
// provisioner or Nomad's client. Those belong to jobs/workers.
func TestInsertingDoesNotImportTheWorkersDependencies(t *testing.T) {
	for _, dep := range goListDeps(t, ".") {
		for _, banned := range []string{"github.com/hashicorp/", "github.com/assospaces/spaces/provisioner", "github.com/assospaces/spaces/jobs/workers"} {
			if strings.HasPrefix(dep, banned) {
				t.Errorf("package jobs depends on %s: move what needs it to jobs/workers", dep)
			}
		}
	}
}

// goListDeps lists the packages pkg depends on, itself included (tests excluded), as the go
// command resolves them.
func goListDeps(t *testing.T, pkg string) []string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to list the dependencies: %v", err)
	}
	out, err := exec.Command(goBin, "list", "-deps", "-f", "{{.ImportPath}}", pkg).Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("go list -deps %s: %v\n%s", pkg, err, ee.Stderr)
		}
		t.Fatalf("go list -deps %s: %v", pkg, err)
	}
	return strings.Fields(string(out))
}
