package proxy_test

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"

	"connectrpc.com/connect"

	instancev1 "github.com/otterscale/kubectl-otterscale/gen/otterscale/instance/v1"
	"github.com/otterscale/kubectl-otterscale/gen/otterscale/instance/v1/instancev1connect"
	"github.com/otterscale/kubectl-otterscale/pkg/proxy"
)

const listProcedure = instancev1connect.InstanceServiceListDataVolumesProcedure

// Only the names the proxy knows itself by are served: a page whose site
// name was rebound to 127.0.0.1 arrives with that name in Host.
func TestHostCheck(t *testing.T) {
	f := setup(t)
	p := serve(t, proxy.Services{Instance: f.svc}, proxy.Options{})
	port := p.url[strings.LastIndex(p.url, ":")+1:]
	custom := serve(t, proxy.Services{Instance: f.svc}, proxy.Options{AcceptHosts: []string{"dev.example.test", "10.1.2.3"}})
	tests := []struct {
		name   string
		url    string
		host   string
		client *http.Client
		want   int
	}{
		{"localhost with port", p.url, "localhost:" + port, http1, http.StatusOK},
		{"localhost without port", p.url, "localhost", http1, http.StatusOK},
		{"LOCALHOST in capitals", p.url, "LOCALHOST:" + port, http1, http.StatusOK},
		{"127.0.0.1", p.url, "127.0.0.1:" + port, http1, http.StatusOK},
		{"[::1] with port", p.url, "[::1]:" + port, http1, http.StatusOK},
		{"[::1] without port", p.url, "[::1]", http1, http.StatusOK},
		{"127.0.0.1 over h2c", p.url, "127.0.0.1:" + port, h2c, http.StatusOK},
		{"rebound name", p.url, "evil.example.com:" + port, http1, http.StatusForbidden},
		{"rebound name without port", p.url, "evil.example.com", http1, http.StatusForbidden},
		{"rebound name over h2c", p.url, "evil.example.com", h2c, http.StatusForbidden},
		{"localhost as a subdomain", p.url, "localhost.evil.example.com", http1, http.StatusForbidden},
		{"other loopback address", p.url, "127.0.0.2:" + port, http1, http.StatusForbidden},
		{"bad port", p.url, "localhost:99999", http1, http.StatusForbidden},
		{"accepted by --accept-hosts", custom.url, "dev.example.test:8299", http1, http.StatusOK},
		{"IP accepted by --accept-hosts", custom.url, "10.1.2.3", http1, http.StatusOK},
		{"defaults replaced by --accept-hosts", custom.url, "localhost", http1, http.StatusForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := jsonRequest(t, tt.url, listProcedure, `{"namespace":"`+f.Namespace+`"}`)
			req.Host = tt.host
			resp, body := post(t, tt.client, req)
			if resp.StatusCode != tt.want {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tt.want, body)
			}
			if tt.want == http.StatusForbidden {
				if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") || !strings.Contains(string(body), "not accepted") {
					t.Errorf("refusal is %s: %s", ct, body)
				}
			}
		})
	}
	if logs := p.logs.String(); !strings.Contains(logs, `reason="host not accepted"`) || !strings.Contains(logs, "procedure="+listProcedure) {
		t.Errorf("refusals are not logged:\n%s", logs)
	}
}

// CORS headers for the allowed origins only, with Connect's headers, and
// their preflights answered.
func TestCORS(t *testing.T) {
	f := setup(t)
	p := serve(t, proxy.Services{Instance: f.svc}, proxy.Options{})
	custom := serve(t, proxy.Services{Instance: f.svc}, proxy.Options{AllowOrigins: []string{"https://ui.example.test"}})

	preflight := func(url, origin string) answer {
		req, err := http.NewRequestWithContext(t.Context(), http.MethodOptions, url+listProcedure, http.NoBody)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", "POST")
		req.Header.Set("Access-Control-Request-Headers", "content-type,connect-protocol-version,authorization")
		resp, _ := post(t, http1, req)
		return resp
	}
	call := func(url, origin string) answer {
		req := jsonRequest(t, url, listProcedure, `{"namespace":"`+f.Namespace+`"}`)
		req.Header.Set("Origin", origin)
		req.Header.Set("Connect-Protocol-Version", "1")
		resp, body := post(t, http1, req)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("status %d: %s", resp.StatusCode, body)
		}
		return resp
	}
	for _, origin := range proxy.DefaultAllowOrigins {
		resp := preflight(p.url, origin)
		h := resp.Header
		if resp.StatusCode != http.StatusNoContent || h.Get("Access-Control-Allow-Origin") != origin ||
			!strings.Contains(h.Get("Access-Control-Allow-Methods"), "POST") ||
			!strings.Contains(h.Get("Access-Control-Allow-Headers"), "Connect-Protocol-Version") ||
			!strings.Contains(h.Get("Access-Control-Allow-Headers"), "Authorization") ||
			!strings.Contains(h.Get("Access-Control-Allow-Headers"), "X-Grpc-Web") {
			t.Errorf("preflight from %s: %d %v", origin, resp.StatusCode, h)
		}
		h = call(p.url, origin).Header
		if h.Get("Access-Control-Allow-Origin") != origin || !strings.Contains(h.Get("Access-Control-Expose-Headers"), "Grpc-Status") {
			t.Errorf("call from %s: %v", origin, h)
		}
	}
	refused := []struct{ url, origin string }{
		{p.url, "http://evil.example.com"},
		{p.url, "http://localhost:5174"},
		{p.url, "null"},
		{custom.url, "http://localhost:5173"}, // --allow-origin replaces the defaults
	}
	for _, r := range refused {
		for what, resp := range map[string]answer{"preflight": preflight(r.url, r.origin), "call": call(r.url, r.origin)} {
			for k := range resp.Header {
				if strings.HasPrefix(k, "Access-Control-") {
					t.Errorf("%s from %s: %s: %v", what, r.origin, k, resp.Header)
				}
			}
		}
	}
	if h := preflight(custom.url, "https://ui.example.test").Header; h.Get("Access-Control-Allow-Origin") != "https://ui.example.test" {
		t.Errorf("preflight from an --allow-origin origin: %v", h)
	}
}

// bearer adds a token to every request a client makes.
type bearer struct {
	token string
	next  http.RoundTripper
}

func (b bearer) RoundTrip(req *http.Request) (*http.Response, error) {
	req = req.Clone(req.Context())
	req.Header.Set("Authorization", "Bearer "+b.token)
	return b.next.RoundTrip(req)
}

// With a token, calls without it or with another are unauthenticated, in
// every protocol; preflights still pass; the token is never logged.
func TestToken(t *testing.T) {
	f := setup(t)
	const token = "s3cret-proxy-token-value"
	const wrong = "wr0ng-guess-of-the-token"
	p := serve(t, proxy.Services{Instance: f.svc}, proxy.Options{Token: token})
	req := connect.NewRequest(&instancev1.ListDataVolumesRequest{Namespace: f.Namespace})
	for _, proto := range protocols {
		for name, c := range map[string]struct {
			client *http.Client
			code   connect.Code
		}{
			"no token":    {proto.client, connect.CodeUnauthenticated},
			"wrong token": {&http.Client{Transport: bearer{wrong, proto.client.Transport}}, connect.CodeUnauthenticated},
			"token":       {&http.Client{Transport: bearer{token, proto.client.Transport}}, 0},
		} {
			_, err := instancev1connect.NewInstanceServiceClient(c.client, p.url, proto.opts...).ListDataVolumes(t.Context(), req)
			if c.code == 0 && err != nil || c.code != 0 && connect.CodeOf(err) != c.code {
				t.Errorf("%s, %s: %v, want %v", proto.name, name, err, c.code)
			}
		}
	}
	// The scheme is case-insensitive.
	hreq := jsonRequest(t, p.url, listProcedure, `{"namespace":"`+f.Namespace+`"}`)
	hreq.Header.Set("Authorization", "bearer "+token)
	if resp, body := post(t, http1, hreq); resp.StatusCode != http.StatusOK {
		t.Errorf("lower-case bearer: %d %s", resp.StatusCode, body)
	}
	// A browser's fetch without it: Connect's JSON error with 401.
	for _, auth := range []string{"", "Bearer", "Bearer ", "Bearer " + wrong, "Bearer " + token + "x", "Basic " + token, token} {
		hreq := jsonRequest(t, p.url, listProcedure, `{"namespace":"`+f.Namespace+`"}`)
		if auth != "" {
			hreq.Header.Set("Authorization", auth)
		}
		resp, body := post(t, http1, hreq)
		if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(string(body), `"code":"unauthenticated"`) {
			t.Errorf("Authorization %q: %d %s", auth, resp.StatusCode, body)
		}
	}
	// Preflights carry no credentials and must still be answered.
	preq, err := http.NewRequestWithContext(t.Context(), http.MethodOptions, p.url+listProcedure, http.NoBody)
	if err != nil {
		t.Fatal(err)
	}
	preq.Header.Set("Origin", "http://localhost:5173")
	preq.Header.Set("Access-Control-Request-Method", "POST")
	if resp, _ := post(t, http1, preq); resp.StatusCode != http.StatusNoContent || resp.Header.Get("Access-Control-Allow-Origin") == "" {
		t.Errorf("preflight with a token required: %d %v", resp.StatusCode, resp.Header)
	}
	logs := p.logs.String()
	if strings.Contains(logs, token) || strings.Contains(logs, wrong) || strings.Contains(logs, "Bearer") {
		t.Errorf("a token reached the log:\n%s", logs)
	}
	if !strings.Contains(logs, `reason="missing or wrong token"`) || !strings.Contains(logs, "code=unauthenticated") {
		t.Errorf("refusals are not logged:\n%s", logs)
	}
}

// hiddenLength hides a body's length, so that it goes chunked and only
// reading it finds it too large.
type hiddenLength struct{ io.Reader }

// Bodies over the limit are refused, whether they say so up front or not,
// in every protocol.
func TestBodyLimit(t *testing.T) {
	f := setup(t)
	p := serve(t, proxy.Services{Instance: f.svc}, proxy.Options{MaxRequestBytes: 1024})
	big := `{"namespace":"` + f.Namespace + `","labelSelector":"` + strings.Repeat("a", 2048) + `"}`
	resp, body := post(t, http1, jsonRequest(t, p.url, listProcedure, big))
	if resp.StatusCode != http.StatusTooManyRequests || !strings.Contains(string(body), `"code":"resource_exhausted"`) {
		t.Errorf("oversized body with Content-Length: %d %s", resp.StatusCode, body)
	}
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, p.url+listProcedure, hiddenLength{strings.NewReader(big)})
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, body = post(t, http1, req)
	if resp.StatusCode == http.StatusOK || !strings.Contains(string(body), `"code":"resource_exhausted"`) {
		t.Errorf("oversized chunked body: %d %s", resp.StatusCode, body)
	}
	for _, proto := range protocols {
		stream, err := instancev1connect.NewInstanceServiceClient(proto.client, p.url, proto.opts...).WatchDataVolumes(t.Context(),
			connect.NewRequest(&instancev1.WatchDataVolumesRequest{Namespace: f.Namespace, Names: []string{strings.Repeat("n", 2048)}}))
		if err == nil {
			// A stream's error arrives with its end.
			for stream.Receive() {
			}
			err = stream.Err()
			_ = stream.Close()
		}
		if connect.CodeOf(err) != connect.CodeResourceExhausted {
			t.Errorf("%s: oversized watch request: %v, want resource_exhausted", proto.name, err)
		}
		_, err = instancev1connect.NewInstanceServiceClient(proto.client, p.url, proto.opts...).GetDataVolume(t.Context(),
			connect.NewRequest(&instancev1.GetDataVolumeRequest{Namespace: f.Namespace, Name: strings.Repeat("n", 2048)}))
		if connect.CodeOf(err) != connect.CodeResourceExhausted {
			t.Errorf("%s: oversized request: %v, want resource_exhausted", proto.name, err)
		}
	}
	// The default limit, 4 MiB.
	def := serve(t, proxy.Services{Instance: f.svc}, proxy.Options{})
	resp, body = post(t, http1, jsonRequest(t, def.url, listProcedure, `{"labelSelector":"`+string(bytes.Repeat([]byte("a"), 5<<20))+`"}`))
	if resp.StatusCode != http.StatusTooManyRequests {
		t.Errorf("5 MiB body under the default limit: %d %.200s", resp.StatusCode, body)
	}
}

// One line per call with its procedure and code; never a body, a header
// or a token.
func TestLogLines(t *testing.T) {
	f := setup(t)
	p := serve(t, proxy.Services{Instance: f.svc}, proxy.Options{Token: "tok-never-logged"})
	client := instancev1connect.NewInstanceServiceClient(&http.Client{Transport: bearer{"tok-never-logged", http1.Transport}}, p.url)
	if _, err := client.ListDataVolumes(t.Context(), connect.NewRequest(&instancev1.ListDataVolumesRequest{Namespace: f.Namespace})); err != nil {
		t.Fatal(err)
	}
	_, err := client.GetDataVolume(t.Context(), connect.NewRequest(&instancev1.GetDataVolumeRequest{Namespace: f.Namespace, Name: "missing-body-name"}))
	if connect.CodeOf(err) != connect.CodeNotFound {
		t.Fatalf("get: %v", err)
	}
	logs := p.logs.String()
	lines := strings.Split(strings.TrimSpace(logs), "\n")
	if len(lines) != 2 {
		t.Fatalf("want one line per call, got:\n%s", logs)
	}
	for i, want := range []string{
		"procedure=" + listProcedure + " protocol=connect code=ok duration=",
		"procedure=" + instancev1connect.InstanceServiceGetDataVolumeProcedure + " protocol=connect code=not_found duration=",
	} {
		if !strings.Contains(lines[i], want) {
			t.Errorf("line %d = %s, want %s", i, lines[i], want)
		}
	}
	for _, secret := range []string{"tok-never-logged", "missing-body-name", f.Namespace, "Authorization", "Bearer"} {
		if strings.Contains(logs, secret) {
			t.Errorf("%q reached the log:\n%s", secret, logs)
		}
	}
}
