package proxy_test

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"

	instancev1 "github.com/otterscale/kubectl-otterscale/gen/otterscale/instance/v1"
	"github.com/otterscale/kubectl-otterscale/gen/otterscale/instance/v1/instancev1connect"
	"github.com/otterscale/kubectl-otterscale/pkg/proxy"
)

// The body deadline ends with the body: watches in every protocol keep
// running long after it, and still deliver.
func TestStreamsOutliveBodyTimeout(t *testing.T) {
	f := setup(t)
	const bodyTimeout = 200 * time.Millisecond
	p := serve(t, proxy.Services{Instance: f.svc}, proxy.Options{BodyTimeout: bodyTimeout})
	var streams []*connect.ServerStreamForClient[instancev1.WatchDataVolumesResponse]
	for _, proto := range protocols {
		stream, err := instancev1connect.NewInstanceServiceClient(proto.client, p.url, proto.opts...).WatchDataVolumes(t.Context(),
			connect.NewRequest(&instancev1.WatchDataVolumesRequest{Namespace: f.Namespace}))
		if err != nil {
			t.Fatal(err)
		}
		defer stream.Close()
		for stream.Receive() && stream.Msg().GetType() != instancev1.WatchDataVolumesResponse_SYNCED {
		}
		if err := stream.Err(); err != nil {
			t.Fatalf("%s: %v", proto.name, err)
		}
		streams = append(streams, stream)
	}
	time.Sleep(5 * bodyTimeout)
	if _, err := f.svc.CreateDataVolume(t.Context(), connect.NewRequest(&instancev1.CreateDataVolumeRequest{
		Name: "later", Namespace: f.Namespace, SizeBytes: 1 << 30,
	})); err != nil {
		t.Fatal(err)
	}
	for i, stream := range streams {
		if !stream.Receive() || stream.Msg().GetType() != instancev1.WatchDataVolumesResponse_ADDED || stream.Msg().GetDataVolume().GetName() != "later" {
			t.Errorf("%s: after the body deadline: %v, %v; want ADDED later", protocols[i].name, stream.Msg(), stream.Err())
		}
	}
}

// A body that stalls is given up on: the server answers or hangs up
// instead of holding the call forever.
func TestStalledBody(t *testing.T) {
	f := setup(t)
	p := serve(t, proxy.Services{Instance: f.svc}, proxy.Options{BodyTimeout: 200 * time.Millisecond})
	conn, err := net.Dial("tcp", strings.TrimPrefix(p.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, "POST "+listProcedure+" HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"namespace\":"); err != nil {
		t.Fatal(err)
	}
	// Far beyond the body timeout; only a server that waits forever
	// reaches it.
	if err := conn.SetReadDeadline(time.Now().Add(30 * time.Second)); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("the server held the stalled call: %v", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusGatewayTimeout || !strings.Contains(string(body), `"code":"deadline_exceeded"`) {
		t.Errorf("stalled body: %d %s", resp.StatusCode, body)
	}
}
