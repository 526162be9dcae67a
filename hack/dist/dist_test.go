package main

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// files writes name->content into dir and returns archive entries for them.
func files(t *testing.T, dir string, contents map[string]string) []entry {
	t.Helper()
	var es []entry
	for _, name := range []string{"kubectl-otterscale", "otterscale-ceph", "LICENSE", "kubectl_complete-otterscale"} {
		c, ok := contents[name]
		if !ok {
			continue
		}
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(c), 0o600); err != nil {
			t.Fatal(err)
		}
		mode := os.FileMode(0o755)
		if name == "LICENSE" {
			mode = 0o644
		}
		es = append(es, entry{Name: name, Path: p, Mode: mode})
	}
	return es
}

// The same inputs give the same bytes, whatever the files' own times and
// modes on disk; what is inside is the entries with their modes and the
// given time.
func TestArchivesAreReproducible(t *testing.T) {
	mtime := time.Date(2026, 11, 25, 20, 37, 43, 0, time.UTC)
	contents := map[string]string{"kubectl-otterscale": "binary", "LICENSE": "license", "kubectl_complete-otterscale": "#!/bin/sh\n"}
	for _, ext := range []string{".tar.gz", ".zip"} {
		var sums []string
		for i := range 2 {
			dir := t.TempDir()
			es := files(t, dir, contents)
			// Different times on disk must not matter.
			for _, e := range es {
				when := time.Now().Add(time.Duration(i) * time.Hour)
				if err := os.Chtimes(e.Path, when, when); err != nil {
					t.Fatal(err)
				}
			}
			out := filepath.Join(dir, "a"+ext)
			if err := writeArchive(out, es, mtime); err != nil {
				t.Fatal(err)
			}
			sum, err := sha256File(out)
			if err != nil {
				t.Fatal(err)
			}
			sums = append(sums, sum)
			got := readArchive(t, out)
			for name, want := range contents {
				if got[name].content != want || !got[name].mtime.Equal(mtime) {
					t.Errorf("%s: %s = %+v, want %q at %s", ext, name, got[name], want, mtime)
				}
			}
			if got["kubectl-otterscale"].mode != 0o755 || got["LICENSE"].mode != 0o644 {
				t.Errorf("%s: modes %v and %v", ext, got["kubectl-otterscale"].mode, got["LICENSE"].mode)
			}
		}
		if sums[0] != sums[1] {
			t.Errorf("%s: two runs gave %s and %s", ext, sums[0], sums[1])
		}
	}
}

type archived struct {
	content string
	mode    os.FileMode
	mtime   time.Time
}

func readArchive(t *testing.T, path string) map[string]archived {
	t.Helper()
	m := map[string]archived{}
	if strings.HasSuffix(path, ".zip") {
		zr, err := zip.OpenReader(path)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = zr.Close() }()
		for _, f := range zr.File {
			rc, err := f.Open()
			if err != nil {
				t.Fatal(err)
			}
			data, err := io.ReadAll(rc)
			_ = rc.Close()
			if err != nil {
				t.Fatal(err)
			}
			m[f.Name] = archived{string(data), f.Mode().Perm(), f.Modified}
		}
		return m
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	gz, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gz)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return m
		}
		if err != nil {
			t.Fatal(err)
		}
		if hdr.Uid != 0 || hdr.Gid != 0 || hdr.Uname != "" {
			t.Errorf("%s: owner %d/%d %q", hdr.Name, hdr.Uid, hdr.Gid, hdr.Uname)
		}
		body, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		m[hdr.Name] = archived{string(body), os.FileMode(hdr.Mode).Perm(), hdr.ModTime}
	}
}

// checksums.txt is what sha256sum writes: sha256sum -c accepts it, and
// catches a changed archive.
func TestChecksumsCheckWithSha256sum(t *testing.T) {
	if _, err := exec.LookPath("sha256sum"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("no sha256sum; CI must have coreutils")
		}
		t.Skip("no sha256sum")
	}
	dir := t.TempDir()
	for name, c := range map[string]string{"b.zip": "bbb", "a.tar.gz": "aaa"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := writeChecksums(dir, []string{"b.zip", "a.tar.gz"}); err != nil {
		t.Fatal(err)
	}
	sumsFile, _ := os.ReadFile(filepath.Join(dir, "checksums.txt"))
	if !strings.HasSuffix(strings.SplitN(string(sumsFile), "\n", 2)[0], "  a.tar.gz") {
		t.Errorf("checksums.txt is not sorted:\n%s", sumsFile)
	}
	check := func() error {
		cmd := exec.Command("sha256sum", "-c", "checksums.txt")
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		if err != nil {
			return errors.New(string(out))
		}
		return nil
	}
	if err := check(); err != nil {
		t.Fatalf("sha256sum -c: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "a.tar.gz"), []byte("changed"), 0o644); err != nil {
		t.Fatal(err)
	}
	if check() == nil {
		t.Error("sha256sum -c accepted a changed archive")
	}
}

// The manifest has one entry per archive found, in the release's order,
// with the archive's sha256 and otterscale-ceph only where the archive
// carries it; an archive without the plugin is refused.
func TestManifestFromArchives(t *testing.T) {
	dist := t.TempDir()
	src := t.TempDir()
	mtime := time.Unix(0, 0)
	unix := files(t, src, map[string]string{"kubectl-otterscale": "x", "LICENSE": "l", "kubectl_complete-otterscale": "c"})
	withCeph := files(t, src, map[string]string{"kubectl-otterscale": "x", "otterscale-ceph": "y", "LICENSE": "l", "kubectl_complete-otterscale": "c"})
	win := []entry{
		{Name: "kubectl-otterscale.exe", Path: unix[0].Path, Mode: 0o755},
		{Name: "kubectl_complete-otterscale.cmd", Path: unix[2].Path, Mode: 0o644},
		{Name: "LICENSE", Path: unix[1].Path, Mode: 0o644},
	}
	for name, es := range map[string][]entry{
		"kubectl-otterscale_v1.2.3_linux_amd64.tar.gz":  withCeph,
		"kubectl-otterscale_v1.2.3_darwin_arm64.tar.gz": unix,
		"kubectl-otterscale_v1.2.3_windows_amd64.zip":   win,
		"kubectl-otterscale_v1.2.2_linux_arm64.tar.gz":  unix, // another version
	} {
		if err := writeArchive(filepath.Join(dist, name), es, mtime); err != nil {
			t.Fatal(err)
		}
	}
	o := manifestOptions{Version: "v1.2.3", ReleaseURL: "https://example.test/r/", Dist: dist}
	d, err := manifestFor(o)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range d.Platforms {
		got = append(got, strings.Join([]string{p.OS, p.Arch, p.Bin, p.Complete, map[bool]string{true: "ceph", false: "-"}[p.Ceph], p.URI}, " "))
		want, _ := sha256File(filepath.Join(dist, filepath.Base(p.URI)))
		if p.SHA256 != want {
			t.Errorf("%s/%s: sha256 %s, want %s", p.OS, p.Arch, p.SHA256, want)
		}
	}
	want := []string{
		"linux amd64 kubectl-otterscale kubectl_complete-otterscale ceph https://example.test/r/kubectl-otterscale_v1.2.3_linux_amd64.tar.gz",
		"darwin arm64 kubectl-otterscale kubectl_complete-otterscale - https://example.test/r/kubectl-otterscale_v1.2.3_darwin_arm64.tar.gz",
		"windows amd64 kubectl-otterscale.exe kubectl_complete-otterscale.cmd - https://example.test/r/kubectl-otterscale_v1.2.3_windows_amd64.zip",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("platforms:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	text, err := os.ReadFile(filepath.Join("..", "..", "krew", "otterscale.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	out, err := renderManifest(string(text), d)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(out), "from: otterscale-ceph"); n != 1 {
		t.Errorf("otterscale-ceph is copied on %d platforms, want 1:\n%s", n, out)
	}
	if strings.Contains(string(out), "{{") || strings.Contains(string(out), "<no value>") {
		t.Errorf("unfilled template:\n%s", out)
	}

	if err := writeArchive(filepath.Join(dist, "kubectl-otterscale_v1.2.3_linux_arm64.tar.gz"), unix[1:], mtime); err != nil {
		t.Fatal(err)
	}
	if _, err := manifestFor(o); err == nil || !strings.Contains(err.Error(), "has no kubectl-otterscale") {
		t.Errorf("an archive without the plugin: %v", err)
	}
	if _, err := manifestFor(manifestOptions{Version: "v9.9.9", Dist: dist}); err == nil || !strings.Contains(err.Error(), "make dist VERSION=v9.9.9") {
		t.Errorf("no archives: %v", err)
	}
}

func TestCheckVersion(t *testing.T) {
	for _, v := range []string{"v1.2.3", "v0.0.0-dev", "v1.2.3-4-gabcdef0", "v1.2.3-rc.1+build.5"} {
		if err := checkVersion(v); err != nil {
			t.Errorf("%s: %v", v, err)
		}
	}
	for _, v := range []string{"", "1.2.3", "v1.2", "dev", "9c16d85", "v1.2.3/../x", "v01.2.3"} {
		if err := checkVersion(v); err == nil {
			t.Errorf("%q accepted", v)
		}
	}
}
