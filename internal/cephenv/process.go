package cephenv

import (
	"context"
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

// process is a daemon started in its own process group, so that killing the
// group also kills anything it spawned, and so that a Ctrl-C meant for the
// test binary does not reach it before Stop has run.
type process struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	done    chan struct{} // closed when the process has exited
	err     error         // the Wait error, valid after done
}

func startProcess(path string, args []string, logPath string) (*process, error) {
	name := filepath.Base(path)
	// Append so that a restarted monitor keeps the earlier run's log.
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open %s log: %w", name, err)
	}
	// Not exec.CommandContext: the context of Start bounds the startup, not
	// the life of the daemon.
	cmd := exec.Command(path, args...)
	cmd.Env = cephEnv()
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
	p := &process{name: name, cmd: cmd, logPath: logPath, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		_ = logFile.Close()
		close(p.done)
	}()
	return p, nil
}

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

// exited reports, without blocking, whether the daemon has ended, as an
// *exitError carrying the tail of its log.
func (p *process) exited() error {
	select {
	case <-p.done:
		return &exitError{name: p.name, err: p.err, tail: tail(p.logPath)}
	default:
		return nil
	}
}

// signal sends sig to the whole process group while the daemon runs.
func (p *process) signal(sig syscall.Signal) {
	select {
	case <-p.done:
		// Once it is reaped, its ID may be reused by an unrelated group.
		return
	default:
	}
	// ESRCH only means the group is already gone.
	_ = syscall.Kill(-p.cmd.Process.Pid, sig)
}

// kill ends the process group at once and waits for the daemon. The OSD is
// always killed this way: on SIGTERM memstore would first write everything
// it holds to disk.
func (p *process) kill() error {
	p.signal(syscall.SIGKILL)
	select {
	case <-p.done:
		return nil
	case <-time.After(10 * time.Second):
		return fmt.Errorf("%s (pid %d) did not exit after SIGKILL", p.name, p.cmd.Process.Pid)
	}
}

// terminate asks the process group to shut down and kills it after grace.
func (p *process) terminate(grace time.Duration) error {
	p.signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return nil
	case <-time.After(grace):
		return p.kill()
	}
}

// tail returns the last lines of a log for error messages.
func tail(path string) string {
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
	// The daemons' stderr has a blank line after every entry.
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

// withTail appends the log tails of procs to err unless err already is an
// exit report, which carries its own.
func withTail(err error, procs ...*process) error {
	if _, ok := errors.AsType[*exitError](err); ok {
		return err
	}
	for _, p := range procs {
		if p != nil {
			err = fmt.Errorf("%w\n%s log:\n%s", err, p.name, tail(p.logPath))
		}
	}
	return err
}

// cephEnv is the environment of every Ceph program run here: the caller's,
// less the variables that would add arguments or point at another
// configuration file behind the cluster's back.
func cephEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "CEPH_ARGS=") || strings.HasPrefix(kv, "CEPH_CONF=") || strings.HasPrefix(kv, "CEPH_KEYRING=") {
			continue
		}
		env = append(env, kv)
	}
	return env
}

// poll calls cond every interval until it returns true or an error, or until
// ctx ends. On timeout the error also carries the last failure that cond
// recorded in *last, when last is not nil.
func poll(ctx context.Context, interval time.Duration, last *error, cond func(context.Context) (bool, error)) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		ok, err := cond(ctx)
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			if last != nil && *last != nil {
				return fmt.Errorf("%w (last attempt: %w)", ctx.Err(), *last)
			}
			return ctx.Err()
		case <-t.C:
		}
	}
}
