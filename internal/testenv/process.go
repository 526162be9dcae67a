package testenv

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
)

// process is a child started in its own process group, so that killing the
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
	// Append so that a restarted API server keeps the earlier run's log.
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open %s log: %w", name, err)
	}
	// Not exec.CommandContext: the context of Start bounds the startup, not
	// the life of the process.
	cmd := exec.Command(path, args...)
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Setpgid: true,
		// Kill the child when the test binary dies without running Stop
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

// exitError reports that a process ended while it was awaited.
type exitError struct {
	name string
	err  error // from Wait
	tail string
}

func (e *exitError) Error() string {
	return fmt.Sprintf("%s exited (%v):\n%s", e.name, e.err, e.tail)
}

func (e *exitError) Unwrap() error { return e.err }

// exited reports, without blocking, whether the process has ended, as an
// *exitError carrying the tail of its log.
func (p *process) exited() error {
	select {
	case <-p.done:
		return &exitError{name: p.name, err: p.err, tail: tail(p.logPath)}
	default:
		return nil
	}
}

// signal sends sig to the whole process group while the process runs.
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

// kill ends the process group at once and waits for the process.
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
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > maxLines {
		lines = lines[len(lines)-maxLines:]
	}
	return "  " + strings.Join(lines, "\n  ") + "\n(full log: " + path + ")"
}

// freePorts finds n distinct free loopback ports. Holding all listeners open
// until every port is chosen keeps the kernel from handing one out twice.
func freePorts(n int) ([]int, error) {
	ports := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("find a free port: %w", err)
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

func (e *Env) etcdArgs(peerPort int) []string {
	peerURL := fmt.Sprintf("http://127.0.0.1:%d", peerPort)
	return []string{
		"--name=testenv",
		"--data-dir=" + filepath.Join(e.Dir, "etcd"),
		"--listen-client-urls=" + e.EtcdURL,
		"--advertise-client-urls=" + e.EtcdURL,
		"--listen-peer-urls=" + peerURL,
		"--initial-advertise-peer-urls=" + peerURL,
		"--initial-cluster=testenv=" + peerURL,
		"--initial-cluster-state=new",
		"--log-level=warn",
		// Test data is thrown away; fsync only costs time.
		"--unsafe-no-fsync",
		// etcd's recommended maximum instead of its 2 GiB default, so that
		// benchmarks creating many objects between the API server's 5-minute
		// compactions cannot hit the quota (the space is not allocated up front).
		"--quota-backend-bytes=" + fmt.Sprint(8<<30),
	}
}

func (e *Env) apiserverArgs() []string {
	return []string{
		"--etcd-servers=" + e.EtcdURL,
		"--bind-address=127.0.0.1",
		"--advertise-address=127.0.0.1",
		fmt.Sprintf("--secure-port=%d", e.apiPort),
		// The API server writes a self-signed CA and serving certificate here
		// on first start and reuses them on restart, so clients keep trusting it.
		"--cert-dir=" + filepath.Join(e.Dir, "certs"),
		"--service-cluster-ip-range=10.0.0.0/24",
		"--service-account-issuer=https://kubernetes.default.svc",
		"--service-account-key-file=" + filepath.Join(e.Dir, "sa.pub"),
		"--service-account-signing-key-file=" + filepath.Join(e.Dir, "sa.key"),
		"--token-auth-file=" + filepath.Join(e.Dir, "tokens.csv"),
		"--authorization-mode=RBAC",
		// The lease reconciler would publish 127.0.0.1 as the "kubernetes"
		// service's endpoint, which validation rejects every 10 s in the log.
		"--endpoint-reconciler-type=none",
		"--profiling=false",
	}
}

// waitEtcd waits until etcd has elected itself leader.
func (e *Env) waitEtcd(ctx context.Context) error {
	client := &http.Client{Timeout: time.Second}
	err := wait.PollUntilContextCancel(ctx, 50*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		if err := e.etcd.exited(); err != nil {
			return false, err
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, e.EtcdURL+"/health", nil)
		if err != nil {
			return false, err
		}
		resp, err := client.Do(req)
		if err != nil {
			return false, nil
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK && bytes.Contains(body, []byte(`"health":"true"`)), nil
	})
	if err != nil {
		return fmt.Errorf("wait for etcd: %w", withTail(err, e.etcd))
	}
	return nil
}

// waitReady waits until the API server's /readyz passes, which includes its
// etcd connection, RBAC bootstrap and the CRD informer.
func (e *Env) waitReady(ctx context.Context) error {
	var last error
	err := wait.PollUntilContextCancel(ctx, 100*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		if err := e.apiserver.exited(); err != nil {
			return false, err
		}
		reqCtx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		_, last = e.Kube.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(reqCtx)
		return last == nil, nil
	})
	if err != nil {
		if last != nil && errors.Is(err, context.DeadlineExceeded) {
			err = fmt.Errorf("%w (last /readyz: %w)", err, last)
		}
		return fmt.Errorf("wait for kube-apiserver: %w", withTail(err, e.apiserver))
	}
	return nil
}

// withTail appends the log tail of p to err unless err already is an exit
// report, which carries it.
func withTail(err error, p *process) error {
	if _, ok := errors.AsType[*exitError](err); ok {
		return err
	}
	return fmt.Errorf("%w; %s log:\n%s", err, p.name, tail(p.logPath))
}
