package plugin_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/otterscale/kubectl-otterscale/internal/cephenv"
	"github.com/otterscale/kubectl-otterscale/internal/testenv"
	"github.com/otterscale/kubectl-otterscale/pkg/plugin"
)

// snapLs is what `rbd snap ls --format json` says.
func snapLs(t *testing.T, c *cephenv.Cluster, spec string) map[string]string {
	t.Helper()
	out, err := c.RBD(t.Context(), "snap", "ls", spec, "--format", "json")
	if err != nil {
		t.Fatal(err)
	}
	var snaps []struct{ Name, Protected string }
	if err := json.Unmarshal(out, &snaps); err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	for _, s := range snaps {
		m[s.Name] = s.Protected
	}
	return m
}

// The snapshot and image commands against the real Ceph, with the results
// checked through the rbd CLI.
func TestSnapshotCommands(t *testing.T) {
	c := cephenv.Require(t)
	env := testenv.Require(t)
	ctx := t.Context()
	if err := c.CreateImage(ctx, "vm-disk", 32<<20); err != nil {
		t.Fatal(err)
	}
	if err := c.WriteImage(ctx, "vm-disk", 0, []byte(strings.Repeat("x", 1<<20))); err != nil {
		t.Fatal(err)
	}
	key := filepath.Join(t.TempDir(), "key")
	if err := os.WriteFile(key, []byte(c.AdminKey), 0o600); err != nil {
		t.Fatal(err)
	}
	ceph := []string{"--kubeconfig", env.Kubeconfig, "--ceph-mon-host", c.MonHost, "--ceph-key-file", key}
	k := func(args ...string) result {
		// Ceph flags belong to the snapshot and image groups.
		return run(t, append(append([]string{args[0]}, ceph...), args[1:]...)...)
	}
	spec := c.Pool + "/vm-disk"

	k("snapshot", "create", spec+"@before").want(t, plugin.ExitOK, "snapshot "+spec+"@before created")
	r := k("snap", "create", spec+"@second", "-o", "json")
	r.want(t, plugin.ExitOK, `"name": "second"`)
	var created map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &created); err != nil || created["protected"] != false || created["quotaBytes"] != "33554432" {
		t.Errorf("create -o json = %s (%v)", r.stdout, err)
	}
	if got := snapLs(t, c, spec); len(got) != 2 {
		t.Fatalf("rbd snap ls: %v", got)
	}
	r = k("snapshot", "list", spec)
	r.want(t, plugin.ExitOK, "PROTECTED")
	if !strings.Contains(r.stdout, "before") || !strings.Contains(r.stdout, "32MiB") || !strings.Contains(r.stdout, "4MiB") {
		t.Errorf("list:\n%s", r.stdout)
	}
	k("snapshot", "protect", spec+"@before").want(t, plugin.ExitOK, "protected")
	if snapLs(t, c, spec)["before"] != "true" {
		t.Error("rbd does not see the protection")
	}
	if r := k("snapshot", "delete", spec+"@before"); r.code != plugin.ExitPrecondition || !strings.Contains(r.stderr, "unprotect it first") {
		t.Errorf("delete protected: %+v", r)
	}
	k("snapshot", "unprotect", spec+"@before").want(t, plugin.ExitOK, "unprotected")
	k("snapshot", "rollback", spec+"@before", "--yes").want(t, plugin.ExitOK, "rolled back")
	k("snapshot", "delete", spec+"@second").want(t, plugin.ExitOK, "deleted")
	if got := snapLs(t, c, spec); len(got) != 1 || got["before"] != "false" {
		t.Errorf("rbd snap ls after delete: %v", got)
	}
	r = k("image", "list", c.Pool)
	r.want(t, plugin.ExitOK, "vm-disk")
	r = k("image", "list", "-o", "json")
	var images struct {
		Images []map[string]any `json:"images"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &images); err != nil || len(images.Images) == 0 {
		t.Errorf("image list -o json: %s (%v)", r.stdout, err)
	}

	for _, tt := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"snapshot", "create", spec + "@before"}, plugin.ExitExists, "already exists"},
		{[]string{"snapshot", "create", c.Pool + "/nope@a"}, plugin.ExitNotFound, `image "nope" not found`},
		{[]string{"snapshot", "delete", spec + "@gone", "--yes"}, plugin.ExitNotFound, "not found"},
		{[]string{"snapshot", "create", "rbd-vm-disk@x"}, plugin.ExitUsage, "POOL/IMAGE@SNAP"},
		{[]string{"snapshot", "create", spec + "@" + strings.Repeat("s", 300)}, plugin.ExitUsage, "at most"},
	} {
		if r := k(tt.args...); r.code != tt.code || !strings.Contains(r.stderr, tt.msg) {
			t.Errorf("%v: exit %d, stderr %q; want %d and %q", tt.args, r.code, r.stderr, tt.code, tt.msg)
		}
	}

	// --pvc finds the image behind a ceph-csi claim.
	ns := "snap-pvc"
	image := csiClaimImage(t, env, c, ns)
	k("snapshot", "create", "nightly", "--pvc", "web", "-n", ns).want(t, plugin.ExitOK, "snapshot "+c.Pool+"/"+image+"@nightly created")
	if _, ok := snapLs(t, c, c.Pool+"/"+image)["nightly"]; !ok {
		t.Error("the snapshot is not on the claim's image")
	}
	k("snapshot", "list", "--pvc", "web", "-n", ns, "-o", "name").want(t, plugin.ExitOK, c.Pool+"/"+image+"@nightly\n")
	if r := k("snapshot", "create", "x", "--pvc", "missing", "-n", ns); r.code != plugin.ExitNotFound {
		t.Errorf("--pvc of a missing claim: %+v", r)
	}

	// A cluster that cannot be reached fails within the timeout and says so.
	r = run(t, "snapshot", "list", spec, "--ceph-mon-host", "127.0.0.1:1", "--ceph-key-file", key, "--ceph-timeout", "2s")
	if r.code != plugin.ExitUnavailable || !strings.Contains(r.stderr, "unreachable") {
		t.Errorf("unreachable: %+v", r)
	}
	if strings.Contains(r.stderr+r.stdout, c.AdminKey) {
		t.Error("a key was printed")
	}
}
