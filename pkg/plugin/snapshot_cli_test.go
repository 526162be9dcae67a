package plugin_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/otterscale/kubectl-otterscale/pkg/plugin"
	"github.com/otterscale/kubectl-otterscale/pkg/worker"
)

// The snapshot and image commands, like the others, answer --help and
// refuse bad input without reading a kubeconfig or looking for Ceph.
func TestStorageCommandsNeverReadKubeconfigEarly(t *testing.T) {
	broken := filepath.Join(t.TempDir(), "config")
	if err := os.WriteFile(broken, []byte("{{{ not a kubeconfig"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("KUBECONFIG", broken)
	for _, args := range [][]string{
		{"snapshot", "--help"},
		{"snap", "-h"},
		{"snapshots", "--help"},
		{"snapshot", "create", "--help"},
		{"snapshot", "list", "--help"},
		{"snap", "ls", "-h"},
		{"snapshot", "delete", "--help"},
		{"snapshot", "protect", "--help"},
		{"snapshot", "unprotect", "--help"},
		{"snapshot", "rollback", "--help"},
		{"image", "--help"},
		{"images", "list", "--help"},
		{"img", "list", "-h"},
		{"--kubeconfig", broken, "snap", "--ceph-mon-host", "10.0.0.1", "create", "--help"},
	} {
		r := run(t, args...)
		if r.code != plugin.ExitOK || r.stderr != "" {
			t.Errorf("%v: exit %d, stderr %q", args, r.code, r.stderr)
		}
		if !strings.Contains(r.stdout, "kubectl otterscale") || !strings.Contains(r.stdout, "/etc/ceph") {
			t.Errorf("%v: help lacks \"kubectl otterscale\" or where Ceph is found:\n%s", args, r.stdout)
		}
	}
	// Mistakes are usage errors, caught before any kubeconfig is read or
	// Ceph looked for, each naming what it expected.
	for _, tt := range []struct {
		args []string
		msg  string
	}{
		{[]string{"snapshot", "create"}, "expected one POOL/IMAGE@SNAP (or SNAP with --pvc), got 0 arguments"},
		{[]string{"snapshot", "create", "a/b@c", "d/e@f"}, "got 2 arguments"},
		{[]string{"snapshot", "create", "rbd/disk"}, `snapshot "rbd/disk": expected POOL/IMAGE@SNAP`},
		{[]string{"snapshot", "create", "disk@s1"}, "expected POOL/IMAGE@SNAP"},
		{[]string{"snapshot", "create", "rbd/disk@"}, "expected POOL/IMAGE@SNAP"},
		{[]string{"snapshot", "create", "/disk@s1"}, "expected POOL/IMAGE@SNAP"},
		{[]string{"snapshot", "create", "rbd/ns/disk@s1"}, "expected POOL/IMAGE@SNAP"},
		{[]string{"snapshot", "create", "rbd/disk@s1@s2"}, "expected POOL/IMAGE@SNAP"},
		{[]string{"snapshot", "create", "rbd/disk@s1", "--pvc", "web"}, "with --pvc, give the bare snapshot name"},
		{[]string{"snapshot", "create", "--pvc", "web"}, "expected one SNAP with --pvc"},
		{[]string{"snapshot", "create", "rbd/disk@s1", "-o", "xml"}, `unknown format "xml"`},
		{[]string{"snapshot", "create", "rbd/disk@s1", "--ceph-timeout", "0s"}, "--ceph-timeout: must be positive"},
		{[]string{"snapshot", "create", "rbd/disk@s1", "--ceph-timeout", "soon"}, "--ceph-timeout"},
		{[]string{"snapshot", "create", "rbd/disk@s1", "--bogus"}, "unknown flag"},
		{[]string{"snapshot", "list"}, "expected one POOL/IMAGE (or --pvc CLAIM)"},
		{[]string{"snapshot", "list", "rbd/disk@s1"}, "an image rather than a snapshot"},
		{[]string{"snapshot", "list", "disk"}, `image "disk": expected POOL/IMAGE`},
		{[]string{"snapshot", "list", "rbd/disk", "--pvc", "web"}, "--pvc names the image"},
		{[]string{"snapshot", "list", "rbd/disk", "-o", "table"}, `unknown format "table"`},
		{[]string{"snapshot", "delete", "rbd/disk"}, "expected POOL/IMAGE@SNAP"},
		{[]string{"snapshot", "delete", "s1", "--pvc", "web", "--yes", "extra"}, "got 2 arguments"},
		{[]string{"snapshot", "protect", "rbd@disk/s1"}, "expected POOL/IMAGE@SNAP"},
		{[]string{"snapshot", "protect", "rbd/disk@s1", "--yes"}, "unknown flag: --yes"},
		{[]string{"snapshot", "unprotect", "rbd/disk"}, "expected POOL/IMAGE@SNAP"},
		{[]string{"snapshot", "rollback", "rbd/disk@s/1"}, "expected POOL/IMAGE@SNAP"},
		{[]string{"snapshot", "rollback", "a/b@c", "-y", "--pvc", "x"}, "with --pvc, give the bare snapshot name"},
		{[]string{"snapshot", "extra"}, "takes no arguments"},
		{[]string{"image", "list", "rbd", "other"}, "expected at most one POOL, got 2 arguments"},
		{[]string{"image", "list", "-o", "xml"}, `unknown format "xml"`},
		{[]string{"image", "rbd"}, "takes no arguments"},
	} {
		r := run(t, tt.args...)
		if r.code != plugin.ExitUsage || !strings.Contains(r.stderr, tt.msg) || strings.Contains(r.stderr, "kubeconfig") {
			t.Errorf("%v: exit %d, stderr %q; want a usage error (2) saying %q that never mentions the kubeconfig", tt.args, r.code, r.stderr, tt.msg)
		}
	}
	// A claim needs the cluster: then the broken kubeconfig is what is wrong.
	r := run(t, "snapshot", "create", "s1", "--pvc", "web")
	if r.code != plugin.ExitPrecondition || !strings.Contains(r.stderr, "kubeconfig") {
		t.Errorf("--pvc with a broken kubeconfig: exit %d, stderr %q", r.code, r.stderr)
	}
}

// Without a Ceph worker the RBD commands say so, and what to install,
// through the exit code for a precondition.
func TestStorageCommandsWithoutCeph(t *testing.T) {
	t.Setenv(worker.PathEnv, "/nonexistent/"+worker.BinaryName)
	for _, args := range [][]string{
		{"snapshot", "create", "rbd/disk@s1", "--ceph-mon-host", "127.0.0.1:1"},
		{"snapshot", "list", "rbd/disk"},
		{"image", "list"},
	} {
		r := run(t, args...)
		if r.code != plugin.ExitPrecondition || !strings.Contains(r.stderr, "no Ceph support") {
			t.Errorf("%v: exit %d, stderr %q", args, r.code, r.stderr)
		}
	}
}
