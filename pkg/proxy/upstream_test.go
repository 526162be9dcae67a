package proxy_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"

	instancev1 "github.com/otterscale/kubectl-otterscale/gen/otterscale/instance/v1"
	"github.com/otterscale/kubectl-otterscale/gen/otterscale/instance/v1/instancev1connect"
	"github.com/otterscale/kubectl-otterscale/pkg/proxy"
)

// Procedures only the stand-in OtterScale server has: one of another
// service, and one of InstanceService that the proxy does not implement
// (upstream's services may have more than the proxy serves).
const (
	upUnary   = "/otterscale.machine.v1.MachineService/GetMachine"
	upStream  = "/otterscale.machine.v1.MachineService/WatchMachines"
	upBidi    = "/otterscale.machine.v1.MachineService/Console"
	upHang    = "/otterscale.machine.v1.MachineService/Hang"
	upSlow    = "/otterscale.machine.v1.MachineService/Slow"
	upSilent  = "/otterscale.machine.v1.MachineService/Silent"
	upSameSvc = "/otterscale.instance.v1.InstanceService/ListVirtualMachines"
)

// exchange is one HTTP exchange as one side saw it: what was sent and
// what came back, bodies byte for byte.
type exchange struct {
	path     string
	header   http.Header
	body     []byte
	status   int
	rheader  http.Header
	rbody    []byte
	rtrailer http.Header
}

// tape records exchanges.
type tape struct {
	mu  sync.Mutex
	log []*exchange
}

func (t *tape) add(e *exchange) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.log = append(t.log, e)
}

func (t *tape) all() []*exchange {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]*exchange(nil), t.log...)
}

// teeWriter keeps a copy of a response.
type teeWriter struct {
	http.ResponseWriter
	status int
	body   bytes.Buffer
}

func (w *teeWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *teeWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	w.body.Write(p)
	return w.ResponseWriter.Write(p)
}

func (w *teeWriter) Flush() {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

func (w *teeWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// tapBody copies a body as it is read.
type tapBody struct {
	io.ReadCloser
	buf *bytes.Buffer
	mu  *sync.Mutex
}

func (b tapBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.mu.Lock()
	b.buf.Write(p[:n])
	b.mu.Unlock()
	return n, err
}

// standIn is an OtterScale server: connect-go handlers for procedures the
// proxy does not serve, recording every exchange on its side.
type standIn struct {
	url  string
	tape *tape
	// hung is closed when a Hang call ends on the server's side.
	hung chan struct{}
	// slowEntered is closed when a Slow call arrives; it answers once
	// slowRelease is closed.
	slowEntered, slowRelease chan struct{}
	// silentEntered is closed when a Silent call arrives.
	silentEntered chan struct{}
}

// machine is the stand-in's reply: a DataVolume message does as well as
// any other.
func machine(name string) *instancev1.DataVolume {
	return &instancev1.DataVolume{Name: name, Namespace: "machines", SizeBytes: 42}
}

func newStandIn(t *testing.T) *standIn {
	t.Helper()
	s := &standIn{tape: &tape{}, hung: make(chan struct{}), slowEntered: make(chan struct{}), slowRelease: make(chan struct{}), silentEntered: make(chan struct{})}
	mux := http.NewServeMux()
	mux.Handle(upUnary, connect.NewUnaryHandler(upUnary,
		func(_ context.Context, req *connect.Request[instancev1.GetDataVolumeRequest]) (*connect.Response[instancev1.DataVolume], error) {
			if req.Msg.GetName() == "forbidden" {
				err := connect.NewError(connect.CodePermissionDenied, errors.New("upstream says no"))
				err.Meta().Set("X-Upstream-Reason", "policy")
				return nil, err
			}
			resp := connect.NewResponse(machine(req.Msg.GetName()))
			resp.Header().Set("X-Upstream", "stand-in")
			resp.Trailer().Set("X-Upstream-Trailer", "done")
			return resp, nil
		}))
	mux.Handle(upSameSvc, connect.NewUnaryHandler(upSameSvc,
		func(_ context.Context, req *connect.Request[instancev1.ListDataVolumesRequest]) (*connect.Response[instancev1.ListDataVolumesResponse], error) {
			return connect.NewResponse(&instancev1.ListDataVolumesResponse{DataVolumes: []*instancev1.DataVolume{machine("vm-in-" + req.Msg.GetNamespace())}}), nil
		}))
	mux.Handle(upStream, connect.NewServerStreamHandler(upStream,
		func(ctx context.Context, req *connect.Request[instancev1.GetDataVolumeRequest], stream *connect.ServerStream[instancev1.DataVolume]) error {
			stream.ResponseHeader().Set("X-Upstream", "stand-in")
			for i := range 3 {
				if err := stream.Send(machine(fmt.Sprintf("%s-%d", req.Msg.GetName(), i))); err != nil {
					return err
				}
				select {
				case <-ctx.Done():
					return ctx.Err()
				case <-time.After(20 * time.Millisecond):
				}
			}
			stream.ResponseTrailer().Set("X-Upstream-Trailer", "streamed")
			return nil
		}))
	mux.Handle(upBidi, connect.NewBidiStreamHandler(upBidi,
		func(_ context.Context, stream *connect.BidiStream[instancev1.GetDataVolumeRequest, instancev1.DataVolume]) error {
			for {
				req, err := stream.Receive()
				if errors.Is(err, io.EOF) {
					return nil
				}
				if err != nil {
					return err
				}
				if err := stream.Send(machine("echo-" + req.GetName())); err != nil {
					return err
				}
			}
		}))
	mux.Handle(upSilent, connect.NewServerStreamHandler(upSilent,
		func(ctx context.Context, _ *connect.Request[instancev1.GetDataVolumeRequest], _ *connect.ServerStream[instancev1.DataVolume]) error {
			close(s.silentEntered)
			<-ctx.Done()
			return ctx.Err()
		}))
	mux.Handle(upSlow, connect.NewUnaryHandler(upSlow,
		func(_ context.Context, req *connect.Request[instancev1.GetDataVolumeRequest]) (*connect.Response[instancev1.DataVolume], error) {
			close(s.slowEntered)
			<-s.slowRelease
			return connect.NewResponse(machine(req.Msg.GetName())), nil
		}))
	mux.Handle(upHang, connect.NewServerStreamHandler(upHang,
		func(ctx context.Context, _ *connect.Request[instancev1.GetDataVolumeRequest], stream *connect.ServerStream[instancev1.DataVolume]) error {
			defer close(s.hung)
			if err := stream.Send(machine("first")); err != nil {
				return err
			}
			<-ctx.Done()
			return ctx.Err()
		}))
	record := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e := &exchange{path: r.URL.Path, header: r.Header.Clone()}
		var in bytes.Buffer
		var mu sync.Mutex
		r.Body = tapBody{r.Body, &in, &mu}
		tw := &teeWriter{ResponseWriter: w}
		mux.ServeHTTP(tw, r)
		mu.Lock()
		e.body = in.Bytes()
		mu.Unlock()
		e.status, e.rbody, e.rheader = tw.status, tw.body.Bytes(), w.Header().Clone()
		s.tape.add(e)
	})
	srv := httptest.NewUnstartedServer(record)
	srv.Config.Protocols = new(http.Protocols)
	srv.Config.Protocols.SetHTTP1(true)
	srv.Config.Protocols.SetUnencryptedHTTP2(true)
	srv.Start()
	t.Cleanup(srv.Close)
	s.url = srv.URL
	return s
}

// tapping records, on the caller's side, what a client sends and gets.
type tapping struct {
	next http.RoundTripper
	tape *tape
}

func (c tapping) RoundTrip(req *http.Request) (*http.Response, error) {
	e := &exchange{path: req.URL.Path, header: req.Header.Clone()}
	var in bytes.Buffer
	var mu sync.Mutex
	if req.Body != nil {
		req = req.Clone(req.Context())
		req.Body = tapBody{req.Body, &in, &mu}
	}
	resp, err := c.next.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	e.status, e.rheader = resp.StatusCode, resp.Header.Clone()
	var out bytes.Buffer
	resp.Body = &tapEnd{tapBody{resp.Body, &out, &mu}, func() {
		mu.Lock()
		defer mu.Unlock()
		e.body, e.rbody, e.rtrailer = in.Bytes(), out.Bytes(), resp.Trailer.Clone()
		c.tape.add(e)
	}, sync.Once{}}
	return resp, nil
}

// tapEnd files the exchange once the response body is done.
type tapEnd struct {
	tapBody
	done func()
	once sync.Once
}

func (b *tapEnd) Read(p []byte) (int, error) {
	n, err := b.tapBody.Read(p)
	if err != nil {
		b.once.Do(b.done)
	}
	return n, err
}

func (b *tapEnd) Close() error {
	b.once.Do(b.done)
	return b.tapBody.Close()
}

// Every protocol's unary and streaming calls reach the stand-in and come
// back byte for byte: bodies, headers and trailers, the caller's
// Authorization only there, never the kubeconfig's credentials.
func TestForwardEveryProtocol(t *testing.T) {
	f := setup(t)
	for _, proto := range protocols {
		t.Run(proto.name, func(t *testing.T) {
			up := newStandIn(t)
			p := serve(t, proxy.Services{Instance: f.svc}, proxy.Options{Upstream: up.url})
			ctx := t.Context()
			seen := &tape{}
			hc := &http.Client{Transport: tapping{bearer{"upstream-credential", proto.client.Transport}, seen}}
			unary := connect.NewClient[instancev1.GetDataVolumeRequest, instancev1.DataVolume](hc, p.url+upUnary, proto.opts...)
			resp, err := unary.CallUnary(ctx, connect.NewRequest(&instancev1.GetDataVolumeRequest{Name: "m1"}))
			if err != nil {
				t.Fatalf("unary: %v", err)
			}
			if resp.Msg.GetName() != "m1" || resp.Msg.GetSizeBytes() != 42 {
				t.Errorf("unary answered %v", resp.Msg)
			}
			if resp.Header().Get("X-Upstream") != "stand-in" || resp.Trailer().Get("X-Upstream-Trailer") != "done" {
				t.Errorf("unary lost upstream's header or trailer: %v / %v", resp.Header(), resp.Trailer())
			}

			_, err = unary.CallUnary(ctx, connect.NewRequest(&instancev1.GetDataVolumeRequest{Name: "forbidden"}))
			var cerr *connect.Error
			if !errors.As(err, &cerr) || cerr.Code() != connect.CodePermissionDenied || cerr.Message() != "upstream says no" || cerr.Meta().Get("X-Upstream-Reason") != "policy" {
				t.Errorf("upstream's error came back as %v (meta %v)", err, cerr)
			}

			stream, err := connect.NewClient[instancev1.GetDataVolumeRequest, instancev1.DataVolume](hc, p.url+upStream, proto.opts...).
				CallServerStream(ctx, connect.NewRequest(&instancev1.GetDataVolumeRequest{Name: "w"}))
			if err != nil {
				t.Fatalf("stream: %v", err)
			}
			var names []string
			for stream.Receive() {
				names = append(names, stream.Msg().GetName())
			}
			if err := stream.Err(); err != nil {
				t.Errorf("stream ended with %v", err)
			}
			if strings.Join(names, ",") != "w-0,w-1,w-2" {
				t.Errorf("stream gave %v", names)
			}
			if stream.ResponseHeader().Get("X-Upstream") != "stand-in" || stream.ResponseTrailer().Get("X-Upstream-Trailer") != "streamed" {
				t.Errorf("stream lost upstream's header or trailer: %v / %v", stream.ResponseHeader(), stream.ResponseTrailer())
			}
			_ = stream.Close()

			sameSvc, err := connect.NewClient[instancev1.ListDataVolumesRequest, instancev1.ListDataVolumesResponse](hc, p.url+upSameSvc, proto.opts...).
				CallUnary(ctx, connect.NewRequest(&instancev1.ListDataVolumesRequest{Namespace: "ns1"}))
			if err != nil || len(sameSvc.Msg.GetDataVolumes()) != 1 || sameSvc.Msg.GetDataVolumes()[0].GetName() != "vm-in-ns1" {
				t.Errorf("InstanceService procedure the proxy lacks: %v, %v", sameSvc, err)
			}

			// Byte for byte: what the client sent is what the stand-in
			// got, and the reverse.
			sent := seen.all()
			if len(sent) != 4 {
				t.Fatalf("client made %d exchanges, want 4", len(sent))
			}
			got := callsTo(up.tape.all(), sent)
			for i, c := range sent {
				u := got[i]
				if u == nil {
					t.Errorf("%s never reached the stand-in", c.path)
					continue
				}
				if !bytes.Equal(c.body, u.body) {
					t.Errorf("%s: request body changed on the way:\nsent %q\ngot  %q", c.path, c.body, u.body)
				}
				if !bytes.Equal(c.rbody, u.rbody) {
					t.Errorf("%s: response body changed on the way:\nsent %q\ngot  %q", c.path, u.rbody, c.rbody)
				}
				if c.status != u.status {
					t.Errorf("%s: status %d, upstream answered %d", c.path, c.status, u.status)
				}
				for _, k := range []string{"Content-Type", "Connect-Protocol-Version", "Grpc-Timeout", "Te", "User-Agent"} {
					if c.header.Get(k) != u.header.Get(k) {
						t.Errorf("%s: header %s %q arrived as %q", c.path, k, c.header.Get(k), u.header.Get(k))
					}
				}
				if u.header.Get("Authorization") != "Bearer upstream-credential" {
					t.Errorf("%s: the caller's Authorization arrived as %q", c.path, u.header.Get("Authorization"))
				}
				for k, vs := range u.header {
					if strings.Contains(strings.Join(vs, " "), f.Config.BearerToken) {
						t.Errorf("%s: the kubeconfig's token reached the upstream in %s", c.path, k)
					}
				}
				// Trailers as HTTP trailers (gRPC) arrive as such.
				for k := range u.rheader {
					if v, ok := strings.CutPrefix(k, http.TrailerPrefix); ok && c.rtrailer.Get(v) != u.rheader.Get(k) {
						t.Errorf("%s: trailer %s %q arrived as %q", c.path, v, u.rheader.Get(k), c.rtrailer.Get(v))
					}
				}
			}
			logs := p.logs.String()
			if !strings.Contains(logs, "msg=forward procedure="+upStream) || strings.Contains(logs, "upstream-credential") {
				t.Errorf("forwarded calls are not logged as they should be:\n%s", logs)
			}
		})
	}
}

// callsTo pairs each client exchange with the stand-in's of the same
// procedure, in order.
func callsTo(upstream, client []*exchange) []*exchange {
	used := make([]bool, len(upstream))
	out := make([]*exchange, len(client))
	for i, c := range client {
		for j, u := range upstream {
			if !used[j] && u.path == c.path && bytes.Equal(u.body, c.body) {
				used[j], out[i] = true, u
				break
			}
		}
	}
	return out
}

// A bidirectional stream over gRPC is full duplex through the proxy: each
// answer comes before the next request is sent.
func TestForwardBidi(t *testing.T) {
	f := setup(t)
	up := newStandIn(t)
	p := serve(t, proxy.Services{Instance: f.svc}, proxy.Options{Upstream: up.url})
	for _, opts := range [][]connect.ClientOption{{connect.WithGRPC()}, nil} {
		stream := connect.NewClient[instancev1.GetDataVolumeRequest, instancev1.DataVolume](h2c, p.url+upBidi, opts...).CallBidiStream(t.Context())
		for i := range 3 {
			name := fmt.Sprint(i)
			if err := stream.Send(&instancev1.GetDataVolumeRequest{Name: name}); err != nil {
				t.Fatalf("send %d: %v", i, err)
			}
			got, err := stream.Receive()
			if err != nil || got.GetName() != "echo-"+name {
				t.Fatalf("receive %d: %v %v", i, got, err)
			}
		}
		if err := stream.CloseRequest(); err != nil {
			t.Fatal(err)
		}
		if _, err := stream.Receive(); !errors.Is(err, io.EOF) {
			t.Errorf("after the last answer: %v, want EOF", err)
		}
		_ = stream.CloseResponse()
	}
}

// Procedures the proxy serves stay with the proxy and the cluster behind
// it; so do health and reflection.
func TestForwardOnlyWhatIsNotServed(t *testing.T) {
	f := setup(t)
	up := newStandIn(t)
	p := serve(t, proxy.Services{Instance: f.svc}, proxy.Options{Upstream: up.url})
	client := instancev1connect.NewInstanceServiceClient(h2c, p.url, connect.WithGRPC())
	_, err := client.GetDataVolume(t.Context(), connect.NewRequest(&instancev1.GetDataVolumeRequest{Namespace: f.Namespace, Name: "absent"}))
	if connect.CodeOf(err) != connect.CodeNotFound {
		t.Errorf("local GetDataVolume: %v, want not_found from the cluster", err)
	}
	if _, err := healthCheck(t, p.url, instancev1connect.InstanceServiceName); err != nil {
		t.Errorf("health: %v", err)
	}
	// Not a procedure at all: nothing to forward.
	resp, err := http1.Get(p.url + "/index.html")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET /index.html: %d, want 404", resp.StatusCode)
	}
	if calls := up.tape.all(); len(calls) != 0 {
		t.Errorf("the stand-in got %d calls the proxy serves itself, first %s", len(calls), calls[0].path)
	}
}

// With the proxy's token required, the token stays with the proxy: sent
// as Authorization it is dropped, sent in its own header it is dropped and
// the caller's Authorization goes on to the upstream.
func TestForwardToken(t *testing.T) {
	f := setup(t)
	up := newStandIn(t)
	const token = "proxy-token-never-forwarded"
	p := serve(t, proxy.Services{Instance: f.svc}, proxy.Options{Upstream: up.url, Token: token})
	call := func(header http.Header) error {
		hc := &http.Client{Transport: headers{header, h2c.Transport}}
		_, err := connect.NewClient[instancev1.GetDataVolumeRequest, instancev1.DataVolume](hc, p.url+upUnary, connect.WithGRPC()).
			CallUnary(t.Context(), connect.NewRequest(&instancev1.GetDataVolumeRequest{Name: "m"}))
		return err
	}
	if err := call(http.Header{"Authorization": {"Bearer " + token}}); err != nil {
		t.Fatalf("token as Authorization: %v", err)
	}
	if err := call(http.Header{"Authorization": {"Bearer for-upstream"}, proxy.ProxyTokenHeader: {token}}); err != nil {
		t.Fatalf("token in %s: %v", proxy.ProxyTokenHeader, err)
	}
	for _, h := range []http.Header{
		{"Authorization": {"Bearer for-upstream"}},
		{"Authorization": {"Bearer " + token}, proxy.ProxyTokenHeader: {"wrong"}},
		{proxy.ProxyTokenHeader: {token, token}},
	} {
		if err := call(h); connect.CodeOf(err) != connect.CodeUnauthenticated {
			t.Errorf("%v: %v, want unauthenticated", h, err)
		}
	}
	calls := up.tape.all()
	if len(calls) != 2 {
		t.Fatalf("the stand-in got %d calls, want the 2 with the right token", len(calls))
	}
	if a := calls[0].header.Values("Authorization"); len(a) != 0 {
		t.Errorf("the proxy's token as Authorization was forwarded: %d values", len(a))
	}
	if a := calls[1].header.Get("Authorization"); a != "Bearer for-upstream" {
		t.Errorf("the caller's Authorization arrived as %q", a)
	}
	for _, c := range calls {
		for k, vs := range c.header {
			if strings.Contains(strings.Join(vs, " "), token) {
				t.Errorf("the proxy's token reached the upstream in %s", k)
			}
		}
	}
}

// headers sets headers on every request.
type headers struct {
	h    http.Header
	next http.RoundTripper
}

func (h headers) RoundTrip(req *http.Request) (*http.Response, error) {
	req = req.Clone(req.Context())
	for k, vs := range h.h {
		req.Header[http.CanonicalHeaderKey(k)] = vs
	}
	return h.next.RoundTrip(req)
}

// A browser from an allowed origin gets the proxy's CORS answer, once,
// whatever the upstream says about CORS; the upstream never sees the
// origin. An upstream URL's path is the procedures' prefix.
func TestForwardCORS(t *testing.T) {
	f := setup(t)
	var seenOrigin, seenPath string
	var mu sync.Mutex
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seenOrigin, seenPath = r.Header.Get("Origin"), r.URL.Path
		mu.Unlock()
		w.Header().Set("Access-Control-Allow-Origin", "*")
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"name":"m"}`)
	}))
	t.Cleanup(upstream.Close)
	p := serve(t, proxy.Services{Instance: f.svc}, proxy.Options{Upstream: upstream.URL + "/api/"})
	req := jsonRequest(t, p.url, upUnary, `{"name":"m"}`)
	req.Header.Set("Origin", "http://localhost:5173")
	resp, body := post(t, http1, req)
	if resp.StatusCode != http.StatusOK || string(body) != `{"name":"m"}` {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	if v := resp.Header.Values("Access-Control-Allow-Origin"); len(v) != 1 || v[0] != "http://localhost:5173" {
		t.Errorf("Access-Control-Allow-Origin: %q, want the caller's origin once", v)
	}
	mu.Lock()
	defer mu.Unlock()
	if seenOrigin != "" {
		t.Errorf("the upstream saw Origin %q", seenOrigin)
	}
	if seenPath != "/api"+upUnary {
		t.Errorf("the upstream got path %q, want /api%s", seenPath, upUnary)
	}
}

// An upstream that cannot be reached is unavailable, in the caller's
// protocol, naming the upstream.
func TestUpstreamDown(t *testing.T) {
	f := setup(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + l.Addr().String()
	l.Close()
	p := serve(t, proxy.Services{Instance: f.svc}, proxy.Options{Upstream: dead})
	for _, proto := range protocols {
		_, err := connect.NewClient[instancev1.GetDataVolumeRequest, instancev1.DataVolume](proto.client, p.url+upUnary, proto.opts...).
			CallUnary(t.Context(), connect.NewRequest(&instancev1.GetDataVolumeRequest{Name: "m"}))
		if connect.CodeOf(err) != connect.CodeUnavailable || !strings.Contains(err.Error(), "upstream "+dead) {
			t.Errorf("%s: %v, want unavailable naming %s", proto.name, err, dead)
		}
	}
	if !strings.Contains(p.logs.String(), "forward failed") {
		t.Errorf("the failure is not logged:\n%s", p.logs.String())
	}
}

// Stopping the proxy ends forwarded streams too, and the upstream sees
// the call end.
func TestForwardShutdown(t *testing.T) {
	f := setup(t)
	up := newStandIn(t)
	p := serve(t, proxy.Services{Instance: f.svc}, proxy.Options{Upstream: up.url})
	stream, err := connect.NewClient[instancev1.GetDataVolumeRequest, instancev1.DataVolume](h2c, p.url+upHang, connect.WithGRPC()).
		CallServerStream(t.Context(), connect.NewRequest(&instancev1.GetDataVolumeRequest{Name: "m"}))
	if err != nil {
		t.Fatal(err)
	}
	if !stream.Receive() {
		t.Fatalf("no first message: %v", stream.Err())
	}
	start := time.Now()
	if err := p.stop(15 * time.Second); err != nil {
		t.Errorf("stop: %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("stopping took %v: the forwarded stream held it", d)
	}
	for stream.Receive() {
	}
	select {
	case <-up.hung:
	case <-time.After(5 * time.Second):
		t.Error("the upstream's call did not end")
	}
}

// A forwarded stream the upstream has not answered yet when the proxy
// stops ends with unavailable, saying why, in the caller's protocol.
func TestForwardShutdownBeforeAnswer(t *testing.T) {
	f := setup(t)
	up := newStandIn(t)
	p := serve(t, proxy.Services{Instance: f.svc}, proxy.Options{Upstream: up.url})
	// The client waits for the answer's headers, which never come.
	ended := make(chan error, 1)
	go func() {
		stream, err := connect.NewClient[instancev1.GetDataVolumeRequest, instancev1.DataVolume](h2c, p.url+upSilent, connect.WithGRPC()).
			CallServerStream(context.Background(), connect.NewRequest(&instancev1.GetDataVolumeRequest{Name: "m"}))
		if err == nil {
			for stream.Receive() {
			}
			err = stream.Err()
		}
		ended <- err
	}()
	// Stop once the call has reached the stand-in.
	select {
	case <-up.silentEntered:
	case <-time.After(10 * time.Second):
		t.Fatal("the call never reached the stand-in")
	}
	if err := p.stop(15 * time.Second); err != nil {
		t.Errorf("stop: %v", err)
	}
	select {
	case err := <-ended:
		if connect.CodeOf(err) != connect.CodeUnavailable || !strings.Contains(err.Error(), "shutting down") {
			t.Errorf("the stream ended with %v, want unavailable: the proxy is shutting down", err)
		}
	case <-time.After(10 * time.Second):
		t.Error("the stream did not end")
	}
}

// A forwarded unary call in flight when the proxy stops still gets its
// answer, as the proxy's own do.
func TestForwardShutdownLetsUnaryFinish(t *testing.T) {
	f := setup(t)
	up := newStandIn(t)
	p := serve(t, proxy.Services{Instance: f.svc}, proxy.Options{Upstream: up.url})
	got := make(chan error, 1)
	go func() {
		resp, err := connect.NewClient[instancev1.GetDataVolumeRequest, instancev1.DataVolume](http1, p.url+upSlow, connect.WithProtoJSON()).
			CallUnary(context.Background(), connect.NewRequest(&instancev1.GetDataVolumeRequest{Name: "late"}))
		if err == nil && resp.Msg.GetName() != "late" {
			err = fmt.Errorf("answered %v", resp.Msg)
		}
		got <- err
	}()
	select {
	case <-up.slowEntered:
	case <-time.After(10 * time.Second):
		t.Fatal("the call never reached the stand-in")
	}
	stopped := make(chan error, 1)
	go func() { stopped <- p.stop(15 * time.Second) }()
	time.Sleep(300 * time.Millisecond)
	close(up.slowRelease)
	if err := <-got; err != nil {
		t.Errorf("the call in flight: %v", err)
	}
	if err := <-stopped; err != nil {
		t.Errorf("stop: %v", err)
	}
}

// --upstream must be a plain http(s) server URL.
func TestUpstreamOption(t *testing.T) {
	for _, bad := range []string{"otterscale.example.com", "ftp://x", "http://", "http://u:p@x", "http://x?y=1", "http://x#f"} {
		err := proxy.Options{Upstream: bad}.Validate()
		if err == nil || !strings.Contains(err.Error(), "upstream") {
			t.Errorf("%q: %v, want an error naming upstream", bad, err)
		}
	}
	for _, good := range []string{"http://127.0.0.1:8299", "https://otterscale.example.com/api/"} {
		if err := (proxy.Options{Upstream: good}).Validate(); err != nil {
			t.Errorf("%q: %v", good, err)
		}
	}
}
