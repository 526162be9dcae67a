package testenv

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/otterscale/kubectl-otterscale/internal/daemon"
)

// Tool finds a client the tests call the plugin or the proxy with: $envVar
// (the Makefile exports the pinned builds, e.g. OTTERSCALE_BUF), else the
// newest build of name in the tool cache (~/.cache/kubectl-otterscale/bin),
// else PATH. Missing, the test ends as daemon.Absent says.
func Tool(t testing.TB, envVar, name string) string {
	t.Helper()
	if p := os.Getenv(envVar); p != "" {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if home, err := os.UserHomeDir(); err == nil {
		matches, _ := filepath.Glob(filepath.Join(home, ".cache", "kubectl-otterscale", "bin", name+"-v*"))
		if len(matches) > 0 {
			return matches[len(matches)-1]
		}
	}
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	daemon.Absent(t, "%s is missing ($%s, the tool cache or PATH): make tools builds it", name, envVar)
	return ""
}
