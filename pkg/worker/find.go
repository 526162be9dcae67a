package worker

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"time"

	"github.com/otterscale/kubectl-otterscale/pkg/worker/spawn"
)

// checkTimeout bounds Check; a start takes some tens of milliseconds.
const checkTimeout = 10 * time.Second

// Binary is what was found out about otterscale-ceph.
type Binary struct {
	// Path is the worker binary that was found, empty when there is none.
	Path string `json:"path,omitempty"`
	// Working says it started (Check ran it), when it was checked.
	Working bool `json:"working"`
	// Problem says why it cannot be used, when it cannot.
	Problem string `json:"problem,omitempty"`
}

// Find looks for otterscale-ceph: where $OTTERSCALE_CEPH_WORKER says, else
// next to this executable (symlinks resolved: Krew links
// ~/.krew/bin/kubectl-otterscale into its store, where the worker is),
// else on PATH. It does not run it.
func Find() Binary {
	path, ok := spawn.Find()
	switch {
	case ok:
		return Binary{Path: path}
	case path != "":
		return Binary{Problem: fmt.Sprintf("$%s names %s, which is not a file", PathEnv, path)}
	}
	return Binary{Problem: fmt.Sprintf("no %s next to this binary or on PATH", BinaryName)}
}

// Check finds otterscale-ceph and runs it once (`otterscale-ceph version`)
// to see that it starts, for `kubectl otterscale version`.
func Check(ctx context.Context) Binary {
	b := Find()
	if b.Path == "" {
		return b
	}
	ctx, cancel := context.WithTimeout(ctx, checkTimeout)
	defer cancel()
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, b.Path, versionArg)
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		b.Problem = startProblem(b.Path, err, stderr.String())
		return b
	}
	b.Working = true
	return b
}

// startProblem says, in a user's words, why the worker at path exited with
// err (stderr is what it wrote) before it could do anything.
func startProblem(path string, err error, stderr string) string {
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit) && exit.ExitCode() == 127:
		return fmt.Sprintf("%s cannot start: %s; on Debian or Ubuntu install librbd1 and librados2", path, missingLibrary(stderr))
	case errors.As(err, &exit) && exit.ExitCode() == exitNoCeph:
		return fmt.Sprintf("%s is a build without Ceph support", path)
	case errors.As(err, &exit):
		return fmt.Sprintf("%s cannot start (%s)", path, firstLine(stderr, exit.String()))
	}
	return fmt.Sprintf("%s cannot start: %v", path, err)
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
