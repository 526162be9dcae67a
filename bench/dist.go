package main

import (
	"archive/tar"
	"archive/zip"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The release section: each archive in dist/ (from `make dist`) with its
// size and its binaries' sizes, and the cold start of the host archive's
// binaries beside kubectl's. Cold means the binary's own file is not in the
// page cache: before every run its pages are evicted with posix_fadvise
// (DONTNEED), and mincore confirms that none stayed. Shared libraries (libc,
// and Ceph's for otterscale-ceph) stay cached, as they are on a machine that
// runs anything else.

// archiveInfo is one release archive.
type archiveInfo struct {
	name  string
	size  int64
	files []archivedFile
}

type archivedFile struct {
	name string
	size int64
}

// coldCommand is one binary started cold.
type coldCommand struct {
	label string
	path  string // the copy that is evicted and run
	args  []string
	times []time.Duration
	// resident is the largest share of the file's pages found in the page
	// cache right before a run (after the eviction): it should be 0.
	resident float64
}

// distResult is what the section reports.
type distResult struct {
	archives []archiveInfo
	cold     []*coldCommand
	skipped  string // why there is no cold-start table
}

// measureDist reads the archives in distDir and times cold starts n times
// each.
func measureDist(ctx context.Context, distDir, kubectlFile, tmp string, n int) (*distResult, error) {
	d := &distResult{}
	names, err := filepath.Glob(filepath.Join(distDir, "kubectl-otterscale_*"))
	if err != nil {
		return nil, err
	}
	var host string
	for _, name := range names {
		if !strings.HasSuffix(name, ".tar.gz") && !strings.HasSuffix(name, ".zip") {
			continue
		}
		a, err := readArchiveInfo(name)
		if err != nil {
			return nil, err
		}
		d.archives = append(d.archives, a)
		if strings.HasSuffix(name, "_"+hostPlatform()+".tar.gz") {
			host = name
		}
	}
	if len(d.archives) == 0 {
		d.skipped = "no archives in " + distDir + ": run `make dist VERSION=vX.Y.Z` first"
		return d, nil
	}
	if host == "" {
		d.skipped = "no archive for " + hostPlatform() + " in " + distDir
		return d, nil
	}
	dir := filepath.Join(tmp, "cold")
	if err := os.Mkdir(dir, 0o755); err != nil {
		return nil, err
	}
	if err := extract(host, dir, "kubectl-otterscale", "otterscale-ceph"); err != nil {
		return nil, err
	}
	// kubectl's copy sits in a directory of its own, and the plugin's
	// without otterscale-ceph beside it, so that `version` starts only
	// itself (it would run the worker it found to see that it starts).
	kdir, pdir := filepath.Join(dir, "kubectl"), filepath.Join(dir, "plugin")
	for _, p := range [][2]string{
		{kubectlFile, filepath.Join(kdir, "kubectl")},
		{filepath.Join(dir, "kubectl-otterscale"), filepath.Join(pdir, "kubectl-otterscale")},
	} {
		if err := copyExecutable(p[0], p[1]); err != nil {
			return nil, err
		}
	}
	d.cold = []*coldCommand{
		{label: "kubectl-otterscale version (cgo-free, from " + filepath.Base(host) + ")", path: filepath.Join(pdir, "kubectl-otterscale"), args: []string{"version"}},
		{label: "kubectl version --client", path: filepath.Join(kdir, "kubectl"), args: []string{"version", "--client"}},
	}
	if _, err := os.Stat(filepath.Join(dir, "otterscale-ceph")); err == nil {
		d.cold = append(d.cold, &coldCommand{label: "otterscale-ceph version (the Ceph worker)", path: filepath.Join(dir, "otterscale-ceph"), args: []string{"version"}})
	}
	env := []string{"PATH=", "HOME=" + dir}
	for i := range n {
		for j := range d.cold {
			c := d.cold[(i+j)%len(d.cold)]
			t, resident, err := coldRun(ctx, c.path, c.args, env)
			if err != nil {
				return nil, err
			}
			c.times = append(c.times, t)
			c.resident = max(c.resident, resident)
		}
	}
	return d, nil
}

// hostPlatform is this machine's OS_ARCH as archive names spell it.
func hostPlatform() string { return runtime.GOOS + "_" + runtime.GOARCH }

// coldRun evicts path from the page cache, checks that it is gone, and times
// one run from exec to exit.
func coldRun(ctx context.Context, path string, args, env []string) (time.Duration, float64, error) {
	if err := evict(path); err != nil {
		return 0, 0, fmt.Errorf("evict %s: %w", path, err)
	}
	resident, err := residentShare(path)
	if err != nil {
		return 0, 0, err
	}
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Env = env
	start := time.Now()
	out, err := cmd.CombinedOutput()
	elapsed := time.Since(start)
	if err != nil {
		return 0, 0, fmt.Errorf("%s %s: %w\n%s", path, strings.Join(args, " "), err, out)
	}
	return elapsed, resident, nil
}

// evict drops the file's pages from the page cache; they are clean (the
// file was synced when copied), so the kernel can.
func evict(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer func() { _ = f.Close() }()
	return unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED)
}

// residentShare is the share of the file's pages in the page cache, from
// mincore over a mapping of it.
func residentShare(path string) (float64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer func() { _ = f.Close() }()
	fi, err := f.Stat()
	if err != nil || fi.Size() == 0 {
		return 0, err
	}
	data, err := unix.Mmap(int(f.Fd()), 0, int(fi.Size()), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return 0, err
	}
	defer func() { _ = unix.Munmap(data) }()
	page := os.Getpagesize()
	vec := make([]byte, (len(data)+page-1)/page)
	// x/sys has no wrapper for mincore(2).
	if _, _, errno := unix.Syscall(unix.SYS_MINCORE, uintptr(unsafe.Pointer(&data[0])), uintptr(len(data)), uintptr(unsafe.Pointer(&vec[0]))); errno != 0 {
		return 0, fmt.Errorf("mincore %s: %w", path, errno)
	}
	in := 0
	for _, v := range vec {
		in += int(v & 1)
	}
	return float64(in) / float64(len(vec)), nil
}

// copyExecutable copies a file and syncs it, so that its pages are clean.
func copyExecutable(from, to string) (err error) {
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		return err
	}
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer func() { _ = in.Close() }()
	out, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := out.Close(); err == nil {
			err = cerr
		}
	}()
	if _, err := io.Copy(out, in); err != nil {
		return err
	}
	return out.Sync()
}

// extract writes the named files of a .tar.gz into dir, synced.
func extract(archive, dir string, names ...string) error {
	f, err := os.Open(archive)
	if err != nil {
		return err
	}
	defer func() { _ = f.Close() }()
	gz, err := gzip.NewReader(f)
	if err != nil {
		return err
	}
	tr := tar.NewReader(gz)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: %w", archive, err)
		}
		if !slices.Contains(names, hdr.Name) {
			continue
		}
		out, err := os.OpenFile(filepath.Join(dir, hdr.Name), os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
		if err != nil {
			return err
		}
		_, err = io.Copy(out, tr)
		if err == nil {
			err = out.Sync()
		}
		if cerr := out.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
	}
}

// readArchiveInfo lists an archive's files with their sizes.
func readArchiveInfo(path string) (archiveInfo, error) {
	a := archiveInfo{name: path}
	fi, err := os.Stat(path)
	if err != nil {
		return a, err
	}
	a.size = fi.Size()
	if strings.HasSuffix(path, ".zip") {
		zr, err := zip.OpenReader(path)
		if err != nil {
			return a, err
		}
		defer func() { _ = zr.Close() }()
		for _, f := range zr.File {
			a.files = append(a.files, archivedFile{f.Name, int64(f.UncompressedSize64)})
		}
		return a, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return a, err
	}
	defer func() { _ = f.Close() }()
	gz, err := gzip.NewReader(f)
	if err != nil {
		return a, err
	}
	tr := tar.NewReader(gz)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return a, nil
		}
		if err != nil {
			return a, fmt.Errorf("%s: %w", path, err)
		}
		a.files = append(a.files, archivedFile{hdr.Name, hdr.Size})
	}
}

// distSection writes the archives' sizes and the cold starts.
func distSection(w io.Writer, d *distResult, kubectlFile string) error {
	kfi, err := os.Stat(kubectlFile)
	if err != nil {
		return err
	}
	kubectlMiB := float64(kfi.Size()) / (1 << 20)
	fmt.Fprintf(w, "Release archives in dist/ (make dist)\n")
	if len(d.archives) == 0 {
		fmt.Fprintf(w, "  %s\n\n", d.skipped)
		return nil
	}
	fmt.Fprintf(w, "  archive\t      MiB\tbinaries, MiB unpacked (kubectl: %.1f; limit 60)\n", kubectlMiB)
	for _, a := range d.archives {
		var bins []string
		for _, f := range a.files {
			if strings.HasPrefix(f.name, "kubectl-otterscale") || strings.HasPrefix(f.name, "otterscale-ceph") {
				mib := float64(f.size) / (1 << 20)
				flag := ""
				if mib > 60 {
					flag = " OVER 60"
				}
				bins = append(bins, fmt.Sprintf("%s %.1f%s", f.name, mib, flag))
			}
		}
		fmt.Fprintf(w, "  %s\t%9.1f\t%s\n", filepath.Base(a.name), float64(a.size)/(1<<20), strings.Join(bins, ", "))
	}
	fmt.Fprintln(w)
	if d.skipped != "" {
		fmt.Fprintf(w, "Cold start\n  %s\n\n", d.skipped)
		return nil
	}
	fmt.Fprintf(w, "Cold start: the binary's file evicted from the page cache before each run (N=%d), shared libraries cached\n", len(d.cold[0].times))
	fmt.Fprintf(w, "  command\tmedian ms\t   p90 ms\tfile resident at start\n")
	med := make([]time.Duration, len(d.cold))
	for i, c := range d.cold {
		var p90 time.Duration
		med[i], p90 = percentiles(c.times)
		fmt.Fprintf(w, "  %s\t%9.1f\t%9.1f\t%5.1f%%\n", c.label, ms(med[i]), ms(p90), 100*c.resident)
	}
	fmt.Fprintf(w, "  ratio (target <= 1.0, on the median)\n")
	for i, c := range d.cold {
		if i == 1 {
			continue
		}
		r := float64(med[i]) / float64(med[1])
		fmt.Fprintf(w, "  %s / kubectl\t%9.2f\t\t\t%s\n", strings.Fields(c.label)[0], r, verdict(r))
	}
	fmt.Fprintln(w)
	return nil
}
