package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/otterscale/kubectl-otterscale/internal/daemon"
)

// repo makes a git repository with the given files (path to size) added to
// the index, as `git add` leaves them before a commit.
func repo(t *testing.T, files map[string]int) string {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		daemon.Absent(t, "git is not installed")
	}
	dir := t.TempDir()
	run := func(args ...string) {
		t.Helper()
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	run("init", "-q")
	for p, n := range files {
		full := filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, bytes.Repeat([]byte{'x'}, n), 0o644); err != nil {
			t.Fatal(err)
		}
		run("add", p)
	}
	return dir
}

func TestCheck(t *testing.T) {
	const limit = 1 << 20
	cases := []struct {
		name    string
		files   map[string]int
		allow   map[string]bool
		untrack string // a large file written but never added
		want    []string
	}{
		{name: "small files pass", files: map[string]int{"a.go": 10, "b/c.txt": limit}},
		{name: "one byte over fails", files: map[string]int{"a.go": 10, "sandbox": limit + 1}, want: []string{"sandbox (1.0 MiB)"}},
		{name: "every large file is named", files: map[string]int{"x/big": 3 << 20, "y/big": 2 << 20}, want: []string{"x/big (3.0 MiB)", "y/big (2.0 MiB)"}},
		{name: "allow-listed passes", files: map[string]int{"testdata/blob": 2 << 20}, allow: map[string]bool{"testdata/blob": true}},
		{name: "untracked is not git's", files: map[string]int{"a.go": 1}, untrack: "bin/kubectl-otterscale"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := repo(t, tc.files)
			if tc.untrack != "" {
				p := filepath.Join(dir, tc.untrack)
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, make([]byte, 2<<20), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			var out bytes.Buffer
			err := check(&out, dir, limit, tc.allow)
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("check: %v\n%s", err, out.String())
				}
				return
			}
			if err == nil {
				t.Fatalf("check passed; want it to name %v", tc.want)
			}
			if !strings.Contains(err.Error(), "larger than 1.0 MiB") {
				t.Errorf("error %q does not state the rule", err)
			}
			var got []string
			for _, l := range strings.Split(strings.TrimSpace(out.String()), "\n") {
				got = append(got, strings.TrimSpace(l))
			}
			if strings.Join(got, "|") != strings.Join(tc.want, "|") {
				t.Errorf("named %q, want %q", got, tc.want)
			}
		})
	}
}

// The repository itself must pass: this is what `make lint` checks.
func TestRepositoryPasses(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		daemon.Absent(t, "git is not installed")
	}
	var out bytes.Buffer
	if err := check(&out, "../..", 1<<20, nil); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
}
