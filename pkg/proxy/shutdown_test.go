package proxy_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"

	instancev1 "github.com/otterscale/kubectl-otterscale/gen/otterscale/instance/v1"
	"github.com/otterscale/kubectl-otterscale/gen/otterscale/instance/v1/instancev1connect"
	"github.com/otterscale/kubectl-otterscale/pkg/proxy"
)

// heldGet is the real service whose GetDataVolume waits until released, so
// that a call is in flight when the proxy is told to stop.
type heldGet struct {
	instancev1connect.InstanceServiceHandler
	once    sync.Once
	entered chan struct{}
	release chan struct{}
}

func (h *heldGet) GetDataVolume(ctx context.Context, req *connect.Request[instancev1.GetDataVolumeRequest]) (*connect.Response[instancev1.DataVolume], error) {
	h.once.Do(func() { close(h.entered) })
	<-h.release
	return h.InstanceServiceHandler.GetDataVolume(ctx, req)
}

// Ctrl-C: watch streams end cleanly (OK, in every protocol), a unary call
// in flight finishes with its answer, and the server stops.
func TestGracefulShutdown(t *testing.T) {
	f := setup(t)
	if _, err := f.svc.CreateDataVolume(t.Context(), connect.NewRequest(&instancev1.CreateDataVolumeRequest{
		Name: "held", Namespace: f.Namespace, SizeBytes: 1 << 30,
	})); err != nil {
		t.Fatal(err)
	}
	held := &heldGet{InstanceServiceHandler: f.svc, entered: make(chan struct{}), release: make(chan struct{})}
	p := serve(t, proxy.Services{Instance: held}, proxy.Options{})

	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	type watch struct {
		name   string
		stream *connect.ServerStreamForClient[instancev1.WatchDataVolumesResponse]
	}
	var watches []watch
	for _, proto := range protocols {
		stream, err := instancev1connect.NewInstanceServiceClient(proto.client, p.url, proto.opts...).WatchDataVolumes(ctx,
			connect.NewRequest(&instancev1.WatchDataVolumesRequest{Namespace: f.Namespace}))
		if err != nil {
			t.Fatal(err)
		}
		for stream.Receive() && stream.Msg().GetType() != instancev1.WatchDataVolumesResponse_SYNCED {
		}
		if stream.Err() != nil {
			t.Fatalf("%s: %v", proto.name, stream.Err())
		}
		watches = append(watches, watch{proto.name, stream})
	}

	got := make(chan error, 1)
	go func() {
		resp, err := instancev1connect.NewInstanceServiceClient(http1, p.url).GetDataVolume(ctx,
			connect.NewRequest(&instancev1.GetDataVolumeRequest{Namespace: f.Namespace, Name: "held"}))
		if err == nil && resp.Msg.GetName() != "held" {
			t.Errorf("get answered %v", resp.Msg)
		}
		got <- err
	}()
	select {
	case <-held.entered:
	case <-ctx.Done():
		t.Fatal("the call never reached the service")
	}

	stopped := make(chan error, 1)
	go func() { stopped <- p.stop(20 * time.Second) }()
	for _, w := range watches {
		for w.stream.Receive() {
		}
		if err := w.stream.Err(); err != nil {
			t.Errorf("%s: the watch ended with %v, want a clean end", w.name, err)
		}
		_ = w.stream.Close()
	}
	close(held.release)
	if err := <-got; err != nil {
		t.Errorf("the call in flight: %v, want its answer", err)
	}
	if err := <-stopped; err != nil {
		t.Fatalf("serve: %v", err)
	}
	_, err := instancev1connect.NewInstanceServiceClient(http1, p.url).ListDataVolumes(t.Context(),
		connect.NewRequest(&instancev1.ListDataVolumesRequest{Namespace: f.Namespace}))
	if connect.CodeOf(err) != connect.CodeUnavailable {
		t.Errorf("a call after the shutdown: %v, want unavailable (connection refused)", err)
	}
	logs := p.logs.String()
	if n := strings.Count(logs, "procedure="+instancev1connect.InstanceServiceWatchDataVolumesProcedure); n != len(protocols) ||
		strings.Count(logs, "code=ok") != len(protocols)+1 {
		t.Errorf("want every watch and the get logged with code ok:\n%s", logs)
	}
}
