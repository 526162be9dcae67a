package cephconf_test

import (
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/otterscale/kubectl-otterscale/internal/daemon"
)

// otterscale-ceph imports this package for Config; were it to link a
// Kubernetes client through it, every worker would carry client-go's
// package initialisation (about 20 ms of the plugin's start) and tens of
// megabytes into a process that never talks to Kubernetes. discover, which
// does, is a package of its own for that reason.
func TestWorkerLinksNoKubernetes(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		daemon.Absent(t, "no go command to list the worker's dependencies: %v", err)
	}
	const module = "github.com/otterscale/kubectl-otterscale/"
	for _, pkg := range []string{"cmd/otterscale-ceph", "pkg/cephconf"} {
		cmd := exec.CommandContext(t.Context(), goTool, "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", module+pkg)
		// The worker's main is cgo; listing needs no C compiler.
		cmd.Env = append(os.Environ(), "CGO_ENABLED=1")
		out, err := cmd.Output()
		if err != nil {
			var stderr []byte
			if ee := (*exec.ExitError)(nil); errors.As(err, &ee) {
				stderr = ee.Stderr
			}
			t.Fatalf("go list -deps %s: %v\n%s", pkg, err, stderr)
		}
		deps := strings.Fields(string(out))
		if len(deps) == 0 {
			t.Fatalf("go list -deps %s listed nothing", pkg)
		}
		var kube, other []string
		for _, d := range deps {
			switch {
			case strings.HasPrefix(d, "k8s.io/"), strings.HasPrefix(d, "sigs.k8s.io/"), strings.HasPrefix(d, "kubevirt.io/"):
				kube = append(kube, d)
			case pkg == "pkg/cephconf" && d != module+pkg:
				other = append(other, d)
			}
		}
		if len(kube) > 0 {
			t.Errorf("%s links %d Kubernetes packages (%s, ...): otterscale-ceph must not load a Kubernetes client", pkg, len(kube), kube[0])
		}
		if len(other) > 0 {
			t.Errorf("pkg/cephconf imports %s: it keeps to the standard library", strings.Join(other, ", "))
		}
	}
}
