package plugin_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/otterscale/kubectl-otterscale/internal/cephenv"
	"github.com/otterscale/kubectl-otterscale/internal/testenv"
	"github.com/otterscale/kubectl-otterscale/pkg/plugin"
)

// rbdLs is `rbd ls` of the test pool.
func rbdLs(t *testing.T, c *cephenv.Cluster) []string {
	t.Helper()
	out, err := c.RBD(t.Context(), "ls", c.Pool, "--format", "json")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	if err := json.Unmarshal(out, &names); err != nil {
		t.Fatal(err)
	}
	return names
}

// rbdInfo is what `rbd info --format json` says of an image.
func rbdInfo(t *testing.T, c *cephenv.Cluster, spec string) (info struct {
	Size        uint64   `json:"size"`
	ObjectSize  uint64   `json:"object_size"`
	StripeUnit  uint64   `json:"stripe_unit"`
	StripeCount uint64   `json:"stripe_count"`
	Features    []string `json:"features"`
}) {
	t.Helper()
	out, err := c.RBD(t.Context(), "info", spec, "--format", "json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(out, &info); err != nil {
		t.Fatal(err)
	}
	return info
}

// pool list, image create, resize and delete against the real Ceph, with
// the results checked through the rbd and ceph CLIs, and their exit codes.
func TestPoolAndImageCommands(t *testing.T) {
	c := cephenv.Require(t)
	env := testenv.Require(t)
	ctx := t.Context()
	key := filepath.Join(t.TempDir(), "key")
	if err := os.WriteFile(key, []byte(c.AdminKey), 0o600); err != nil {
		t.Fatal(err)
	}
	ceph := []string{"--kubeconfig", env.Kubeconfig, "--ceph-mon-host", c.MonHost, "--ceph-key-file", key}
	k := func(args ...string) result {
		return run(t, append(append([]string{args[0]}, ceph...), args[1:]...)...)
	}

	// pool list: the table, the filter and the API's JSON.
	r := k("pool", "list")
	r.want(t, plugin.ExitOK, "replicated x1")
	if !strings.Contains(r.stdout, c.Pool) || !strings.Contains(r.stdout, "block") {
		t.Errorf("pool list:\n%s", r.stdout)
	}
	k("pool", "list", "--application", "block", "-o", "name").want(t, plugin.ExitOK, c.Pool+"\n")
	r = k("pool", "ls", "-o", "json", "--application", "block")
	var pools struct {
		Pools []map[string]any `json:"pools"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &pools); err != nil || len(pools.Pools) != 1 ||
		pools.Pools[0]["type"] != "TYPE_REPLICATED" || !slices.Equal(pools.Pools[0]["applications"].([]any), []any{"APPLICATION_BLOCK"}) {
		t.Errorf("pool list -o json: %s (%v)", r.stdout, err)
	}
	if r := k("pool", "list", "--application", "tape"); r.code != plugin.ExitUsage {
		t.Errorf("--application tape: %+v", r)
	}

	// image create, with every layout flag.
	spec := c.Pool + "/cli-img"
	k("image", "create", spec, "--size", "16Mi", "--object-size", "1Mi", "--stripe-unit", "256Ki", "--stripe-count", "2",
		"--features", "layering,exclusive-lock").want(t, plugin.ExitOK, "image "+spec+" created")
	info := rbdInfo(t, c, spec)
	if info.Size != 16<<20 || info.ObjectSize != 1<<20 || info.StripeUnit != 256<<10 || info.StripeCount != 2 ||
		!slices.Contains(info.Features, "exclusive-lock") || slices.Contains(info.Features, "object-map") {
		t.Errorf("rbd info after create: %+v", info)
	}
	r = k("image", "create", c.Pool+"/cli-json", "--size", "4Mi", "-o", "json")
	r.want(t, plugin.ExitOK, `"quotaBytes": "4194304"`)

	// resize: grow; shrink only with --allow-shrink.
	k("image", "resize", spec, "--size", "32Mi").want(t, plugin.ExitOK, "resized to 32MiB")
	if r := k("image", "resize", spec, "--size", "8Mi"); r.code != plugin.ExitPrecondition || !strings.Contains(r.stderr, "--allow-shrink") {
		t.Errorf("shrink without --allow-shrink: %+v", r)
	}
	if got := rbdInfo(t, c, spec).Size; got != 32<<20 {
		t.Errorf("a refused shrink left size %d", got)
	}
	k("image", "resize", spec, "--size", "8Mi", "--allow-shrink").want(t, plugin.ExitOK, "resized to 8MiB")
	if got := rbdInfo(t, c, spec).Size; got != 8<<20 {
		t.Errorf("size %d after shrink", got)
	}

	// delete: refused with a snapshot, and off a terminal without --yes.
	if _, err := c.RBD(ctx, "snap", "create", spec+"@keep"); err != nil {
		t.Fatal(err)
	}
	if r := k("image", "delete", spec, "--yes"); r.code != plugin.ExitPrecondition || !strings.Contains(r.stderr, "snapshot(s) (keep)") {
		t.Errorf("delete with a snapshot: %+v", r)
	}
	if _, err := c.RBD(ctx, "snap", "rm", "--no-progress", spec+"@keep"); err != nil {
		t.Fatal(err)
	}
	if r := k("image", "delete", spec); r.code != plugin.ExitUsage || !strings.Contains(r.stderr, "--yes") {
		t.Errorf("delete off a terminal without --yes: %+v", r)
	}
	if !slices.Contains(rbdLs(t, c), "cli-img") {
		t.Fatal("a refused delete deleted the image")
	}
	k("image", "delete", spec, c.Pool+"/cli-json", "--yes").want(t, plugin.ExitOK, "image "+spec+" deleted\nimage "+c.Pool+"/cli-json deleted\n")
	if names := rbdLs(t, c); slices.Contains(names, "cli-img") || slices.Contains(names, "cli-json") {
		t.Errorf("rbd ls after delete: %v", names)
	}

	for _, tt := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"image", "create", spec}, plugin.ExitUsage, "--size is required"},
		{[]string{"image", "create", spec, "--size", "ten"}, plugin.ExitUsage, "--size"},
		{[]string{"image", "create", spec, "--size", "1Mi", "--features", "journaling"}, plugin.ExitUsage, `unknown feature "journaling"`},
		{[]string{"image", "create", spec, "--size", "1Mi", "--features", "object-map"}, plugin.ExitUsage, "object-map needs exclusive-lock"},
		{[]string{"image", "create", spec, "--size", "1Mi", "--object-size", "3Mi"}, plugin.ExitUsage, "not a power of two"},
		{[]string{"image", "create", "nopool/x", "--size", "1Mi"}, plugin.ExitNotFound, `pool "nopool" not found`},
		{[]string{"image", "create", "x", "--size", "1Mi"}, plugin.ExitUsage, "POOL/IMAGE"},
		{[]string{"image", "resize", c.Pool + "/nope", "--size", "1Mi"}, plugin.ExitNotFound, "not found"},
		{[]string{"image", "delete", c.Pool + "/nope", "--yes"}, plugin.ExitNotFound, "not found"},
	} {
		if r := k(tt.args...); r.code != tt.code || !strings.Contains(r.stderr, tt.msg) {
			t.Errorf("%v: exit %d, stderr %q; want %d and %q", tt.args, r.code, r.stderr, tt.code, tt.msg)
		}
	}
	if names := rbdLs(t, c); slices.Contains(names, "cli-img") || slices.Contains(names, "x") {
		t.Errorf("refused commands left images: %v", names)
	}

	// A VM's use of the image blocks shrink and delete.
	k("image", "create", spec, "--size", "8Mi").want(t, plugin.ExitOK, "created")
	w := exec.CommandContext(ctx, "rbd", "-c", c.Conf, "watch", spec)
	stdin, err := w.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	for range 100 {
		if out, _ := c.RBD(ctx, "status", spec); strings.Contains(string(out), "watcher=") {
			break
		}
	}
	if r := k("image", "resize", spec, "--size", "4Mi", "--allow-shrink"); r.code != plugin.ExitPrecondition || !strings.Contains(r.stderr, "in use") {
		t.Errorf("shrink while watched: %+v", r)
	}
	if r := k("image", "delete", spec, "--yes"); r.code != plugin.ExitPrecondition || !strings.Contains(r.stderr, "in use") {
		t.Errorf("delete while watched: %+v", r)
	}
	_ = stdin.Close()
	_ = w.Wait()
	for range 100 {
		if out, _ := c.RBD(ctx, "status", spec); !strings.Contains(string(out), "watcher=") {
			break
		}
	}
	k("image", "delete", spec, "--yes").want(t, plugin.ExitOK, "deleted")
}
