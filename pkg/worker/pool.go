package worker

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"connectrpc.com/connect"

	"github.com/otterscale/kubectl-otterscale/gen/kubectlotterscale/worker/v1/workerv1connect"
	"github.com/otterscale/kubectl-otterscale/gen/otterscale/storage/v1/storagev1connect"
	"github.com/otterscale/kubectl-otterscale/pkg/cephconf"
	"github.com/otterscale/kubectl-otterscale/pkg/worker/spawn"
)

// callTimeoutFactor makes each call's deadline from the configuration's
// per-operation timeout: a call is a handful of librados operations (an
// image listing, one per image), each bounded by librados itself, so a
// call that outlasts this many of them is stuck in a librbd call with no
// timeout of its own.
const callTimeoutFactor = 12

// Options configure a Pool.
type Options struct {
	// Path is the worker binary; when empty, Find's.
	Path string
	// CallTimeout bounds each call, from the parent's side: a call still
	// running then has hung, and its worker is stopped. When 0, twelve
	// times the configuration's Timeout (a minute by default).
	CallTimeout time.Duration
	// Logger gets a line when a worker starts, stops or dies; nothing is
	// logged when nil.
	Logger *slog.Logger
}

// Pool runs the workers: one per Ceph cluster (per Config), started on
// first use and started again after one dies.
type Pool struct {
	opts Options
	log  *slog.Logger

	mu      sync.Mutex
	bin     *Binary
	spare   *process
	workers map[string]*entry
	closed  bool
}

// entry is one cluster's worker, or its start under way.
type entry struct {
	ready chan struct{}
	proc  *process
	err   error
}

// Worker is a running worker's clients. Each call is bounded by the
// Pool's call timeout, and a call that its worker's death ends answers
// unavailable, saying so.
type Worker struct {
	Storage storagev1connect.StorageServiceClient
	Names   workerv1connect.WorkerServiceClient
}

// NewPool returns a Pool; nothing starts until Warm or Get.
func NewPool(opts Options) *Pool {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return &Pool{opts: opts, log: log, workers: map[string]*entry{}}
}

// binary finds the worker binary once.
func (p *Pool) binary() Binary {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.bin == nil {
		b := Binary{Path: p.opts.Path}
		if b.Path == "" {
			b = Find()
		}
		p.bin = &b
	}
	return *p.bin
}

// Warm starts a worker that waits for its configuration, so that loading
// Ceph's libraries overlaps with finding the cluster. The next Get for a
// cluster without a worker takes it. Commands that will talk to Ceph call
// it first; it does nothing when there is no worker binary.
func (p *Pool) Warm() {
	b := p.binary()
	if b.Path == "" {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed || (p.spare != nil && p.spare.alive()) {
		return
	}
	var proc *process
	var err error
	if early := spawn.TakeEarly(b.Path); early != nil {
		proc, err = adopt(early, p.log) // started as this process began
	} else {
		proc, err = start(b.Path, p.log)
	}
	if err != nil {
		return // Get starts one again and reports why it cannot
	}
	p.spare = proc
}

// key identifies a cluster's worker: the same monitors, user, key and
// settings share one.
func key(cfg *cephconf.Config) string {
	data, _ := json.Marshal([]any{cfg.MonHost, cfg.User, cfg.Key, cfg.ConfFile, timeout(cfg)})
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// Get answers the worker for cfg's cluster, starting one (which connects)
// when there is none or the last one died. An error is a Connect error:
// failed_precondition wrapping ErrNoCeph when no worker can run here, or
// the connection's own error (unauthenticated for a refused key,
// unavailable for an unreachable cluster, ...).
func (p *Pool) Get(ctx context.Context, cfg *cephconf.Config) (*Worker, error) {
	k := key(cfg)
	for {
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			return nil, connect.NewError(connect.CodeUnavailable, errors.New("the Ceph workers are stopping"))
		}
		e := p.workers[k]
		if e == nil {
			e = &entry{ready: make(chan struct{})}
			p.workers[k] = e
			p.mu.Unlock()
			proc, err := p.launch(cfg, k)
			p.mu.Lock()
			e.proc, e.err = proc, err
			if err != nil && p.workers[k] == e {
				delete(p.workers, k)
			}
			close(e.ready)
			closed := p.closed
			p.mu.Unlock()
			if err != nil {
				return nil, err
			}
			if closed {
				proc.stop()
			}
			return proc.worker, nil
		}
		p.mu.Unlock()
		select {
		case <-e.ready:
		case <-ctx.Done():
			return nil, connect.NewError(connect.CodeOf(ctx.Err()), ctx.Err())
		}
		if e.err != nil {
			return nil, e.err
		}
		if e.proc.alive() {
			return e.proc.worker, nil
		}
		p.forget(k, e.proc) // it died: start another
	}
}

// Usable answers the error every call would, failed_precondition
// wrapping ErrNoCeph, when there is no worker binary to start; nil when
// there is one (which may still fail to start: Get says so).
func (p *Pool) Usable() error {
	if b := p.binary(); b.Path == "" {
		return connect.NewError(connect.CodeFailedPrecondition, fmt.Errorf("%w (%s)", ErrNoCeph, b.Problem))
	}
	return nil
}

// launch takes the spare worker or starts one, and hands it cfg.
func (p *Pool) launch(cfg *cephconf.Config, k string) (*process, error) {
	if err := p.Usable(); err != nil {
		return nil, err
	}
	b := p.binary()
	p.mu.Lock()
	proc := p.spare
	p.spare = nil
	p.mu.Unlock()
	if proc == nil || !proc.alive() {
		var err error
		if early := spawn.TakeEarly(b.Path); early != nil {
			proc, err = adopt(early, p.log)
		} else {
			proc, err = start(b.Path, p.log)
		}
		if err != nil {
			return nil, err
		}
	}
	callTimeout := p.opts.CallTimeout
	if callTimeout <= 0 {
		callTimeout = callTimeoutFactor * timeout(cfg)
	}
	if err := proc.configure(cfg, k, callTimeout, p); err != nil {
		return nil, err
	}
	p.log.Info("Ceph worker started", "pid", proc.pid(), "ceph", cfg.String())
	return proc, nil
}

// forget drops proc, which has died, so that the next Get starts another.
func (p *Pool) forget(k string, proc *process) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if e := p.workers[k]; e != nil && e.proc == proc {
		delete(p.workers, k)
	}
}

// died is called once a configured worker has exited. A worker that died
// on its own is replaced at once, so that the next call finds one ready.
func (p *Pool) died(proc *process) {
	p.forget(proc.key, proc)
	why := proc.exitReason()
	p.mu.Lock()
	closed := p.closed
	p.mu.Unlock()
	if closed || proc.stopping() {
		return
	}
	p.log.Warn("Ceph worker died; starting another", "pid", proc.pid(), "ceph", proc.cfg.String(), "reason", why)
	// Only a worker that had lived a while: one that dies at once would
	// die again.
	if time.Since(proc.started) > time.Second {
		go func() { _, _ = p.Get(context.Background(), proc.cfg) }()
	}
}

// Close stops every worker: each exits as its stdin closes. Calls in
// flight end with unavailable. It does not wait.
func (p *Pool) Close() {
	p.mu.Lock()
	p.closed = true
	var procs []*process
	for k, e := range p.workers {
		select {
		case <-e.ready:
			if e.proc != nil {
				procs = append(procs, e.proc)
			}
		default: // Get stops it when its start ends
		}
		delete(p.workers, k)
	}
	if p.spare != nil {
		procs = append(procs, p.spare)
		p.spare = nil
	}
	p.mu.Unlock()
	for _, proc := range procs {
		proc.stop()
	}
}
