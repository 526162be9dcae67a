package proxy

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/otterscale/kubectl-otterscale/gen/otterscale/instance/v1/instancev1connect"
)

// Host headers as clients send them, against the default names. These
// need no API server; the tests in proxy_test run the same cases end to
// end.
func TestHostSetAccepts(t *testing.T) {
	hosts, err := newHostSet(DefaultAcceptHosts)
	if err != nil {
		t.Fatal(err)
	}
	tests := map[string]bool{
		"localhost":                  true,
		"localhost:8299":             true,
		"LocalHost:8299":             true,
		"127.0.0.1":                  true,
		"127.0.0.1:1":                true,
		"[::1]":                      true,
		"[::1]:8299":                 true,
		"":                           false,
		":8299":                      false,
		"::1":                        true, // not a valid Host, but it can only mean loopback
		"localhost:":                 false,
		"localhost:http":             false,
		"localhost:65536":            false,
		"localhost.":                 false,
		"127.0.0.2":                  false,
		"0.0.0.0:8299":               false,
		"evil.example.com":           false,
		"localhost.evil.example":     false,
		"evil.example.com@127.0.0.1": false,
	}
	for host, want := range tests {
		if got := hosts.accepts(host); got != want {
			t.Errorf("accepts(%q) = %v, want %v", host, got, want)
		}
	}
}

func TestOptionsValidate(t *testing.T) {
	tests := []struct {
		name string
		opts Options
		want string // in the error; empty for none
	}{
		{"defaults", Options{}, ""},
		{"bracketed IPv6 host", Options{AcceptHosts: []string{"[::1]", "::1", "dev.local"}}, ""},
		{"https origin with port", Options{AllowOrigins: []string{"https://ui.example.test:8443"}}, ""},
		{"negative port", Options{Port: -1}, "port -1"},
		{"port too large", Options{Port: 65536}, "port 65536"},
		{"negative limit", Options{MaxRequestBytes: -1}, "max request bytes"},
		{"host with port", Options{AcceptHosts: []string{"localhost:8299"}}, "accept host"},
		{"host with path", Options{AcceptHosts: []string{"localhost/x"}}, "accept host"},
		{"origin with path", Options{AllowOrigins: []string{"http://localhost:5173/app"}}, "allowed origin"},
		{"origin without scheme", Options{AllowOrigins: []string{"localhost:5173"}}, "allowed origin"},
		{"origin with user", Options{AllowOrigins: []string{"http://u@localhost"}}, "allowed origin"},
		{"wildcard origin", Options{AllowOrigins: []string{"*"}}, "allowed origin"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.opts.Validate()
			if tt.want == "" && err != nil || tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
				t.Errorf("Validate() = %v, want %q", err, tt.want)
			}
		})
	}
}

// The middleware order: the Host check before everything, CORS preflights
// before the token.
func TestMiddlewareOrder(t *testing.T) {
	s, err := NewServer(Services{Instance: instancev1connect.UnimplementedInstanceServiceHandler{}}, Options{Token: "t"})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	type answer struct {
		StatusCode int
		Header     http.Header
	}
	do := func(method, host, origin string) answer {
		req, err := http.NewRequestWithContext(t.Context(), method, srv.URL+instancev1connect.InstanceServiceListDataVolumesProcedure, strings.NewReader("{}"))
		if err != nil {
			t.Fatal(err)
		}
		req.Host = host
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", "POST")
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return answer{resp.StatusCode, resp.Header}
	}
	if resp := do(http.MethodOptions, "evil.example.com", "http://localhost:5173"); resp.StatusCode != http.StatusForbidden {
		t.Errorf("preflight to a rebound name: %d, want 403", resp.StatusCode)
	}
	if resp := do(http.MethodOptions, "localhost", "http://localhost:5173"); resp.StatusCode != http.StatusNoContent {
		t.Errorf("preflight without the token: %d, want 204", resp.StatusCode)
	}
	if resp := do(http.MethodPost, "localhost", "http://localhost:5173"); resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("Access-Control-Allow-Origin") == "" {
		// The browser must be able to read the refusal.
		t.Errorf("call without the token: %d %v, want 401 with CORS headers", resp.StatusCode, resp.Header)
	}
}
