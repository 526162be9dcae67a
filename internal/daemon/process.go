// Package daemon owns running test daemons as process groups with logs, and
// the TestMain plumbing shared by the test environments (testenv's etcd and
// kube-apiserver, cephenv's ceph-mon and ceph-osd).
package daemon

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// Process is a daemon started in its own process group, so that killing the
// group also kills anything it spawned, and so that a Ctrl-C meant for the
// test binary does not reach it before Stop has run.
type Process struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	done    chan struct{} // closed when the process has exited
	err     error         // the Wait error, valid after done
}

// Start starts the program at path with args, its standard output and error
// appended to logPath, in the environment env (the caller's when env is nil).
func Start(path string, args []string, logPath string, env []string) (*Process, error) {
	name := filepath.Base(path)
	// Append so that a restarted daemon (an API server, a monitor) keeps the
	// earlier run's log.
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open %s log: %w", name, err)
	}
	// Not exec.CommandContext: the context of the environments' Start bounds
	// the startup, not the life of the daemon.
	cmd := exec.Command(path, args...)
	cmd.Env = env
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Setpgid: true,
		// Kill the daemon when the test binary dies without running Stop
		// (a panic, go test's timeout). Linux ties this to the forking
		// thread, which the Go runtime keeps unless a goroutine exits while
		// locked to it; nothing here does that.
		Pdeathsig: syscall.SIGKILL,
	}
	if err := cmd.Start(); err != nil {
		_ = logFile.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &Process{name: name, cmd: cmd, logPath: logPath, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		_ = logFile.Close()
		close(p.done)
	}()
	return p, nil
}

// LogPath is the log the process writes to.
func (p *Process) LogPath() string { return p.logPath }

// exitError reports that a daemon ended while it was awaited.
type exitError struct {
	name string
	err  error // from Wait
	tail string
}

func (e *exitError) Error() string {
	return fmt.Sprintf("%s exited (%v):\n%s", e.name, e.err, e.tail)
}

func (e *exitError) Unwrap() error { return e.err }

// Exited reports, without blocking, whether the daemon has ended, as an
// error carrying the tail of its log.
func (p *Process) Exited() error {
	select {
	case <-p.done:
		return &exitError{name: p.name, err: p.err, tail: Tail(p.logPath)}
	default:
		return nil
	}
}

// Signal sends sig to the whole process group while the daemon runs.
func (p *Process) Signal(sig syscall.Signal) {
	select {
	case <-p.done:
		// Once it is reaped, its ID may be reused by an unrelated group.
		return
	default:
	}
	// ESRCH only means the group is already gone.
	_ = syscall.Kill(-p.cmd.Process.Pid, sig)
}

// Kill ends the process group at once and waits for the daemon.
func (p *Process) Kill() error {
	p.Signal(syscall.SIGKILL)
	select {
	case <-p.done:
		return nil
	case <-time.After(10 * time.Second):
		return fmt.Errorf("%s (pid %d) did not exit after SIGKILL", p.name, p.cmd.Process.Pid)
	}
}

// Terminate asks the process group to shut down and kills it after grace.
func (p *Process) Terminate(grace time.Duration) error {
	p.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return nil
	case <-time.After(grace):
		return p.Kill()
	}
}

// Tail returns the last lines of a log for error messages.
func Tail(path string) string {
	const maxBytes, maxLines = 8 << 10, 30
	f, err := os.Open(path)
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.Size() > maxBytes {
		_, _ = f.Seek(-maxBytes, io.SeekEnd)
	}
	b, _ := io.ReadAll(f)
	var lines []string
	// Some daemons' stderr (Ceph's) has a blank line after every entry.
	for line := range strings.Lines(string(b)) {
		if line = strings.TrimRight(line, "\n"); strings.TrimSpace(line) != "" {
			lines = append(lines, line)
		}
	}
	if len(lines) > maxLines {
		lines = lines[len(lines)-maxLines:]
	}
	return "  " + strings.Join(lines, "\n  ") + "\n(full log: " + path + ")"
}

// WithTail appends the log tails of procs (nil ones are skipped) to err
// unless err already is an exit report from Exited, which carries its own.
func WithTail(err error, procs ...*Process) error {
	if _, ok := errors.AsType[*exitError](err); ok {
		return err
	}
	for _, p := range procs {
		if p != nil {
			err = fmt.Errorf("%w\n%s log:\n%s", err, p.name, Tail(p.logPath))
		}
	}
	return err
}
