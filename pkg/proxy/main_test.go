package proxy_test

import (
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
