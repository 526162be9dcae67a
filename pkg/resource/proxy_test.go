package resource_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"connectrpc.com/connect"
	"connectrpc.com/grpcreflect"
	"google.golang.org/protobuf/reflect/protoreflect"

	linkv1 "github.com/otterscale/kubectl-otterscale/gen/otterscale/link/v1"
	"github.com/otterscale/kubectl-otterscale/gen/otterscale/link/v1/linkv1connect"
	"github.com/otterscale/kubectl-otterscale/gen/otterscale/resource/v1/resourcev1connect"
	"github.com/otterscale/kubectl-otterscale/internal/testenv"
	"github.com/otterscale/kubectl-otterscale/pkg/proxy"
)

// Health and reflection cover the new services, as grpcurl and buf curl
// ask them.
func TestHealthAndReflection(t *testing.T) {
	f := setup(t)
	for _, svc := range []string{resourcev1connect.ResourceServiceName, linkv1connect.LinkServiceName} {
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, f.url+"/grpc.health.v1.Health/Check", strings.NewReader(`{"service":"`+svc+`"}`))
		req.Header.Set("Content-Type", "application/json")
		resp, err := http1.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if !strings.Contains(string(body), "SERVING") {
			t.Errorf("health of %s: %d %s", svc, resp.StatusCode, body)
		}
	}
	stream := grpcreflect.NewClient(h2c, f.url, connect.WithGRPC()).NewStream(t.Context())
	defer func() { _, _ = stream.Close() }()
	names, err := stream.ListServices()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{resourcev1connect.ResourceServiceName, linkv1connect.LinkServiceName} {
		if !slices.Contains(names, protoreflect.FullName(want)) {
			t.Errorf("reflection lists %v, not %s", names, want)
		}
	}
}

// With --upstream, LinkService's agent methods go there; ListLinks stays
// the kubeconfig's.
func TestLinkAgentForwarded(t *testing.T) {
	var mu sync.Mutex
	var paths []string
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		paths = append(paths, r.URL.Path)
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"manifest":"from upstream","url":"https://otterscale.example.com/agent"}`)
	}))
	defer up.Close()
	f := setupWith(t, proxy.Options{Upstream: up.URL})
	got, err := f.links.GetAgentManifest(t.Context(), connect.NewRequest(&linkv1.GetAgentManifestRequest{}))
	if err != nil {
		t.Fatal(err)
	}
	if got.Msg.GetManifest() != "from upstream" {
		t.Errorf("manifest %q", got.Msg.GetManifest())
	}
	links, err := f.links.ListLinks(t.Context(), connect.NewRequest(&linkv1.ListLinksRequest{}))
	if err != nil {
		t.Fatal(err)
	}
	if len(links.Msg.GetLinks()) == 0 || links.Msg.GetLinks()[0].GetCluster() != testenv.ContextAdmin {
		t.Errorf("links %v", links.Msg.GetLinks())
	}
	mu.Lock()
	defer mu.Unlock()
	if len(paths) != 1 || paths[0] != linkv1connect.LinkServiceGetAgentManifestProcedure {
		t.Errorf("upstream was called for %v", paths)
	}
}
