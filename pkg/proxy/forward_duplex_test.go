package proxy_test

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/otterscale/kubectl-otterscale/pkg/proxy"
)

// envelope frames one message of Connect's streaming protocol.
func envelope(flags byte, msg string) []byte {
	b := make([]byte, 5, 5+len(msg))
	b[0] = flags
	binary.BigEndian.PutUint32(b[1:], uint32(len(msg)))
	return append(b, msg...)
}

// A forwarded HTTP/1.1 stream whose upstream answers before the caller has
// finished sending: the proxy must pass the rest of the request on and the
// whole response back. net/http's HTTP/1.1 server otherwise takes the
// request body away once the response's headers are out (it drains and
// closes it, for clients that send all before they read), the transport
// writing it to the upstream then fails on the closed body and closes the
// upstream connection mid-stream: the caller got "incomplete envelope".
// A Connect client over HTTP/1.1 hit that now and then, when the
// upstream's headers came before the end of its request body; here the
// caller holds the end back until it has the headers, every time.
func TestForwardStreamWhileCallerSends(t *testing.T) {
	f := setup(t)
	bodyDone := make(chan string, 1)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(w)
		if err := rc.EnableFullDuplex(); err != nil {
			t.Errorf("stand-in: %v", err)
		}
		head := make([]byte, 5)
		if _, err := io.ReadFull(r.Body, head); err != nil {
			t.Errorf("stand-in: read the request's envelope: %v", err)
			return
		}
		msg := make([]byte, binary.BigEndian.Uint32(head[1:]))
		if _, err := io.ReadFull(r.Body, msg); err != nil {
			t.Errorf("stand-in: read the request's message: %v", err)
			return
		}
		w.Header().Set("Content-Type", "application/connect+json")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(envelope(0, `{"name":"w-0"}`))
		_ = rc.Flush()
		// The caller ends its request only now.
		rest, err := io.ReadAll(r.Body)
		bodyDone <- fmt.Sprintf("%s|%q|%v", msg, rest, err)
		_, _ = w.Write(envelope(0, `{"name":"w-1"}`))
		_, _ = w.Write(envelope(2, `{}`))
	}))
	t.Cleanup(up.Close)
	p := serve(t, proxy.Services{Instance: f.svc}, proxy.Options{Upstream: up.URL})

	conn, err := net.Dial("tcp", strings.TrimPrefix(p.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// A deadline only so that a hang fails instead of holding up the run.
	_ = conn.SetDeadline(time.Now().Add(20 * time.Second))
	first := envelope(0, `{"name":"w"}`)
	fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/connect+json\r\nConnect-Protocol-Version: 1\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n", upStream, len(first), first)
	br := bufio.NewReader(conn)
	res, err := http.ReadResponse(br, &http.Request{Method: http.MethodPost})
	if err != nil {
		t.Fatalf("no response headers while the request is still open: %v", err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("status %d", res.StatusCode)
	}
	got := make([]byte, len(envelope(0, `{"name":"w-0"}`)))
	if _, err := io.ReadFull(res.Body, got); err != nil {
		t.Fatalf("first message: %v", err)
	}
	// Now the end of the request body.
	if _, err := io.WriteString(conn, "0\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	rest, err := io.ReadAll(res.Body)
	if err != nil {
		t.Errorf("the rest of the stream: %v (got %q)", err, rest)
	}
	want := append(envelope(0, `{"name":"w-1"}`), envelope(2, `{}`)...)
	if !bytes.Equal(rest, want) {
		t.Errorf("the rest of the stream is %q, want %q", rest, want)
	}
	select {
	case b := <-bodyDone:
		if b != `{"name":"w"}|""|<nil>` {
			t.Errorf("the upstream read the request as %s", b)
		}
	case <-time.After(time.Minute):
		t.Error("the upstream never saw the end of the request body")
	}
	if logs := p.logs.String(); strings.Contains(logs, "error during body copy") || !strings.Contains(logs, "procedure="+upStream) {
		t.Errorf("the proxy's log:\n%s", logs)
	}
}
