package proxy_test

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

	cdiclient "kubevirt.io/client-go/containerizeddataimporter"

	"github.com/otterscale/kubectl-otterscale/internal/testenv"
	"github.com/otterscale/kubectl-otterscale/pkg/instance"
	"github.com/otterscale/kubectl-otterscale/pkg/proxy"
)

// The proxy runs on a loopback port in front of the real services, a
// real API server and a real Ceph.
func TestMain(m *testing.M) {
	testenv.Main(m, testenv.WithCeph(), testenv.WithStorageClass(testenv.StorageClass, true))
}

// fixture is one test's environment: the instance service over the test
// kubeconfig, a CDI client to check results with, and a namespace of the
// test's own.
type fixture struct {
	env *testenv.Env
	svc *instance.Service
	cdi cdiclient.Interface
	ns  string
}

func setup(t *testing.T) *fixture {
	t.Helper()
	f := testenv.NewFixture(t)
	return &fixture{env: f.Env, svc: instance.New(f.Provider("")), cdi: f.CDI, ns: f.Namespace}
}

// logBuffer collects the proxy's log lines.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// running is a proxy serving on a loopback port.
type running struct {
	url    string
	logs   *logBuffer
	cancel context.CancelFunc

	once sync.Once
	done chan error
	err  error
}

// serve starts the proxy as the command does: Listen, then Serve until
// its context ends.
func serve(t *testing.T, services proxy.Services, opts proxy.Options) *running {
	t.Helper()
	r := &running{logs: &logBuffer{}, done: make(chan error, 1)}
	opts.Logger = slog.New(slog.NewTextHandler(r.logs, nil))
	srv, err := proxy.NewServer(services, opts)
	if err != nil {
		t.Fatal(err)
	}
	addr, err := srv.Listen()
	if err != nil {
		t.Fatal(err)
	}
	r.url = "http://" + addr.String()
	var ctx context.Context
	ctx, r.cancel = context.WithCancel(context.Background())
	go func() { r.done <- srv.Serve(ctx) }()
	t.Cleanup(func() {
		if err := r.stop(15 * time.Second); err != nil {
			// What held the shutdown up is in some goroutine's stack
			// (this once failed in a clean-clone run, never alone).
			var stacks strings.Builder
			_ = pprof.Lookup("goroutine").WriteTo(&stacks, 1)
			t.Errorf("stop the proxy: %v\n%s", err, stacks.String())
		}
	})
	return r
}

// stop ends Serve's context, as Ctrl-C does, and returns what Serve
// returned.
func (r *running) stop(wait time.Duration) error {
	r.once.Do(func() {
		r.cancel()
		select {
		case r.err = <-r.done:
		case <-time.After(wait):
			r.err = context.DeadlineExceeded
		}
	})
	return r.err
}

// The clients the tests call with.
var (
	// http1 speaks HTTP/1.1 only.
	http1 = &http.Client{Transport: &http.Transport{}}
	// h2c speaks cleartext HTTP/2 with prior knowledge, as gRPC clients do.
	h2c = &http.Client{Transport: &http.Transport{Protocols: h2cOnly()}}
)

func h2cOnly() *http.Protocols {
	p := new(http.Protocols)
	p.SetUnencryptedHTTP2(true)
	return p
}
