package plugin_test

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	instancev1 "github.com/otterscale/kubectl-otterscale/gen/otterscale/instance/v1"
	"github.com/otterscale/kubectl-otterscale/gen/otterscale/instance/v1/instancev1connect"
	linkv1 "github.com/otterscale/kubectl-otterscale/gen/otterscale/link/v1"
	"github.com/otterscale/kubectl-otterscale/gen/otterscale/link/v1/linkv1connect"
	"github.com/otterscale/kubectl-otterscale/internal/testenv"
	"github.com/otterscale/kubectl-otterscale/pkg/plugin"
)

// proxyOutput is written by the running command while the test reads it.
type proxyOutput struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (o *proxyOutput) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.b.Write(p)
}

func (o *proxyOutput) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.b.String()
}

// runningProxy is `kubectl otterscale proxy` running in process.
type runningProxy struct {
	stdout, stderr *proxyOutput
	cancel         context.CancelFunc
	code           chan int
}

func startProxy(t *testing.T, args ...string) *runningProxy {
	t.Helper()
	p := &runningProxy{stdout: &proxyOutput{}, stderr: &proxyOutput{}, code: make(chan int, 1)}
	streams := genericiooptions.IOStreams{In: strings.NewReader(""), Out: p.stdout, ErrOut: p.stderr}
	root := plugin.NewCmdRoot(streams)
	root.SetArgs(args)
	ctx, cancel := context.WithCancel(context.Background())
	p.cancel = cancel
	go func() {
		cmd, err := root.ExecuteContextC(ctx)
		p.code <- plugin.HandleError(p.stderr, cmd, err)
	}()
	t.Cleanup(func() { p.stop(t) })
	return p
}

// banner waits for stdout to match re and returns the submatches.
func (p *runningProxy) banner(t *testing.T, re *regexp.Regexp) []string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if m := re.FindStringSubmatch(p.stdout.String()); m != nil {
			return m
		}
		select {
		case code := <-p.code:
			p.code <- code
			t.Fatalf("the proxy exited with %d\nstdout: %s\nstderr: %s", code, p.stdout, p.stderr)
		case <-time.After(20 * time.Millisecond):
		}
	}
	t.Fatalf("stdout never matched %s:\n%s\nstderr: %s", re, p.stdout, p.stderr)
	return nil
}

// stop interrupts the proxy, as Ctrl-C does, and returns its exit code.
func (p *runningProxy) stop(t *testing.T) int {
	t.Helper()
	p.cancel()
	select {
	case code := <-p.code:
		p.code <- code
		return code
	case <-time.After(30 * time.Second):
		t.Fatal("the proxy did not stop")
		return -1
	}
}

var (
	servingRe = regexp.MustCompile(`Serving the OtterScale API on (http://127\.0\.0\.1:\d+) `)
	tokenRe   = regexp.MustCompile(`Token \(shown once\): (\S+)\n`)
)

type withToken struct{ token string }

func (w withToken) RoundTrip(req *http.Request) (*http.Response, error) {
	req = req.Clone(req.Context())
	req.Header.Set("Authorization", "Bearer "+w.token)
	return http.DefaultTransport.RoundTrip(req)
}

// The command serves the user's kubeconfig: a request's scope picks its
// context; --require-token prints a token once and refuses calls without
// it; Ctrl-C stops it with exit 0.
func TestProxyCommand(t *testing.T) {
	env := testenv.Require(t)
	p := startProxy(t, "--kubeconfig", env.Kubeconfig, "proxy", "--port", "0", "--require-token")
	base := p.banner(t, servingRe)[1]
	token := p.banner(t, tokenRe)[1]
	out := p.stdout.String()
	if !strings.Contains(out, "buf curl --http2-prior-knowledge --protocol connect -H 'Authorization: Bearer "+token+"' --reflect-header '*'") ||
		!strings.Contains(out, base+instancev1connect.InstanceServiceListDataVolumesProcedure) {
		t.Errorf("no ready-to-paste buf curl example:\n%s", out)
	}
	if strings.Contains(p.stderr.String(), "WARNING") {
		t.Errorf("a warning on loopback:\n%s", p.stderr)
	}
	if !strings.Contains(out, "Services: ResourceService and LinkService/ListLinks") {
		t.Errorf("the banner does not say what is served:\n%s", out)
	}
	// The current web UI's services are served by the command, with the
	// user's token.
	links := linkv1connect.NewLinkServiceClient(&http.Client{Transport: withToken{token}}, base)
	if resp, err := links.ListLinks(t.Context(), connect.NewRequest(&linkv1.ListLinksRequest{})); err != nil ||
		len(resp.Msg.GetLinks()) == 0 || resp.Msg.GetLinks()[0].GetCluster() != testenv.ContextAdmin {
		t.Errorf("ListLinks through the command: %v, %v", resp, err)
	}

	client := instancev1connect.NewInstanceServiceClient(&http.Client{Transport: withToken{token}}, base)
	for scope, want := range map[string]connect.Code{
		"":                    0,
		testenv.ContextAdmin:  0,
		testenv.ContextOther:  0,
		testenv.ContextNobody: connect.CodePermissionDenied,
		"no-such-context":     connect.CodeNotFound,
	} {
		_, err := client.ListDataVolumes(t.Context(), connect.NewRequest(&instancev1.ListDataVolumesRequest{Scope: scope, Namespace: testenv.OtherNamespace}))
		if want == 0 && err != nil || want != 0 && connect.CodeOf(err) != want {
			t.Errorf("scope %q: %v, want %v", scope, err, want)
		}
	}
	_, err := instancev1connect.NewInstanceServiceClient(http.DefaultClient, base).ListDataVolumes(t.Context(),
		connect.NewRequest(&instancev1.ListDataVolumesRequest{Namespace: testenv.OtherNamespace}))
	if connect.CodeOf(err) != connect.CodeUnauthenticated {
		t.Errorf("without the token: %v, want unauthenticated", err)
	}

	if code := p.stop(t); code != 0 {
		t.Errorf("exit %d after Ctrl-C, want 0\nstderr: %s", code, p.stderr)
	}
	logs := p.stderr.String()
	if strings.Count(logs, "procedure="+instancev1connect.InstanceServiceListDataVolumesProcedure) != 6 || strings.Contains(logs, token) {
		t.Errorf("want one line per call, without the token:\n%s", logs)
	}
}

// Stopping the proxy with a watch open ends the stream with OK, and
// nothing in the log complains about the watch the stop cancelled.
func TestProxyStopsWithWatchOpen(t *testing.T) {
	env := testenv.Require(t)
	p := startProxy(t, "--kubeconfig", env.Kubeconfig, "proxy", "--port", "0")
	base := p.banner(t, servingRe)[1]
	stream, err := instancev1connect.NewInstanceServiceClient(http.DefaultClient, base).WatchDataVolumes(t.Context(),
		connect.NewRequest(&instancev1.WatchDataVolumesRequest{Namespace: testenv.OtherNamespace}))
	if err != nil {
		t.Fatal(err)
	}
	for stream.Receive() && stream.Msg().GetType() != instancev1.WatchDataVolumesResponse_SYNCED {
	}
	if code := p.stop(t); code != 0 {
		t.Errorf("exit %d after Ctrl-C, want 0\nstderr: %s", code, p.stderr)
	}
	for stream.Receive() {
	}
	if err := stream.Err(); err != nil {
		t.Errorf("the watch ended with %v, want OK", err)
	}
	// The RetryWatchers' goroutines end after the stream; give them the
	// time they would log in.
	time.Sleep(1500 * time.Millisecond)
	if logs := p.stderr.String(); strings.Contains(logs, "Watch failed") || strings.Contains(logs, "context canceled") {
		t.Errorf("the stop left complaints in the log:\n%s", logs)
	}
}

// Anything but loopback is announced loudly.
func TestProxyWarnsOffLoopback(t *testing.T) {
	env := testenv.Require(t)
	p := startProxy(t, "--kubeconfig", env.Kubeconfig, "proxy", "--address", "0.0.0.0", "--port", "0")
	p.banner(t, servingRe)
	if errOut := p.stderr.String(); !strings.Contains(errOut, "WARNING: listening on 0.0.0.0:") || !strings.Contains(errOut, "without a token") {
		t.Errorf("no warning:\n%s", errOut)
	}
	if code := p.stop(t); code != 0 {
		t.Errorf("exit %d, want 0", code)
	}
}

// Flag mistakes are usage errors, found before a kubeconfig is read or a
// port bound.
func TestProxyFlagErrors(t *testing.T) {
	broken := filepath.Join(t.TempDir(), "config")
	if err := os.WriteFile(broken, []byte("{{{ not a kubeconfig"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("KUBECONFIG", broken)
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"negative port", []string{"--port", "-1"}, "--port"},
		{"port too large", []string{"--port", "70000"}, "--port"},
		{"address not an IP", []string{"--address", "example.com"}, "--address"},
		{"host with a path", []string{"--accept-hosts", "localhost/x"}, "accept host"},
		{"host with a port", []string{"--accept-hosts", "localhost:80"}, "accept host"},
		{"origin with a path", []string{"--allow-origin", "http://localhost:5173/app"}, "allowed origin"},
		{"origin of another scheme", []string{"--allow-origin", "ftp://localhost"}, "allowed origin"},
		{"ceph timeout", []string{"--ceph-timeout", "0s"}, "--ceph-timeout"},
		{"upstream without a scheme", []string{"--upstream", "otterscale.example.com"}, "upstream"},
		{"upstream with credentials", []string{"--upstream", "https://user:pass@otterscale.example.com"}, "upstream"},
		{"arguments", []string{"extra"}, "takes no arguments"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := run(t, append([]string{"proxy"}, tt.args...)...)
			if r.code != plugin.ExitUsage || !strings.Contains(r.stderr, tt.want) || strings.Contains(r.stderr, "kubeconfig") {
				t.Errorf("exit %d, stderr %q; want a usage error about %s", r.code, r.stderr, tt.want)
			}
		})
	}
	if r := run(t, "proxy", "--help"); r.code != 0 || !strings.Contains(r.stdout, "--accept-hosts") || !strings.Contains(r.stdout, "--ceph-mon-host") {
		t.Errorf("help: exit %d\n%s", r.code, r.stdout)
	}
}

// With --upstream the command forwards what it does not serve, and says
// so at start.
func TestProxyUpstream(t *testing.T) {
	env := testenv.Require(t)
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"from":"upstream `+r.URL.Path+`"}`)
	}))
	defer upstream.Close()
	p := startProxy(t, "--kubeconfig", env.Kubeconfig, "proxy", "--port", "0", "--upstream", upstream.URL)
	base := p.banner(t, servingRe)[1]
	if !strings.Contains(p.stdout.String(), "Forwarding the procedures it does not serve to "+upstream.URL) {
		t.Errorf("the banner does not name the upstream:\n%s", p.stdout)
	}
	const procedure = "/otterscale.machine.v1.MachineService/ListMachines"
	resp, err := http.Post(base+procedure, "application/json", strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || string(body) != `{"from":"upstream `+procedure+`"}` {
		t.Errorf("forwarded call: %d %s", resp.StatusCode, body)
	}
	if code := p.stop(t); code != 0 {
		t.Errorf("exit %d after Ctrl-C, want 0\nstderr: %s", code, p.stderr)
	}
	if !strings.Contains(p.stderr.String(), "msg=forward procedure="+procedure) {
		t.Errorf("no log line for the forwarded call:\n%s", p.stderr)
	}
}

// A port in use is an error that says what to do.
func TestProxyPortInUse(t *testing.T) {
	env := testenv.Require(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	_, port, _ := net.SplitHostPort(l.Addr().String())
	r := run(t, "--kubeconfig", env.Kubeconfig, "proxy", "--port", port)
	if r.code != plugin.ExitError || !strings.Contains(r.stderr, "address already in use") || !strings.Contains(r.stderr, "--port 0") {
		t.Errorf("exit %d, stderr %q", r.code, r.stderr)
	}
}
