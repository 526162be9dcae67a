package plugin

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/otterscale/kubectl-otterscale/pkg/storage"
)

// The release archives' kubectl-otterscale is the cgo-free build: it starts
// on any machine and loads no shared library. Ceph support ships beside it,
// in the linux/amd64 archive only, as otterscale-ceph: the Ceph-enabled
// build (cgo, -tags pacific, linked against librbd1 and librados2) of the
// same program. It is not named kubectl-* so that kubectl never lists it as
// a plugin. The cgo-free binary hands the commands that need Ceph to it when
// it is there and can start; otherwise they run here and answer that this
// build has no Ceph support.
const (
	// CephHelperName is the Ceph-enabled binary's file name.
	CephHelperName = "otterscale-ceph"
	// CephProbeEnv, set to 1, makes a Ceph-enabled binary exit 0 at once: a
	// binary whose shared libraries are missing never gets that far (the
	// dynamic loader exits 127 first), so a 0 proves it can start.
	CephProbeEnv = "OTTERSCALE_CEPH_PROBE"
	// cephExecEnv marks a process that a cgo-free binary handed a command
	// to: it never hands it on again, whatever it turns out to be.
	cephExecEnv = "OTTERSCALE_CEPH_EXEC"
	// probeTimeout bounds the probe; a start takes some tens of milliseconds.
	probeTimeout = 10 * time.Second
)

// cephCommands are the top-level commands that talk to Ceph, by their
// cobra names (aliases resolve to these).
var cephCommands = map[string]bool{"snapshot": true, "image": true, "proxy": true}

// AnswerCephProbe exits the process when it is a probe (CephProbeEnv=1): with
// 0 in a build with Ceph support, with 3 in one without, which is then no
// use as a helper. main calls it first.
func AnswerCephProbe() {
	if os.Getenv(CephProbeEnv) != "1" {
		return
	}
	if storage.Supported {
		os.Exit(0)
	}
	os.Exit(3)
}

// NeedsCeph says whether args (the command line without the program name)
// run a command that talks to Ceph, or ask for completions of one. cobra's
// Find resolves aliases and skips the flags that come before the command.
func NeedsCeph(root *cobra.Command, args []string) bool {
	if len(args) > 0 && (args[0] == cobra.ShellCompRequestCmd || args[0] == cobra.ShellCompNoDescRequestCmd) {
		args = args[1:]
	}
	cmd, _, err := root.Find(args)
	if err != nil || cmd == nil {
		return false
	}
	for c := cmd; c.HasParent(); c = c.Parent() {
		if !c.Parent().HasParent() {
			return cephCommands[c.Name()]
		}
	}
	return false
}

// shouldExecCeph is the whole decision to hand a command to otterscale-ceph:
// only a build without Ceph support does, never a process that was itself
// handed the command, and only for commands that need Ceph.
func shouldExecCeph(supported bool, getenv func(string) string, root *cobra.Command, args []string) bool {
	return !supported && getenv(cephExecEnv) == "" && NeedsCeph(root, args)
}

// CephHelper is what a cgo-free binary found out about otterscale-ceph.
type CephHelper struct {
	// Path is the helper that was found, empty when there is none.
	Path string `json:"path,omitempty"`
	// Working says it started (the probe exited 0).
	Working bool `json:"working"`
	// Problem says why it cannot be used, when it cannot.
	Problem string `json:"problem,omitempty"`
}

// FindCephHelper looks for otterscale-ceph next to this executable (with
// symlinks resolved: Krew links ~/.krew/bin/kubectl-otterscale into its
// store, where the helper is) and then on PATH, and probes the one it finds.
func FindCephHelper(ctx context.Context) CephHelper {
	self, err := os.Executable()
	if err == nil {
		self, err = filepath.EvalSymlinks(self)
	}
	if err != nil {
		self = ""
	}
	path := findCephHelper(self, exec.LookPath)
	if path == "" {
		return CephHelper{Problem: fmt.Sprintf("no %s next to this binary or on PATH", CephHelperName)}
	}
	if err := probeCephHelper(ctx, path); err != nil {
		return CephHelper{Path: path, Problem: err.Error()}
	}
	return CephHelper{Path: path, Working: true}
}

// findCephHelper returns the helper beside self (the resolved executable)
// if there is one, else the one lookPath finds, else "".
func findCephHelper(self string, lookPath func(string) (string, error)) string {
	name := CephHelperName
	if runtime.GOOS == "windows" {
		name += ".exe"
	}
	if self != "" {
		beside := filepath.Join(filepath.Dir(self), name)
		if fi, err := os.Stat(beside); err == nil && fi.Mode().IsRegular() && (runtime.GOOS == "windows" || fi.Mode()&0o111 != 0) {
			return beside
		}
	}
	if p, err := lookPath(name); err == nil {
		if abs, err := filepath.Abs(p); err == nil {
			return abs
		}
		return p
	}
	return ""
}

// probeCephHelper runs the helper with CephProbeEnv=1. An error says, in a
// user's words, why it cannot start.
func probeCephHelper(ctx context.Context, path string) error {
	if ctx == nil {
		ctx = context.Background()
	}
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, path)
	cmd.Env = append(os.Environ(), CephProbeEnv+"=1")
	cmd.Stderr = &stderr
	err := cmd.Run()
	if err == nil {
		return nil
	}
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit) && exit.ExitCode() == 127:
		return fmt.Errorf("%s cannot start: %s; on Debian or Ubuntu install librbd1 and librados2", path, missingLibrary(stderr.String()))
	case errors.As(err, &exit) && exit.ExitCode() == 3:
		return fmt.Errorf("%s is a build without Ceph support", path)
	case errors.As(err, &exit):
		return fmt.Errorf("%s cannot start (%s)", path, firstLine(stderr.String(), exit.String()))
	}
	return fmt.Errorf("%s cannot start: %w", path, err)
}

// missingLibrary turns the dynamic loader's complaint ("...: error while
// loading shared libraries: librbd.so.1: cannot open shared object file: ...")
// into words for the user.
func missingLibrary(stderr string) string {
	const marker = "error while loading shared libraries: "
	_, rest, ok := strings.Cut(stderr, marker)
	if !ok {
		return "a shared library it needs is missing"
	}
	lib, _, _ := strings.Cut(rest, ":")
	return "the shared library " + strings.TrimSpace(lib) + " is missing"
}

// firstLine is s's first non-empty line, or fallback.
func firstLine(s, fallback string) string {
	for line := range strings.SplitSeq(s, "\n") {
		if line = strings.TrimSpace(line); line != "" {
			return line
		}
	}
	return fallback
}

// ExecCephHelper hands the command line to otterscale-ceph when this build
// has no Ceph support, the command needs Ceph, and a working helper is next
// to the binary or on PATH: it replaces this process and never returns. In
// every other case it returns, and the command runs here; the returned
// helper (nil when it was not looked for) tells NoteCephHelper why it was
// not used.
func ExecCephHelper(ctx context.Context, root *cobra.Command, args []string) *CephHelper {
	if !shouldExecCeph(storage.Supported, os.Getenv, root, args) {
		return nil
	}
	h := FindCephHelper(ctx)
	if !h.Working {
		return &h
	}
	argv := append([]string{h.Path}, args...)
	if err := execve(h.Path, argv, append(os.Environ(), cephExecEnv+"=1")); err != nil {
		h.Working, h.Problem = false, fmt.Sprintf("%s cannot be run: %v", h.Path, err)
	}
	return &h
}

// NoteCephHelper adds, after a "no Ceph support" error, why otterscale-ceph
// was not used instead.
func NoteCephHelper(w io.Writer, h *CephHelper, err error) {
	if h == nil || h.Problem == "" || !errors.Is(err, storage.ErrNoCeph) {
		return
	}
	_, _ = fmt.Fprintf(w, "note: %s\n", h.Problem)
}
