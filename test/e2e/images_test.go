package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/otterscale/kubectl-otterscale/internal/cephenv"
	"github.com/otterscale/kubectl-otterscale/internal/testenv"
)

// pool list and image create, resize and delete as a user runs them:
// `kubectl otterscale ...` through the real kubectl, against the real
// Ceph, each result checked with rbd.
func TestImagesThroughKubectl(t *testing.T) {
	env, c := testenv.Require(t), cephenv.Require(t)
	dir := pluginOnPath(t)
	key := filepath.Join(t.TempDir(), "key")
	if err := os.WriteFile(key, []byte(c.AdminKey), 0o600); err != nil {
		t.Fatal(err)
	}
	ceph := []string{"--ceph-mon-host", c.MonHost, "--ceph-key-file", key}
	spec := c.Pool + "/e2e-admin"
	steps := []struct {
		args   []string
		code   int
		stdout string
		stderr string
	}{
		{[]string{"pool", "list", "--application", "block", "-o", "name"}, 0, c.Pool + "\n", ""},
		{[]string{"image", "create", spec, "--size", "8Mi", "--features", "layering"}, 0, "image " + spec + " created", ""},
		{[]string{"image", "create", spec, "--size", "8Mi"}, 4, "", "already exists"},
		{[]string{"image", "create", spec + "2", "--size", "0"}, 2, "", "--size: must be positive"},
		{[]string{"image", "resize", spec, "--size", "16Mi"}, 0, "resized to 16MiB", ""},
		{[]string{"image", "resize", spec, "--size", "4Mi"}, 5, "", "--allow-shrink"},
		{[]string{"image", "resize", spec, "--size", "4Mi", "--allow-shrink"}, 0, "resized to 4MiB", ""},
		{[]string{"image", "delete", spec}, 2, "", "pass --yes to confirm"},
		{[]string{"image", "delete", spec, "--yes"}, 0, "image " + spec + " deleted", ""},
		{[]string{"image", "delete", spec, "--yes"}, 3, "", "not found"},
	}
	for _, s := range steps {
		args := slices.Concat([]string{"otterscale", s.args[0]}, ceph, s.args[1:])
		r := kubectl(t, env, dir, args...)
		if r.code != s.code || !strings.Contains(r.stdout, s.stdout) || !strings.Contains(r.stderr, s.stderr) {
			t.Errorf("kubectl %s: exit %d (want %d)\nstdout: %s\nstderr: %s\nwant stdout containing %q and stderr containing %q",
				strings.Join(s.args, " "), r.code, s.code, r.stdout, r.stderr, s.stdout, s.stderr)
		}
		if strings.Contains(r.stdout+r.stderr, c.AdminKey) {
			t.Errorf("kubectl %s printed the key", strings.Join(s.args, " "))
		}
	}
	out, err := c.RBD(t.Context(), "ls", c.Pool, "--format", "json")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	if err := json.Unmarshal(out, &names); err != nil {
		t.Fatal(err)
	}
	if slices.Contains(names, "e2e-admin") || slices.Contains(names, "e2e-admin2") {
		t.Errorf("rbd ls after the commands: %v", names)
	}
}
