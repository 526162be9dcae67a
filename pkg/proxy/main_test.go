package proxy_test

import (
	"testing"
	"time"

	"github.com/otterscale/kubectl-otterscale/internal/testenv"
	"github.com/otterscale/kubectl-otterscale/pkg/instance"
	"github.com/otterscale/kubectl-otterscale/pkg/proxy"
)

// The proxy runs on a loopback port in front of the real services, a
// real API server and a real Ceph.
func TestMain(m *testing.M) {
	testenv.Main(m, testenv.WithCeph(), testenv.WithStorageClass(testenv.StorageClass, true))
}

// fixture is one test's environment (the Env, a namespace of its own) and
// the instance service over the test kubeconfig.
type fixture struct {
	*testenv.Fixture
	svc *instance.Service
}

func setup(t *testing.T) *fixture {
	t.Helper()
	f := testenv.NewFixture(t)
	return &fixture{Fixture: f, svc: instance.New(f.Provider(""))}
}

// running is the proxy serving a test (testenv.ServeProxy), under the
// names the tests use.
type running struct {
	*testenv.Proxy
	url  string
	logs *testenv.Buffer
}

func serve(t *testing.T, services proxy.Services, opts proxy.Options) *running {
	t.Helper()
	p := testenv.ServeProxy(t, services, opts)
	return &running{Proxy: p, url: p.URL, logs: p.Logs}
}

// stop ends Serve's context, as Ctrl-C does, and returns what Serve
// returned.
func (r *running) stop(wait time.Duration) error { return r.Stop(wait) }

type logBuffer = testenv.Buffer

// The clients the tests call with: HTTP/1.1, and cleartext HTTP/2 as gRPC
// clients speak it.
var http1, h2c = testenv.HTTP1, testenv.H2C
