package testenv

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"runtime/pprof"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/otterscale/kubectl-otterscale/pkg/proxy"
)

// stopWait is how long a test's proxy may take to stop when its test ends.
const stopWait = 15 * time.Second

// The clients tests call a proxy with.
var (
	// HTTP1 speaks HTTP/1.1 only.
	HTTP1 = &http.Client{Transport: &http.Transport{}}
	// H2C speaks cleartext HTTP/2 with prior knowledge, as gRPC clients do.
	H2C = &http.Client{Transport: &http.Transport{Protocols: h2cOnly()}}
)

func h2cOnly() *http.Protocols {
	p := new(http.Protocols)
	p.SetUnencryptedHTTP2(true)
	return p
}

// Proxy is the proxy serving a test on a loopback port (ServeProxy).
type Proxy struct {
	// URL is http://127.0.0.1:PORT.
	URL string
	// Logs holds what the proxy logged, when ServeProxy was given no Logger.
	Logs *Buffer

	cancel context.CancelFunc
	done   chan error
	once   sync.Once
	err    error
}

// ServeProxy starts the proxy over services as the proxy command does
// (Listen on opts' address, 127.0.0.1 and a free port unless it says
// otherwise, then Serve) and stops it when t ends, failing t when it does
// not stop in 15 s or Serve returns an error.
func ServeProxy(t testing.TB, services proxy.Services, opts proxy.Options) *Proxy {
	t.Helper()
	p := &Proxy{Logs: &Buffer{}, done: make(chan error, 1)}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(p.Logs, nil))
	}
	srv, err := proxy.NewServer(services, opts)
	if err != nil {
		t.Fatal(err)
	}
	addr, err := srv.Listen()
	if err != nil {
		t.Fatal(err)
	}
	p.URL = "http://" + addr.String()
	// Not t.Context(): it ends before the cleanup that stops the proxy.
	ctx, cancel := context.WithCancel(context.Background())
	p.cancel = cancel
	go func() { p.done <- srv.Serve(ctx) }()
	t.Cleanup(func() {
		if err := p.Stop(stopWait); err != nil {
			// What held the shutdown up is in some goroutine's stack.
			var stacks strings.Builder
			_ = pprof.Lookup("goroutine").WriteTo(&stacks, 1)
			t.Errorf("stop the proxy: %v\n%s", err, stacks.String())
		}
	})
	return p
}

// Stop ends Serve's context, as Ctrl-C does, and returns what Serve
// returned, or context.DeadlineExceeded when it took longer than wait.
// Later calls return the same.
func (p *Proxy) Stop(wait time.Duration) error {
	p.once.Do(func() {
		p.cancel()
		select {
		case p.err = <-p.done:
		case <-time.After(wait):
			p.err = context.DeadlineExceeded
		}
	})
	return p.err
}

// Buffer collects what a proxy logs or a process writes, from any
// goroutine, while the test reads it.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *Buffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *Buffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
