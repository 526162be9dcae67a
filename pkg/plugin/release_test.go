package plugin_test

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/otterscale/kubectl-otterscale/internal/cephenv"
	"github.com/otterscale/kubectl-otterscale/internal/testenv"
	"github.com/otterscale/kubectl-otterscale/pkg/plugin"
	"github.com/otterscale/kubectl-otterscale/pkg/worker"
)

// buildPlugin builds cmd/kubectl-otterscale, cgo-free as always, into path.
func buildPlugin(t *testing.T, path string) {
	t.Helper()
	cmd := exec.Command("go", "build", "-trimpath", "-o", path, "./cmd/kubectl-otterscale")
	cmd.Dir = filepath.Join("..", "..")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, data, 0o755); err != nil {
		t.Fatal(err)
	}
}

// runBinary runs a built binary with PATH set to path, and without the
// tests' $OTTERSCALE_CEPH_WORKER, so that it looks for the worker as a
// user's does.
func runBinary(t *testing.T, path, bin string, args ...string) result {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), bin, args...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, worker.PathEnv+"=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "PATH="+path)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	code := 0
	if exit := (*exec.ExitError)(nil); errors.As(err, &exit) {
		code = exit.ExitCode()
	} else if err != nil {
		t.Fatalf("%s: %v", bin, err)
	}
	return result{out.String(), errOut.String(), code}
}

// The release layout: the cgo-free kubectl-otterscale runs its Ceph calls
// in otterscale-ceph beside it (or on PATH), found through Krew's symlink
// too; with a worker that cannot start, or none, it still runs and says
// plainly that it has no Ceph support.
func TestReleaseLayoutRunsCephWorker(t *testing.T) {
	c := cephenv.Require(t)
	env := testenv.Require(t)
	ctx := t.Context()
	if err := c.CreateImage(ctx, "helper-disk", 16<<20); err != nil {
		t.Fatal(err)
	}
	spec := c.Pool + "/helper-disk"
	if _, err := c.RBD(ctx, "snap", "create", spec+"@from-rbd"); err != nil {
		t.Fatal(err)
	}
	key := filepath.Join(t.TempDir(), "key")
	if err := os.WriteFile(key, []byte(c.AdminKey), 0o600); err != nil {
		t.Fatal(err)
	}
	ceph := []string{"--kubeconfig", env.Kubeconfig, "--ceph-mon-host", c.MonHost, "--ceph-key-file", key}
	basePath := "/usr/bin:/bin"

	release := t.TempDir()
	self := filepath.Join(release, "kubectl-otterscale")
	helper := filepath.Join(release, worker.BinaryName)
	buildPlugin(t, self)
	// cephenv's TestMain has found or built the worker.
	copyFile(t, os.Getenv(worker.PathEnv), helper)

	// Alone, the plugin has no Ceph support: it says so, and why.
	alone := filepath.Join(t.TempDir(), "kubectl-otterscale")
	copyFile(t, self, alone)
	r := runBinary(t, basePath, alone, append([]string{"snapshot", "list", spec}, ceph...)...)
	if r.code != plugin.ExitPrecondition || !strings.Contains(r.stderr, "no Ceph support") ||
		!strings.Contains(r.stderr, "linux/amd64") || !strings.Contains(r.stderr, "librbd1") ||
		!strings.Contains(r.stderr, "no otterscale-ceph next to this binary or on PATH") {
		t.Errorf("no worker: exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
	r = runBinary(t, basePath, alone, "version")
	if r.code != 0 || !strings.Contains(r.stdout, "without Ceph support: no otterscale-ceph") {
		t.Errorf("version without a worker: exit %d, %q %q", r.code, r.stdout, r.stderr)
	}

	// Beside it, the worker does the work: what Ceph holds shows, and what
	// it creates is in Ceph.
	r = runBinary(t, basePath, self, append([]string{"snapshot", "list", spec}, ceph...)...)
	r.want(t, plugin.ExitOK, "from-rbd")
	r = runBinary(t, basePath, self, append([]string{"snap", "create", spec + "@through-helper"}, ceph...)...)
	r.want(t, plugin.ExitOK, "created")
	if _, ok := snapLs(t, c, spec)["through-helper"]; !ok {
		t.Errorf("rbd snap ls does not show the snapshot made through the worker")
	}
	r = runBinary(t, basePath, self, "version")
	r.want(t, plugin.ExitOK, "RBD commands run "+helper)

	// Krew's layout: a symlink on PATH to the binary in its store.
	bin := t.TempDir()
	if err := os.Symlink(self, filepath.Join(bin, "kubectl-otterscale")); err != nil {
		t.Fatal(err)
	}
	r = runBinary(t, bin+":"+basePath, filepath.Join(bin, "kubectl-otterscale"), append([]string{"image", "list", c.Pool, "-o", "name"}, ceph...)...)
	r.want(t, plugin.ExitOK, "helper-disk")

	// Only on PATH.
	r = runBinary(t, release+":"+basePath, alone, append([]string{"snapshot", "list", spec, "-o", "name"}, ceph...)...)
	r.want(t, plugin.ExitOK, spec+"@through-helper")

	// Commands that need no Ceph never start the worker: with a broken
	// one beside the binary, they run as usual.
	broken := t.TempDir()
	brokenSelf := filepath.Join(broken, "kubectl-otterscale")
	copyFile(t, self, brokenSelf)
	cephenv.BrokenBinary(t, filepath.Join(broken, worker.BinaryName), "libgone.so")
	r = runBinary(t, basePath, brokenSelf, "dv", "list", "--kubeconfig", env.Kubeconfig, "-A")
	if r.code != 0 || strings.Contains(r.stderr, "otterscale-ceph") {
		t.Errorf("dv list beside a broken worker: exit %d, stderr %q", r.code, r.stderr)
	}

	// A worker whose shared library is missing: the command answers
	// failed_precondition, naming what to install; never the loader's own
	// error.
	r = runBinary(t, basePath, brokenSelf, append([]string{"snapshot", "list", spec}, ceph...)...)
	if r.code != plugin.ExitPrecondition || !strings.Contains(r.stderr, "no Ceph support") ||
		!strings.Contains(r.stderr, "librados2") || !strings.Contains(r.stderr, "the shared library libgone.so is missing") ||
		strings.Contains(r.stderr, "error while loading shared libraries") || r.stdout != "" {
		t.Errorf("broken worker: exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
	r = runBinary(t, basePath, brokenSelf, "version", "-o", "json")
	r.want(t, plugin.ExitOK, `"working": false`)
	if !strings.Contains(r.stdout, "libgone.so is missing") {
		t.Errorf("version -o json beside a broken worker:\n%s", r.stdout)
	}

	// The worker is started by the plugin, not by hand.
	r = runBinary(t, basePath, helper)
	if r.code != 2 || !strings.Contains(r.stderr, "not run by hand") {
		t.Errorf("otterscale-ceph run by hand: exit %d, stderr %q", r.code, r.stderr)
	}
}
