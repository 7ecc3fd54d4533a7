package templates

import (
	"fmt"
	"io/fs"
)

// The control plane's own jobspecs: `spaces serve` as a Nomad job of two instances, on the
// cluster it drives. Unlike the spaces' jobspecs they are plain Nomad jobspecs with HCL2
// variables (nomad job run -var …), run by an operator, not rendered by this program.
const (
	// ControlPlane runs the spaces image on the docker driver (production).
	ControlPlane = "spaces"
	// ControlPlaneDev runs the spaces binary on raw_exec (tests, development).
	ControlPlaneDev = "spaces-dev"
)

// ControlPlaneJobspec is the embedded control plane jobspec of that name, for
// Jobs().ParseHCLOpts with its variables.
func ControlPlaneJobspec(name string) (string, error) {
	if name != ControlPlane && name != ControlPlaneDev {
		return "", fmt.Errorf("control plane jobspec: unknown %q (want %s or %s)", name, ControlPlane, ControlPlaneDev)
	}
	b, err := fs.ReadFile(embedded, FileName(name))
	if err != nil {
		return "", fmt.Errorf("read embedded jobspec %s: %w", FileName(name), err)
	}
	return string(b), nil
}
