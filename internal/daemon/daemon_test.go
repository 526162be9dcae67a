package daemon_test

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/otterscale/kubectl-otterscale/internal/daemon"
)

func TestExitedCarriesTail(t *testing.T) {
	logPath := filepath.Join(t.TempDir(), "sh.log")
	p, err := daemon.Start("/bin/sh", []string{"-c", "echo first; echo; echo last; exit 3"}, logPath, nil)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for p.Exited() == nil {
		if time.Now().After(deadline) {
			t.Fatal("sh did not exit")
		}
		time.Sleep(10 * time.Millisecond)
	}
	err = p.Exited()
	if _, ok := errors.AsType[*exec.ExitError](err); !ok {
		t.Errorf("Exited() = %v, want it to wrap an *exec.ExitError", err)
	}
	// The blank line is left out of the tail.
	if want := "sh exited (exit status 3):\n  first\n  last\n(full log: " + logPath + ")"; err.Error() != want {
		t.Errorf("Exited() = %q, want %q", err, want)
	}
	// An exit report already carries the tail.
	if got := daemon.WithTail(err, p); got.Error() != err.Error() {
		t.Errorf("WithTail(exit report) = %q, want it unchanged", got)
	}
}

func TestTerminateAndWithTail(t *testing.T) {
	logPath := filepath.Join(t.TempDir(), "sh.log")
	p, err := daemon.Start("/bin/sh", []string{"-c", "echo $DAEMON_TEST; exec sleep 60"}, logPath,
		append(os.Environ(), "DAEMON_TEST=hello"))
	if err != nil {
		t.Fatal(err)
	}
	if p.LogPath() != logPath {
		t.Errorf("LogPath() = %q, want %q", p.LogPath(), logPath)
	}
	// Wait for the output, so that Terminate cannot beat it.
	deadline := time.Now().Add(10 * time.Second)
	for b, _ := os.ReadFile(logPath); !strings.Contains(string(b), "hello"); b, _ = os.ReadFile(logPath) {
		if err := p.Exited(); err != nil {
			t.Fatalf("Exited() = %v while running", err)
		}
		if time.Now().After(deadline) {
			t.Fatal("sh wrote nothing")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := p.Terminate(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	if p.Exited() == nil {
		t.Fatal("Exited() = nil after Terminate")
	}
	// Signalling or killing an ended process is harmless.
	if err := p.Kill(); err != nil {
		t.Fatal(err)
	}
	got := daemon.WithTail(errors.New("boom"), nil, p).Error()
	if want := "boom\nsh log:\n  hello\n(full log: " + logPath + ")"; got != want {
		t.Errorf("WithTail() = %q, want %q", got, want)
	}
}

func TestTailMissingLog(t *testing.T) {
	if got := daemon.Tail(filepath.Join(t.TempDir(), "none.log")); !strings.HasPrefix(got, "(no log: ") {
		t.Errorf("Tail(missing) = %q", got)
	}
}
