package main

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

const (
	// module is the main module's path; its version package takes the stamp.
	module     = "github.com/otterscale/kubectl-otterscale"
	versionPkg = module + "/pkg/version"
	mainPkg    = "./cmd/kubectl-otterscale"
	// workerPkg is otterscale-ceph's, the Ceph worker's, main package.
	workerPkg = "./cmd/otterscale-ceph"
	// binName is the plugin's executable; cephName the Ceph-enabled helper.
	binName  = "kubectl-otterscale"
	cephName = "otterscale-ceph"
	// cephPlatform is the one archive that carries otterscale-ceph: Ceph's
	// libraries are Linux's, and Debian and Ubuntu hosts are amd64 in
	// practice.
	cephPlatform = "linux/amd64"
)

// allPlatforms are the release's operating systems and architectures.
var allPlatforms = []string{"linux/amd64", "linux/arm64", "darwin/amd64", "darwin/arm64", "windows/amd64", "windows/arm64"}

// platform is one os/arch pair.
type platform struct{ OS, Arch string }

func (p platform) String() string { return p.OS + "/" + p.Arch }

// exe is name as an executable's file name on p.
func (p platform) exe(name string) string {
	if p.OS == "windows" {
		return name + ".exe"
	}
	return name
}

// archiveName is the release archive's file name for p.
func archiveName(version string, p platform) string {
	ext := ".tar.gz"
	if p.OS == "windows" {
		ext = ".zip"
	}
	return fmt.Sprintf("%s_%s_%s_%s%s", binName, version, p.OS, p.Arch, ext)
}

func parsePlatforms(s string) ([]platform, error) {
	var ps []platform
	seen := map[string]bool{}
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		known := false
		for _, a := range allPlatforms {
			known = known || a == f
		}
		if !known {
			return nil, fmt.Errorf("-platforms: %q is not one of %s", f, strings.Join(allPlatforms, ", "))
		}
		if seen[f] {
			continue
		}
		seen[f] = true
		os, arch, _ := strings.Cut(f, "/")
		ps = append(ps, platform{os, arch})
	}
	return ps, nil
}

// buildOptions are `dist build`'s flags.
type buildOptions struct {
	Version, Commit string
	Date            time.Time
	Platforms       []platform
	Out             string
}

// ldflags strip the symbol table and DWARF and stamp the version.
func (o buildOptions) ldflags() string {
	return fmt.Sprintf("-s -w -X %s.Version=%s -X %s.Commit=%s -X %s.Date=%s",
		versionPkg, o.Version, versionPkg, o.Commit, versionPkg, o.Date.Format(time.RFC3339))
}

// build builds every platform's binaries and archive, then checksums.txt.
func build(o buildOptions, log io.Writer) error {
	if err := os.MkdirAll(o.Out, 0o755); err != nil {
		return err
	}
	if err := removeOld(o.Out); err != nil {
		return err
	}
	var names []string
	for _, p := range o.Platforms {
		start := time.Now()
		name, err := buildPlatform(o, p)
		if err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		fi, err := os.Stat(filepath.Join(o.Out, name))
		if err != nil {
			return err
		}
		_, _ = fmt.Fprintf(log, "%-52s %6.1f MiB  (%s)\n", filepath.Join(o.Out, name), float64(fi.Size())/(1<<20), time.Since(start).Round(100*time.Millisecond))
		names = append(names, name)
	}
	if err := writeChecksums(o.Out, names); err != nil {
		return err
	}
	_, _ = fmt.Fprintln(log, filepath.Join(o.Out, "checksums.txt"))
	return nil
}

// removeOld removes archives and the checksums of earlier runs, so that dist
// holds one release.
func removeOld(out string) error {
	for _, pattern := range []string{binName + "_*.tar.gz", binName + "_*.zip", "checksums.txt"} {
		old, err := filepath.Glob(filepath.Join(out, pattern))
		if err != nil {
			return err
		}
		for _, f := range old {
			if err := os.Remove(f); err != nil {
				return err
			}
		}
	}
	return os.RemoveAll(filepath.Join(out, "krew"))
}

// buildPlatform builds p's binaries into OUT/.build/OS_ARCH and archives
// them with the license, the README and the completion scripts.
func buildPlatform(o buildOptions, p platform) (string, error) {
	stage := filepath.Join(o.Out, ".build", p.OS+"_"+p.Arch)
	if err := os.RemoveAll(stage); err != nil {
		return "", err
	}
	bin := filepath.Join(stage, p.exe(binName))
	if err := goBuild(o, p, false, bin); err != nil {
		return "", err
	}
	entries := []entry{{Name: p.exe(binName), Path: bin, Mode: 0o755}}
	if p.String() == cephPlatform {
		if host := runtime.GOOS + "/" + runtime.GOARCH; host != cephPlatform {
			return "", fmt.Errorf("%s is built with cgo against Ceph's libraries, so only on a %s host (this is %s)", cephName, cephPlatform, host)
		}
		ceph := filepath.Join(stage, cephName)
		if err := goBuild(o, p, true, ceph); err != nil {
			return "", err
		}
		entries = append(entries, entry{Name: cephName, Path: ceph, Mode: 0o755})
	}
	entries = append(entries,
		entry{Name: "LICENSE", Path: "LICENSE", Mode: 0o644},
		entry{Name: "README.md", Path: "README.md", Mode: 0o644},
		entry{Name: "kubectl_complete-otterscale", Path: filepath.Join("krew", "kubectl_complete-otterscale"), Mode: 0o755},
		entry{Name: "kubectl_complete-otterscale.cmd", Path: filepath.Join("krew", "kubectl_complete-otterscale.cmd"), Mode: 0o644},
	)
	name := archiveName(o.Version, p)
	return name, writeArchive(filepath.Join(o.Out, name), entries, o.Date)
}

// goBuild builds, for p, the plugin cgo-free, or (ceph) the Ceph worker
// with cgo and the pacific tag against the host's Ceph libraries.
func goBuild(o buildOptions, p platform, ceph bool, out string) error {
	pkg, cgo := mainPkg, "0"
	if ceph {
		pkg, cgo = workerPkg, "1"
	}
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags", o.ldflags(), "-o", out, pkg)
	cmd.Env = append(os.Environ(), "GOOS="+p.OS, "GOARCH="+p.Arch, "CGO_ENABLED="+cgo, "GOFLAGS=-buildvcs=false -tags=pacific")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build %s (CGO_ENABLED=%s): %w", out, cgo, err)
	}
	return nil
}
