// Package krew tests the release as a Krew user gets it: goreleaser's
// archives in dist/ (.goreleaser.yaml) with the manifest that `make
// krew-manifest` renders from krew-release-bot's .krew.yaml, installed by the
// real krew through the real kubectl. `make krew-test` (and so `make test`)
// builds the archives and the manifest first and points the tests at them
// with OTTERSCALE_DIST, OTTERSCALE_KREW and OTTERSCALE_VALIDATE_KREW_MANIFEST.
package krew_test

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/otterscale/kubectl-otterscale/internal/daemon"
)

// manifest is the part of a Krew plugin manifest the tests read.
type manifest struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name string `json:"name"`
	} `json:"metadata"`
	Spec struct {
		Version          string     `json:"version"`
		Homepage         string     `json:"homepage"`
		ShortDescription string     `json:"shortDescription"`
		Description      string     `json:"description"`
		Caveats          string     `json:"caveats"`
		Platforms        []platform `json:"platforms"`
	} `json:"spec"`
}

type platform struct {
	Selector struct {
		MatchLabels map[string]string `json:"matchLabels"`
	} `json:"selector"`
	URI    string `json:"uri"`
	SHA256 string `json:"sha256"`
	Bin    string `json:"bin"`
	Files  []struct {
		From string `json:"from"`
		To   string `json:"to"`
	} `json:"files"`
}

func (p platform) key() string {
	return p.Selector.MatchLabels["os"] + "/" + p.Selector.MatchLabels["arch"]
}

// setup is what the tests need: the dist directory with its rendered
// manifest, and the krew tools. Missing ones skip the test, or fail it in
// CI (CI=true), which must never skip silently.
type setup struct {
	dist, manifestPath, krew, validate string
	m                                  manifest
}

func require(t *testing.T) setup {
	t.Helper()
	s := setup{dist: os.Getenv("OTTERSCALE_DIST"), krew: os.Getenv("OTTERSCALE_KREW"), validate: os.Getenv("OTTERSCALE_VALIDATE_KREW_MANIFEST")}
	s.manifestPath = filepath.Join(s.dist, "krew", "otterscale.yaml")
	var missing []string
	for _, f := range []string{s.manifestPath, s.krew, s.validate} {
		if _, err := os.Stat(f); err != nil || s.dist == "" || s.krew == "" || s.validate == "" {
			missing = append(missing, f)
		}
	}
	if _, err := exec.LookPath("kubectl"); err != nil {
		missing = append(missing, "kubectl on PATH")
	}
	if len(missing) > 0 {
		daemon.Absent(t, "needs %v: run `make krew-test` (it builds the archives, the manifest and krew)", missing)
	}
	data, err := os.ReadFile(s.manifestPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.UnmarshalStrict(data, &s.m); err != nil {
		t.Fatalf("%s: %v", s.manifestPath, err)
	}
	return s
}

// krewPath is a PATH on which kubectl finds krew as the kubectl-krew plugin
// and, first, whatever krew installed under root.
func (s setup) krewPath(t *testing.T, root string) string {
	t.Helper()
	bin := t.TempDir()
	if err := os.Symlink(s.krew, filepath.Join(bin, "kubectl-krew")); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(root, "bin") + string(os.PathListSeparator) + bin + string(os.PathListSeparator) + os.Getenv("PATH")
}

// kubectl runs kubectl with KREW_ROOT and PATH set, and fails the test on
// any error.
func kubectl(t *testing.T, root, pathEnv string, args ...string) string {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), "kubectl", args...)
	cmd.Env = append(os.Environ(), "KREW_ROOT="+root, "PATH="+pathEnv)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		t.Fatalf("kubectl %s: %v\nstdout: %s\nstderr: %s", strings.Join(args, " "), err, out.String(), errOut.String())
	}
	return out.String()
}

// A user's install from the local archive, as the README says until the
// plugin is in krew-index: the plugin runs through kubectl, reports the
// release's version, finds otterscale-ceph beside it in Krew's store, and
// completes through kubectl once the caveat's link is made.
func TestKrewInstall(t *testing.T) {
	s := require(t)
	host := runtime.GOOS + "_" + runtime.GOARCH
	archive := filepath.Join(s.dist, fmt.Sprintf("kubectl-otterscale_%s_%s.tar.gz", s.m.Spec.Version, host))
	if _, err := os.Stat(archive); err != nil {
		t.Fatalf("no archive for this host (%s): %v", host, err)
	}
	root := t.TempDir()
	pathEnv := s.krewPath(t, root)
	kubectl(t, root, pathEnv, "krew", "install", "--manifest="+s.manifestPath, "--archive="+archive)

	store := filepath.Join(root, "store", "otterscale", s.m.Spec.Version)
	for _, f := range []string{"kubectl-otterscale", "kubectl_complete-otterscale", "otterscale-ceph", "LICENSE"} {
		fi, err := os.Stat(filepath.Join(store, f))
		if err != nil {
			t.Errorf("krew did not install %s: %v", f, err)
			continue
		}
		if f != "LICENSE" && fi.Mode()&0o111 == 0 {
			t.Errorf("%s is not executable: %v", f, fi.Mode())
		}
	}

	out := kubectl(t, root, pathEnv, "otterscale", "version")
	want := "kubectl-otterscale " + s.m.Spec.Version + " "
	if !strings.HasPrefix(out, want) {
		t.Errorf("version = %q, want it to start with %q", out, want)
	}
	if !strings.Contains(out, "RBD commands run "+filepath.Join(store, "otterscale-ceph")) {
		t.Errorf("version does not say it found otterscale-ceph in Krew's store:\n%s", out)
	}
	var v struct {
		CephWorker struct {
			Path    string `json:"path"`
			Working bool   `json:"working"`
		} `json:"cephWorker"`
	}
	if err := json.Unmarshal([]byte(kubectl(t, root, pathEnv, "otterscale", "version", "-o", "json")), &v); err != nil {
		t.Fatal(err)
	}
	if !v.CephWorker.Working || v.CephWorker.Path != filepath.Join(store, "otterscale-ceph") {
		t.Errorf("version -o json: %+v, want the working Ceph worker in Krew's store", v)
	}

	// The caveat's link puts the completion script on PATH, where kubectl
	// (1.26 and later) looks for it.
	if err := os.Symlink(filepath.Join(store, "kubectl_complete-otterscale"), filepath.Join(root, "bin", "kubectl_complete-otterscale")); err != nil {
		t.Fatal(err)
	}
	out = kubectl(t, root, pathEnv, "__complete", "otterscale", "ve")
	if !strings.Contains(out, "version\t") {
		t.Errorf("kubectl __complete otterscale ve = %q, want the version command", out)
	}
	if !strings.Contains(s.m.Spec.Caveats, "ln -s \"${KREW_ROOT:-$HOME/.krew}/store/otterscale/"+s.m.Spec.Version+"/kubectl_complete-otterscale\"") {
		t.Errorf("the caveats do not give the link the test made:\n%s", s.m.Spec.Caveats)
	}
}

// Every platform of the manifest installs, each from its own archive served
// over HTTP as the release would be, by Krew's own validator (which also
// checks that LICENSE is installed).
func TestManifestInstallsEveryPlatform(t *testing.T) {
	s := require(t)
	srv := httptest.NewServer(http.FileServer(http.Dir(s.dist)))
	defer srv.Close()
	data, err := os.ReadFile(s.manifestPath)
	if err != nil {
		t.Fatal(err)
	}
	local := string(data)
	for _, p := range s.m.Spec.Platforms {
		local = strings.ReplaceAll(local, "uri: "+p.URI, "uri: "+srv.URL+"/"+path.Base(p.URI))
	}
	dir := t.TempDir()
	// The validator insists that the file is named after the plugin.
	file := filepath.Join(dir, "otterscale.yaml")
	if err := os.WriteFile(file, []byte(local), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(t.Context(), s.validate, "-manifest", file)
	cmd.Env = append(os.Environ(), "PATH="+s.krewPath(t, t.TempDir()))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("validate-krew-manifest: %v\n%s", err, out)
	}
	if want := fmt.Sprintf("all %d spec.platforms installed fine", len(s.m.Spec.Platforms)); !strings.Contains(string(out), want) {
		t.Errorf("validate-krew-manifest did not say %q:\n%s", want, out)
	}
	// One entry per archive, and otterscale-ceph goes with linux/amd64.
	for _, p := range s.m.Spec.Platforms {
		var from []string
		for _, f := range p.Files {
			from = append(from, f.From)
		}
		if hasCeph := slices.Contains(from, "otterscale-ceph"); hasCeph != (p.key() == "linux/amd64") {
			t.Errorf("%s: files %v", p.key(), from)
		}
	}
}

// Every archive goreleaser built carries the plugin, both completion
// scripts, LICENSE and README.md, with otterscale-ceph in the linux/amd64
// one only; and it is reproducible: every file's time is that of the commit
// it was built from and its owner root, whatever the build machine's clock
// and user.
func TestArchives(t *testing.T) {
	s := require(t)
	// goreleaser records the commit it built from.
	var meta struct {
		Commit string `json:"commit"`
	}
	data, err := os.ReadFile(filepath.Join(s.dist, "metadata.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &meta); err != nil {
		t.Fatal(err)
	}
	out, err := exec.CommandContext(t.Context(), "git", "log", "-1", "--format=%ct", meta.Commit).Output()
	if err != nil {
		t.Fatalf("git log %s: %v", meta.Commit, err)
	}
	commitTime, err := strconv.ParseInt(strings.TrimSpace(string(out)), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	names, err := filepath.Glob(filepath.Join(s.dist, "kubectl-otterscale_"+s.m.Spec.Version+"_*"))
	if err != nil {
		t.Fatal(err)
	}
	if len(names) != len(s.m.Spec.Platforms) {
		t.Errorf("archives %v, but the manifest has %d platforms", names, len(s.m.Spec.Platforms))
	}
	for _, name := range names {
		files := archiveFiles(t, name)
		exe := "kubectl-otterscale"
		if strings.HasSuffix(name, ".zip") {
			exe += ".exe"
		}
		want := []string{exe, "LICENSE", "README.md", "kubectl_complete-otterscale", "kubectl_complete-otterscale.cmd"}
		if strings.HasSuffix(name, "_linux_amd64.tar.gz") {
			want = append(want, "otterscale-ceph")
		}
		var got []string
		for f, info := range files {
			got = append(got, f)
			if info.mtime != commitTime {
				t.Errorf("%s: %s has time %s, want the commit's %s", filepath.Base(name), f, time.Unix(info.mtime, 0).UTC(), time.Unix(commitTime, 0).UTC())
			}
			if info.owner != "" && info.owner != "root" {
				t.Errorf("%s: %s is owned by %q", filepath.Base(name), f, info.owner)
			}
		}
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("%s holds %v, want %v", filepath.Base(name), got, want)
		}
	}
}

type archived struct {
	mtime int64
	owner string
}

// archiveFiles reads a .tar.gz's or a .zip's file names, times and owners.
func archiveFiles(t *testing.T, name string) map[string]archived {
	t.Helper()
	files := map[string]archived{}
	if strings.HasSuffix(name, ".zip") {
		zr, err := zip.OpenReader(name)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = zr.Close() }()
		for _, f := range zr.File {
			files[f.Name] = archived{mtime: f.Modified.Unix()}
		}
		return files
	}
	f, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	gz, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gz)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return files
		}
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		owner := hdr.Uname
		if hdr.Uid != 0 || hdr.Gid != 0 {
			owner = fmt.Sprintf("%d:%d", hdr.Uid, hdr.Gid)
		}
		files[hdr.Name] = archived{mtime: hdr.ModTime.Unix(), owner: owner}
	}
}
