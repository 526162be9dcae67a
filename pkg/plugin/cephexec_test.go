package plugin

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"k8s.io/cli-runtime/pkg/genericiooptions"
)

// Which command lines a cgo-free binary hands to otterscale-ceph: the
// commands that talk to Ceph (by name or alias, after global flags, and
// their completions), and nothing else.
func TestNeedsCeph(t *testing.T) {
	root := NewCmdRoot(genericiooptions.NewTestIOStreamsDiscard())
	for _, tt := range []struct {
		args []string
		want bool
	}{
		{[]string{"snapshot", "list", "rbd/disk"}, true},
		{[]string{"snap", "ls", "rbd/disk"}, true},
		{[]string{"snapshots", "create", "rbd/disk@s1"}, true},
		{[]string{"snapshot"}, true},
		{[]string{"snapshot", "--help"}, true},
		{[]string{"image", "list"}, true},
		{[]string{"img", "ls", "rbd"}, true},
		{[]string{"proxy", "--port", "0"}, true},
		{[]string{"--kubeconfig", "/tmp/k", "snap", "ls", "rbd/disk"}, true},
		{[]string{"-n", "ns", "--context", "other", "image", "list"}, true},
		{[]string{"--namespace=ns", "proxy"}, true},
		{[]string{"snapshot", "--ceph-mon-host", "10.0.0.1", "rollback", "a/b@c"}, true},
		{[]string{"__complete", "snapshot", "list", ""}, true},
		{[]string{"__completeNoDesc", "image", "list", ""}, true},
		{[]string{"__complete", "--kubeconfig", "/tmp/k", "snap", ""}, true},

		{nil, false},
		{[]string{"version"}, false},
		{[]string{"--help"}, false},
		{[]string{"dv", "list"}, false},
		{[]string{"datavolume", "create", "snapshot"}, false},
		{[]string{"-n", "snapshot", "dv", "list"}, false},
		{[]string{"help", "snapshot"}, false},
		{[]string{"bogus"}, false},
		{[]string{"__complete", ""}, false},
		{[]string{"__complete", "sn"}, false},
		{[]string{"__complete", "dv", "get", ""}, false},
		{[]string{"completion", "bash"}, false},
	} {
		if got := NeedsCeph(root, tt.args); got != tt.want {
			t.Errorf("NeedsCeph(%q) = %v, want %v", tt.args, got, tt.want)
		}
	}
}

// Only a build without Ceph support hands commands on, and never a process
// that was itself handed one (no loops, whatever the helper turns out to be).
func TestShouldExecCeph(t *testing.T) {
	root := NewCmdRoot(genericiooptions.NewTestIOStreamsDiscard())
	env := func(m map[string]string) func(string) string {
		return func(k string) string { return m[k] }
	}
	snap := []string{"snapshot", "list", "rbd/disk"}
	for _, tt := range []struct {
		name      string
		supported bool
		env       map[string]string
		args      []string
		want      bool
	}{
		{"cgo-free, RBD command", false, nil, snap, true},
		{"cgo-free, other command", false, nil, []string{"dv", "list"}, false},
		{"Ceph build", true, nil, snap, false},
		{"already handed on", false, map[string]string{cephExecEnv: "1"}, snap, false},
		{"unrelated variable", false, map[string]string{CephProbeEnv: ""}, snap, true},
	} {
		if got := shouldExecCeph(tt.supported, env(tt.env), root, tt.args); got != tt.want {
			t.Errorf("%s: shouldExecCeph = %v, want %v", tt.name, got, tt.want)
		}
	}
}

// The helper beside the (resolved) executable wins over one on PATH; a
// directory or a file that cannot be executed does not count.
func TestFindCephHelper(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("the helper ships for linux/amd64 only")
	}
	dir, onPath := t.TempDir(), filepath.Join(t.TempDir(), CephHelperName)
	self := filepath.Join(dir, "kubectl-otterscale")
	beside := filepath.Join(dir, CephHelperName)
	lookPath := func(name string) (string, error) {
		if name != CephHelperName {
			t.Errorf("lookPath(%q)", name)
		}
		return onPath, nil
	}
	notFound := func(string) (string, error) { return "", errors.New("not found") }

	if got := findCephHelper(self, notFound); got != "" {
		t.Errorf("nothing anywhere: %q", got)
	}
	if got := findCephHelper(self, lookPath); got != onPath {
		t.Errorf("only on PATH: %q, want %q", got, onPath)
	}
	if err := os.WriteFile(beside, []byte("not executable"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := findCephHelper(self, notFound); got != "" {
		t.Errorf("a file without the executable bit: %q", got)
	}
	if err := os.Chmod(beside, 0o755); err != nil {
		t.Fatal(err)
	}
	if got := findCephHelper(self, lookPath); got != beside {
		t.Errorf("beside and on PATH: %q, want %q", got, beside)
	}
	if got := findCephHelper("", lookPath); got != onPath {
		t.Errorf("executable unknown: %q, want %q", got, onPath)
	}
	if err := os.Remove(beside); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(beside, 0o755); err != nil {
		t.Fatal(err)
	}
	if got := findCephHelper(self, notFound); got != "" {
		t.Errorf("a directory: %q", got)
	}
}

// The loader's complaint becomes the library's name.
func TestMissingLibrary(t *testing.T) {
	got := missingLibrary("/x/otterscale-ceph: error while loading shared libraries: librbd.so.1: cannot open shared object file: No such file or directory\n")
	if got != "the shared library librbd.so.1 is missing" {
		t.Errorf("missingLibrary = %q", got)
	}
	if got := missingLibrary(""); !strings.Contains(got, "shared library") {
		t.Errorf("missingLibrary(\"\") = %q", got)
	}
}
