//go:build cgo && pacific

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
)

// buildPlugin builds cmd/kubectl-otterscale into path, with cgo (and so
// Ceph support: GOFLAGS carries -tags pacific) or without.
func buildPlugin(t *testing.T, path string, cgo bool) {
	t.Helper()
	cmd := exec.Command("go", "build", "-trimpath", "-o", path, "./cmd/kubectl-otterscale")
	cmd.Dir = filepath.Join("..", "..")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if cgo {
		cmd.Env = append(os.Environ(), "CGO_ENABLED=1", "GOFLAGS=-buildvcs=false -tags=pacific")
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build (cgo %v): %v\n%s", cgo, err, out)
	}
}

// brokenELF builds a real executable that needs a shared library which is
// gone by the time it runs: the dynamic loader refuses it (exit 127) before
// main, as it refuses otterscale-ceph on a host without librbd1.
func brokenELF(t *testing.T, path string) {
	t.Helper()
	dir := t.TempDir()
	write := func(name, src string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	lib := write("gone.c", "int gone(void) { return 0; }\n")
	main := write("main.c", "int gone(void);\nint main(void) { return gone(); }\n")
	for _, args := range [][]string{
		{"-shared", "-fPIC", "-o", filepath.Join(dir, "libgone.so"), lib},
		{"-o", path, main, "-L" + dir, "-lgone"},
	} {
		if out, err := exec.Command("gcc", args...).CombinedOutput(); err != nil {
			t.Fatalf("gcc %v: %v\n%s", args, err, out)
		}
	}
	if err := os.Remove(filepath.Join(dir, "libgone.so")); err != nil {
		t.Fatal(err)
	}
	err := exec.Command(path).Run()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 127 {
		t.Fatalf("the broken helper ran: %v", err)
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

// runBinary runs a built binary with PATH set to path.
func runBinary(t *testing.T, path, bin string, args ...string) result {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), bin, args...)
	cmd.Env = append(os.Environ(), "PATH="+path)
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

// The release layout: the cgo-free kubectl-otterscale hands RBD commands to
// otterscale-ceph beside it (or on PATH), found through Krew's symlink too;
// with a helper that cannot start, or none, it still runs and says plainly
// that it has no Ceph support.
func TestCgoFreeBinaryUsesCephHelper(t *testing.T) {
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
	helper := filepath.Join(release, plugin.CephHelperName)
	buildPlugin(t, self, false)
	// make test has built the Ceph-enabled binary already.
	if built := os.Getenv("OTTERSCALE_BINARY"); built != "" {
		copyFile(t, built, helper)
	} else {
		buildPlugin(t, helper, true)
	}

	// The cgo-free binary itself has no Ceph support: run alone, it says so.
	alone := filepath.Join(t.TempDir(), "kubectl-otterscale")
	copyFile(t, self, alone)
	r := runBinary(t, basePath, alone, append([]string{"snapshot", "list", spec}, ceph...)...)
	if r.code != plugin.ExitPrecondition || !strings.Contains(r.stderr, "no Ceph support") ||
		!strings.Contains(r.stderr, "linux/amd64") || !strings.Contains(r.stderr, "librbd1") ||
		!strings.Contains(r.stderr, "note: no otterscale-ceph next to this binary or on PATH") {
		t.Errorf("no helper: exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
	r = runBinary(t, basePath, alone, "version")
	if r.code != 0 || !strings.Contains(r.stdout, "cgo-free build without Ceph support") {
		t.Errorf("version without a helper: exit %d, %q %q", r.code, r.stdout, r.stderr)
	}

	// Beside it, the helper does the work: what Ceph holds shows, and what
	// it creates is in Ceph.
	r = runBinary(t, basePath, self, append([]string{"snapshot", "list", spec}, ceph...)...)
	r.want(t, plugin.ExitOK, "from-rbd")
	r = runBinary(t, basePath, self, append([]string{"snap", "create", spec + "@through-helper"}, ceph...)...)
	r.want(t, plugin.ExitOK, "created")
	if _, ok := snapLs(t, c, spec)["through-helper"]; !ok {
		t.Errorf("rbd snap ls does not show the snapshot made through the helper")
	}
	r = runBinary(t, basePath, self, "version")
	r.want(t, plugin.ExitOK, "cgo-free build; RBD commands run "+helper)

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

	// Commands that need no Ceph never start the helper: with a broken
	// one beside the binary, they run as usual.
	broken := t.TempDir()
	brokenSelf := filepath.Join(broken, "kubectl-otterscale")
	copyFile(t, self, brokenSelf)
	brokenELF(t, filepath.Join(broken, plugin.CephHelperName))
	r = runBinary(t, basePath, brokenSelf, "dv", "list", "--kubeconfig", env.Kubeconfig, "-A")
	if r.code != 0 || strings.Contains(r.stderr, "otterscale-ceph") {
		t.Errorf("dv list beside a broken helper: exit %d, stderr %q", r.code, r.stderr)
	}

	// A helper whose shared library is missing: the command runs here and
	// answers failed_precondition, naming what to install; never the
	// loader's own error.
	r = runBinary(t, basePath, brokenSelf, append([]string{"snapshot", "list", spec}, ceph...)...)
	if r.code != plugin.ExitPrecondition || !strings.Contains(r.stderr, "no Ceph support") ||
		!strings.Contains(r.stderr, "librados2") || !strings.Contains(r.stderr, "the shared library libgone.so is missing") ||
		strings.Contains(r.stderr, "error while loading shared libraries") || r.stdout != "" {
		t.Errorf("broken helper: exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
	r = runBinary(t, basePath, brokenSelf, "version", "-o", "json")
	r.want(t, plugin.ExitOK, `"working": false`)
	if !strings.Contains(r.stdout, `"build": "cgo-free"`) || !strings.Contains(r.stdout, "libgone.so is missing") {
		t.Errorf("version -o json beside a broken helper:\n%s", r.stdout)
	}

	// The Ceph-enabled binary never hands a command on: renamed as the
	// plugin with a broken helper beside it, it does the work itself.
	copyFile(t, helper, brokenSelf)
	r = runBinary(t, basePath, brokenSelf, append([]string{"snapshot", "list", spec, "-o", "name"}, ceph...)...)
	r.want(t, plugin.ExitOK, spec+"@from-rbd")
	runBinary(t, basePath, brokenSelf, "version").want(t, plugin.ExitOK, "with Ceph support")
}
