package worker

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os/exec"
	"strings"
	"sync/atomic"
	"time"

	"connectrpc.com/connect"
	"golang.org/x/net/http2"

	"github.com/otterscale/kubectl-otterscale/gen/kubectlotterscale/worker/v1/workerv1connect"
	"github.com/otterscale/kubectl-otterscale/gen/otterscale/storage/v1/storagev1connect"
	"github.com/otterscale/kubectl-otterscale/pkg/cephconf"
	"github.com/otterscale/kubectl-otterscale/pkg/worker/spawn"
)

// exitWait bounds how long a call whose connection failed waits for the
// worker's exit status, to say why it died.
const exitWait = 3 * time.Second

// process is one running otterscale-ceph.
type process struct {
	cmd     *exec.Cmd
	stdin   io.WriteCloser
	stdout  io.ReadCloser
	stderr  *spawn.Tail
	conn    net.Conn
	cc      *http2.ClientConn
	log     *slog.Logger
	started time.Time

	// Set by configure.
	cfg         *cephconf.Config
	key         string
	callTimeout time.Duration
	worker      *Worker
	// pool, once configured, hears of the worker's death.
	pool atomic.Pointer[Pool]

	done    chan struct{} // closed once it has exited
	waitErr error         // cmd.Wait's, once done is closed
	// killedFor says why the parent ended it ("" when it did not).
	killedFor atomic.Pointer[string]
	stopped   atomic.Bool
}

// start runs the worker binary at path (see spawn.Start).
func start(path string, log *slog.Logger) (*process, error) {
	proc, err := spawn.Start(path)
	if err != nil {
		return nil, connect.NewError(connect.CodeFailedPrecondition, fmt.Errorf("%w (%s cannot be run: %v)", ErrNoCeph, path, err))
	}
	return adopt(proc, log)
}

// adopt takes over a started worker: its connection, and a watch on its
// exit.
func adopt(proc *spawn.Proc, log *slog.Logger) (*process, error) {
	conn, err := net.FileConn(proc.Socket)
	_ = proc.Socket.Close()
	if err == nil {
		p := &process{cmd: proc.Cmd, stdin: proc.Stdin, stdout: proc.Stdout, stderr: proc.Stderr, conn: conn, log: log, started: proc.Started, done: make(chan struct{})}
		go p.wait()
		return p, nil
	}
	_ = proc.Stdin.Close()
	_ = proc.Cmd.Process.Kill()
	go func() { _ = proc.Cmd.Wait() }()
	return nil, connect.NewError(connect.CodeInternal, fmt.Errorf("start the Ceph worker: %w", err))
}

func (p *process) wait() {
	p.waitErr = p.cmd.Wait()
	_ = p.conn.Close()
	close(p.done)
	if pool := p.pool.Load(); pool != nil {
		pool.died(p)
	}
}

func (p *process) pid() int { return p.cmd.Process.Pid }

func (p *process) alive() bool {
	select {
	case <-p.done:
		return false
	default:
		return !p.stopped.Load() && p.killedFor.Load() == nil
	}
}

func (p *process) stopping() bool { return p.stopped.Load() }

// configure sends the worker cfg, waits for it to connect, and makes its
// clients.
func (p *process) configure(cfg *cephconf.Config, k string, callTimeout time.Duration, pool *Pool) error {
	data, err := json.Marshal(cfg)
	if err != nil {
		p.kill("")
		return connect.NewError(connect.CodeInternal, fmt.Errorf("connect to %s: %w", cfg, err))
	}
	answered := make(chan hello, 1)
	go func() {
		var h hello
		line, err := bufio.NewReader(p.stdout).ReadBytes('\n')
		if err == nil && json.Unmarshal(line, &h) == nil {
			answered <- h
		}
		close(answered)
	}()
	// A worker that died before reading says why by its missing answer.
	_, _ = p.stdin.Write(append(data, '\n'))
	// Connecting is bounded by the worker's timeout; starting it and
	// librados is not, but takes well under a second.
	timer := time.NewTimer(2*timeout(cfg) + 10*time.Second)
	defer timer.Stop()
	select {
	case h, ok := <-answered:
		if !ok {
			return p.startError(cfg)
		}
		if h.Code != "" {
			p.stop()
			var code connect.Code
			if err := code.UnmarshalText([]byte(h.Code)); err != nil {
				code = connect.CodeUnknown
			}
			return connect.NewError(code, errors.New(h.Message))
		}
	case <-timer.C:
		p.kill("timeout")
		return connect.NewError(connect.CodeUnavailable, fmt.Errorf("connect to %s: the Ceph worker did not connect within %s; it was stopped", cfg, 2*timeout(cfg)+10*time.Second))
	}
	// Requests go over the one connection, which the worker serves with
	// HTTP/2 now that it has connected to Ceph. (Written any earlier, the
	// client's preface would meet a worker that died at start, say of a
	// missing library, as a broken pipe instead of its exit status.)
	cc, err := (&http2.Transport{AllowHTTP: true, StrictMaxConcurrentStreams: true}).NewClientConn(p.conn)
	if err != nil {
		select {
		case <-p.done:
			return p.crashError(cfg, "while connecting")
		case <-time.After(exitWait):
			p.kill("")
			return connect.NewError(connect.CodeUnavailable, fmt.Errorf("connect to %s: the Ceph worker's connection failed: %w", cfg, err))
		}
	}
	p.cc = cc
	p.cfg, p.key, p.callTimeout = cfg, k, callTimeout
	client := connClient{p.cc}
	opts := connect.WithInterceptors(p)
	p.worker = &Worker{
		Storage: storagev1connect.NewStorageServiceClient(client, "http://"+BinaryName, opts),
		Names:   workerv1connect.NewWorkerServiceClient(client, "http://"+BinaryName, opts),
	}
	p.pool.Store(pool)
	select {
	case <-p.done: // it died meanwhile; its wait may have run without a pool
		return p.crashError(cfg, "while connecting")
	default:
	}
	return nil
}

// startError says why a worker that never answered exited.
func (p *process) startError(cfg *cephconf.Config) error {
	select {
	case <-p.done:
	case <-time.After(exitWait):
		p.kill("")
		<-p.done
	}
	var exit *exec.ExitError
	if errors.As(p.waitErr, &exit) && (exit.ExitCode() == 127 || exit.ExitCode() == exitNoCeph) {
		return connect.NewError(connect.CodeFailedPrecondition, fmt.Errorf("%w (%s)", ErrNoCeph, startProblem(p.cmd.Path, p.waitErr, p.stderr.String())))
	}
	return p.crashError(cfg, "while connecting")
}

// crashError is the error of a call (or a start) that the worker's death
// ended.
func (p *process) crashError(cfg *cephconf.Config, during string) error {
	return connect.NewError(connect.CodeUnavailable, fmt.Errorf(
		"the Ceph worker (%s, pid %d) for %s crashed %s (%s); a new worker serves the next call",
		BinaryName, p.pid(), cfg, during, p.exitReason()))
}

// exitReason says how the worker ended, with the last line it wrote (the
// last two for libstdc++'s "terminate called after throwing ...",
// "what(): ...", which says what librbd threw only on its second line).
func (p *process) exitReason() string {
	why := "it exited"
	if p.waitErr != nil {
		why = p.waitErr.Error()
	}
	if last := lastLines(p.stderr.String()); last != "" {
		why += ": " + fmt.Sprintf("%q", last)
	}
	return why
}

// lastLines is s's last non-empty line, joined to the line before it when
// it is libstdc++'s "what(): ...".
func lastLines(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	last := strings.TrimSpace(lines[len(lines)-1])
	if strings.HasPrefix(last, "what():") && len(lines) > 1 {
		if prev := strings.TrimSpace(lines[len(lines)-2]); prev != "" {
			return prev + ": " + last
		}
	}
	return last
}

// stop closes the worker's stdin and its connection; it exits by itself.
func (p *process) stop() {
	p.stopped.Store(true)
	_ = p.stdin.Close()
	_ = p.conn.Close()
}

// kill ends the worker at once; why ("timeout") is what calls that its
// death ends will say.
func (p *process) kill(why string) {
	p.killedFor.CompareAndSwap(nil, &why)
	_ = p.cmd.Process.Kill()
}

// WrapUnary bounds each call and says why a call failed when the worker
// died under it.
func (p *process) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		// Not a context deadline, which Connect would send the worker: it
		// would answer deadline_exceeded itself (a call waiting for a slot
		// that hung calls hold), as if that were its own error, racing
		// this side's timer. Only this side ends a call that hung.
		callCtx, cancel := context.WithCancelCause(context.WithoutCancel(ctx))
		defer cancel(nil)
		stop := context.AfterFunc(ctx, func() { cancel(context.Cause(ctx)) })
		defer stop()
		timer := time.AfterFunc(p.callTimeout, func() { cancel(errHung) })
		defer timer.Stop()
		resp, err := next(callCtx, req)
		if err == nil {
			return resp, nil
		}
		if ctx.Err() != nil {
			// The caller gave up: say so with its context's code
			// (deadline_exceeded), not callCtx's (canceled).
			if connect.CodeOf(err) == connect.CodeCanceled {
				return nil, connect.NewError(connect.CodeOf(ctx.Err()), ctx.Err())
			}
			return nil, err
		}
		what := strings.TrimPrefix(req.Spec().Procedure, "/")
		if errors.Is(context.Cause(callCtx), errHung) {
			p.kill("timeout")
			p.log.Warn("Ceph call hung; worker stopped", "pid", p.pid(), "procedure", what, "timeout", p.callTimeout)
			return nil, connect.NewError(connect.CodeUnavailable, fmt.Errorf(
				"%s: the Ceph worker for %s did not answer within %s (a Ceph call hung: is the cluster healthy?); it was stopped, and a new worker serves the next call",
				what, p.cfg, p.callTimeout))
		}
		var ce *connect.Error
		if errors.As(err, &ce) && ce.Meta().Get(errorHeader) != "" {
			return nil, err // the worker's own answer
		}
		select {
		case <-p.done:
		case <-time.After(exitWait):
			// Alive but unreachable: no later call would get through.
			p.kill("broken")
			p.log.Warn("connection to the Ceph worker failed; worker stopped", "pid", p.pid(), "procedure", what, "error", err)
			return nil, connect.NewError(connect.CodeUnavailable, fmt.Errorf(
				"%s: the connection to the Ceph worker failed (%w); it was stopped, and a new worker serves the next call", what, err))
		}
		if why := p.killedFor.Load(); why != nil && *why == "timeout" {
			return nil, connect.NewError(connect.CodeUnavailable, fmt.Errorf(
				"%s: the Ceph worker for %s was stopped because another call hung; a new worker serves the next call", what, p.cfg))
		}
		if p.stopping() {
			return nil, connect.NewError(connect.CodeUnavailable, fmt.Errorf("%s: the Ceph worker was stopped", what))
		}
		return nil, p.crashError(p.cfg, "during "+what)
	}
}

func (p *process) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return next
}

func (p *process) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return next
}

// errHung is the cause of a call's context ending at the call timeout.
var errHung = errors.New("the Ceph call hung")

// connClient sends every request over one HTTP/2 connection.
type connClient struct{ cc *http2.ClientConn }

func (c connClient) Do(req *http.Request) (*http.Response, error) { return c.cc.RoundTrip(req) }
