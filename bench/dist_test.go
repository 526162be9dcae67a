package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/otterscale/kubectl-otterscale/internal/daemon"
)

// The release section against a real archive made of real executables:
// every binary is timed cold (its file out of the page cache), the sizes are
// the archive's, and a missing dist/ is said, not an error.
func TestDistSection(t *testing.T) {
	truePath, err := exec.LookPath("true")
	if err != nil {
		daemon.Absent(t, "no true(1) (coreutils)")
	}
	data, err := os.ReadFile(truePath)
	if err != nil {
		t.Fatal(err)
	}
	src, dist := t.TempDir(), t.TempDir()
	var files []string
	for _, name := range []string{"kubectl-otterscale", "otterscale-ceph", "LICENSE"} {
		if err := os.WriteFile(filepath.Join(src, name), data, 0o755); err != nil {
			t.Fatal(err)
		}
		files = append(files, name)
	}
	archive := filepath.Join(dist, "kubectl-otterscale_v1.2.3_"+hostPlatform()+".tar.gz")
	cmd := exec.Command("tar", append([]string{"-czf", archive, "-C", src}, files...)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("tar: %v\n%s", err, out)
	}

	d, err := measureDist(t.Context(), dist, truePath, t.TempDir(), 3)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.archives) != 1 || len(d.archives[0].files) != 3 || d.skipped != "" {
		t.Fatalf("archives %+v, skipped %q", d.archives, d.skipped)
	}
	if len(d.cold) != 3 {
		t.Fatalf("cold commands: %d, want the plugin, kubectl and otterscale-ceph", len(d.cold))
	}
	for _, c := range d.cold {
		if len(c.times) != 3 || slicesMin(c.times) <= 0 {
			t.Errorf("%s: times %v", c.label, c.times)
		}
		if c.resident > 0.5 {
			t.Errorf("%s: %.0f%% of the file was still cached before a run", c.label, 100*c.resident)
		}
	}
	var b bytes.Buffer
	w := tabwriter.NewWriter(&b, 0, 0, 3, ' ', 0)
	if err := distSection(w, d, truePath); err != nil {
		t.Fatal(err)
	}
	_ = w.Flush()
	for _, want := range []string{filepath.Base(archive), "otterscale-ceph", "Cold start", "kubectl-otterscale / kubectl"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("section lacks %q:\n%s", want, b.String())
		}
	}

	empty, err := measureDist(t.Context(), t.TempDir(), truePath, t.TempDir(), 3)
	if err != nil || !strings.Contains(empty.skipped, "make dist") {
		t.Errorf("no archives: %+v, %v", empty, err)
	}
}

func slicesMin(ts []time.Duration) time.Duration {
	m := ts[0]
	for _, t := range ts {
		m = min(m, t)
	}
	return m
}
