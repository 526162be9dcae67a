package resource_test

import (
	"testing"

	"connectrpc.com/connect"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/otterscale/kubectl-otterscale/gen/otterscale/link/v1/linkv1connect"
	"github.com/otterscale/kubectl-otterscale/gen/otterscale/resource/v1/resourcev1connect"
	"github.com/otterscale/kubectl-otterscale/internal/testenv"
	"github.com/otterscale/kubectl-otterscale/pkg/instance"
	"github.com/otterscale/kubectl-otterscale/pkg/link"
	"github.com/otterscale/kubectl-otterscale/pkg/proxy"
	"github.com/otterscale/kubectl-otterscale/pkg/resource"
)

// The services run behind the real proxy, in front of a real API server
// of their own package: TestWatchAcrossRestart restarts it.
func TestMain(m *testing.M) { testenv.Main(m) }

var dataVolumes = schema.GroupVersionResource{Group: "cdi.kubevirt.io", Version: "v1beta1", Resource: "datavolumes"}

// fixture is one test's proxy and namespace.
type fixture struct {
	env *testenv.Env
	url string
	ns  string
	// clients call the proxy in each protocol it speaks.
	clients map[string]resourcev1connect.ResourceServiceClient
	links   linkv1connect.LinkServiceClient
}

// The protocols every behaviour is checked in.
var protocols = []string{"connect+json", "connect+proto", "grpc"}

// The clients the tests call with: HTTP/1.1, and cleartext HTTP/2 as gRPC
// clients speak it.
var http1, h2c = testenv.HTTP1, testenv.H2C

func setup(t *testing.T) *fixture {
	t.Helper()
	return setupWith(t, proxy.Options{})
}

func setupWith(t *testing.T, opts proxy.Options) *fixture {
	t.Helper()
	tf := testenv.NewFixture(t)
	kc := tf.Provider("")
	kc.Unthrottle()
	p := testenv.ServeProxy(t, proxy.Services{
		Instance: instance.New(kc),
		Resource: resource.New(kc),
		Link:     link.New(kc),
	}, opts)
	f := &fixture{env: tf.Env, url: p.URL, ns: tf.Namespace}
	f.clients = map[string]resourcev1connect.ResourceServiceClient{
		"connect+json":  resourcev1connect.NewResourceServiceClient(http1, f.url, connect.WithProtoJSON()),
		"connect+proto": resourcev1connect.NewResourceServiceClient(http1, f.url),
		"grpc":          resourcev1connect.NewResourceServiceClient(h2c, f.url, connect.WithGRPC()),
	}
	f.links = linkv1connect.NewLinkServiceClient(http1, f.url, connect.WithProtoJSON())
	return f
}

// wantCode fails t unless err is a Connect error with code.
func wantCode(t *testing.T, err error, code connect.Code) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want %s", code)
	}
	if connect.CodeOf(err) != code {
		t.Fatalf("got %v, want code %s", err, code)
	}
}
