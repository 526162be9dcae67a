package proxy_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
	"os"
	"runtime/pprof"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	cdiclient "kubevirt.io/client-go/containerizeddataimporter"

	"github.com/otterscale/kubectl-otterscale/internal/cephenv"
	"github.com/otterscale/kubectl-otterscale/internal/testenv"
	"github.com/otterscale/kubectl-otterscale/pkg/cluster"
	"github.com/otterscale/kubectl-otterscale/pkg/instance"
	"github.com/otterscale/kubectl-otterscale/pkg/proxy"
)

// The proxy runs on a loopback port in front of the real services, a
// real API server and a real Ceph.
func TestMain(m *testing.M) {
	os.Exit(testenv.Run(cephenv.RunFunc(func() int { return cephenv.Run(m, nil) }), func(env *testenv.Env) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := env.CreateStorageClass(ctx, "ceph-block", true); err != nil {
			panic(err)
		}
	}))
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
	env := testenv.Require(t)
	flags := genericclioptions.NewConfigFlags(false)
	flags.KubeConfig = &env.Kubeconfig
	cdi, err := cdiclient.NewForConfig(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	f := &fixture{env: env, svc: instance.New(cluster.NewKubeconfig(flags)), cdi: cdi, ns: "p-" + hex.EncodeToString(b)}
	if _, err := env.Kube.CoreV1().Namespaces().Create(t.Context(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: f.ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	return f
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
