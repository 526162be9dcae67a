package browser_test

import (
	"bufio"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/otterscale/kubectl-otterscale/internal/cephenv"
	"github.com/otterscale/kubectl-otterscale/internal/daemon"
	"github.com/otterscale/kubectl-otterscale/internal/testenv"
	"github.com/otterscale/kubectl-otterscale/pkg/cephconf"
	"github.com/otterscale/kubectl-otterscale/pkg/instance"
	"github.com/otterscale/kubectl-otterscale/pkg/link"
	"github.com/otterscale/kubectl-otterscale/pkg/proxy"
	"github.com/otterscale/kubectl-otterscale/pkg/resource"
	"github.com/otterscale/kubectl-otterscale/pkg/storage"
)

// The page calls the proxy, which runs in the test binary with the real
// services behind it: InstanceService over a real kube-apiserver with the
// CDI CRDs, StorageService over a real Ceph.
func TestMain(m *testing.M) {
	testenv.Main(m, testenv.WithCeph(), testenv.WithStorageClass(testenv.StorageClass, true))
}

// tools are what running the page needs besides the API server and Ceph.
type tools struct {
	node     string
	chromium string
}

// requireBrowser finds node, Chromium and the npm packages with the
// generated client (`make browser-deps`) and the other generated files the
// test needs (paths under test/browser), or skips t saying what is missing;
// in CI (CI=true) a missing one fails t instead.
func requireBrowser(t *testing.T, generated ...string) tools {
	t.Helper()
	var missing []string
	var tl tools
	var err error
	if tl.node, err = exec.LookPath("node"); err != nil {
		missing = append(missing, "node (Node.js 20 or later)")
	}
	chromium := cmp.Or(os.Getenv("CHROMIUM"), "chromium")
	if tl.chromium, err = exec.LookPath(chromium); err != nil {
		missing = append(missing, chromium+" (`apt-get install chromium`, or `make system-deps`)")
	}
	for _, f := range append([]string{"node_modules/playwright-core/package.json", "node_modules/.bin/esbuild", "gen/otterscale/instance/v1/instance_pb.ts"}, generated...) {
		if _, err := os.Stat(f); err != nil {
			missing = append(missing, fmt.Sprintf("test/browser/%s (`make browser-deps` installs the npm packages and generates the client)", f))
			break
		}
	}
	if len(missing) == 0 {
		return tl
	}
	daemon.Absent(t, "browser test needs %s", strings.Join(missing, ", "))
	return tl
}

// bundle builds entry (page.ts, webui.ts) and the generated client it
// imports into one script with esbuild, next to the HTML page that loads it,
// and returns the directory. It is built for each test, so the page never
// runs stale.
func bundle(t *testing.T, entry string) string {
	t.Helper()
	dir := t.TempDir()
	out, err := exec.CommandContext(t.Context(), "node_modules/.bin/esbuild", entry, "--bundle", "--format=esm",
		"--target=es2022", "--log-level=warning", "--outfile="+filepath.Join(dir, "page.js")).CombinedOutput()
	if err != nil {
		t.Fatalf("bundle %s: %v\n%s", entry, err, out)
	}
	html := `<!doctype html>
<html><head><meta charset="utf-8"><title>OtterScale proxy browser test</title>
<link rel="icon" href="data:,">
<script type="module" src="/page.js"></script></head><body></body></html>
`
	if err := os.WriteFile(filepath.Join(dir, "index.html"), []byte(html), 0o600); err != nil {
		t.Fatal(err)
	}
	return dir
}

// servePage serves the bundled page from a loopback port of its own and
// returns its origin, http://localhost:PORT: the way a developer's web UI
// dev server runs, on another origin than the proxy's 127.0.0.1.
func servePage(t *testing.T, dir string) string {
	t.Helper()
	origin, _ := serveGatedPage(t, dir)
	return origin
}

// serveGatedPage is servePage with the page's gates: a page that waits
// for the test GETs /gate?call=NAME, which answers once the test opens
// the gate NAME (or after a minute, with 504).
func serveGatedPage(t *testing.T, dir string) (string, *gates) {
	t.Helper()
	g := &gates{open: map[string]chan struct{}{}}
	mux := http.NewServeMux()
	mux.Handle("/", http.FileServer(http.Dir(dir)))
	mux.HandleFunc("GET /gate", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-g.gate(r.URL.Query().Get("call")):
			w.WriteHeader(http.StatusNoContent)
		case <-r.Context().Done():
		case <-time.After(time.Minute):
			w.WriteHeader(http.StatusGatewayTimeout)
		}
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	_, port, err := net.SplitHostPort(srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	return "http://localhost:" + port, g
}

// gates are where the page waits for the test, by name.
type gates struct {
	mu   sync.Mutex
	open map[string]chan struct{}
}

func (g *gates) gate(name string) chan struct{} {
	g.mu.Lock()
	defer g.mu.Unlock()
	c, ok := g.open[name]
	if !ok {
		c = make(chan struct{})
		g.open[name] = c
	}
	return c
}

// release lets the page past the gate name, now and from now on.
func (g *gates) release(name string) {
	c := g.gate(name)
	select {
	case <-c:
	default:
		close(c)
	}
}

// running is the proxy serving on a loopback port.
type running struct {
	url  string
	logs *logBuffer
}

// serveProxy starts the proxy as `kubectl otterscale proxy` does (Listen,
// then Serve until the test ends) on 127.0.0.1 with a free port.
func serveProxy(t *testing.T, services proxy.Services, allowOrigins ...string) *running {
	t.Helper()
	p := testenv.ServeProxy(t, services, proxy.Options{AllowOrigins: allowOrigins})
	return &running{url: p.URL, logs: p.Logs}
}

// logBuffer collects a process's log lines.
type logBuffer = testenv.Buffer

// fixture is one test's world: a namespace of its own in the API server, an
// image of its own in Ceph, and the services as the proxy command builds
// them.
type fixture struct {
	env      *testenv.Env
	ceph     *cephenv.Cluster
	ns       string
	image    string
	services proxy.Services
}

// imageBytes is the size of the test's RBD image: memstore keeps
// everything in RAM.
const imageBytes = 8 << 20

func setup(t *testing.T) *fixture {
	t.Helper()
	tf := testenv.NewFixture(t)
	ceph := tf.Ceph()
	f := &fixture{env: tf.Env, ceph: ceph, ns: tf.Namespace, image: "browser-" + tf.Suffix}
	if err := ceph.CreateImage(t.Context(), f.image, imageBytes); err != nil {
		t.Fatal(err)
	}

	// Ceph is reached as ceph-csi's least-privilege user, with its bare
	// key in a file, as `--ceph-user csi --ceph-key-file` would.
	keyFile := filepath.Join(t.TempDir(), "key")
	if err := os.WriteFile(keyFile, []byte(ceph.UserKey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	st := storage.New(nil, cephconf.Flags{MonHost: ceph.MonHost, User: ceph.User, KeyFile: keyFile})
	t.Cleanup(st.Close)
	kc := tf.Provider("")
	kc.Unthrottle() // as the proxy command does
	f.services = proxy.Services{Instance: instance.New(kc), Storage: st, Resource: resource.New(kc), Link: link.New(kc)}
	return f
}

// step is one line of drive.mjs's output: one of the page's steps, or
// what the browser did (a request, a failed request, a console message).
type step struct {
	Step string `json:"step"`

	// "error"
	Call    string `json:"call,omitempty"`
	Code    string `json:"code,omitempty"`
	Message string `json:"message,omitempty"`

	// "created", "snapshot", "watch"
	Namespace  string `json:"namespace,omitempty"`
	Name       string `json:"name,omitempty"`
	SizeBytes  string `json:"sizeBytes,omitempty"`
	SourceType *int   `json:"sourceType,omitempty"`
	SourceData string `json:"sourceData,omitempty"`
	Protected  bool   `json:"protected,omitempty"`
	QuotaBytes string `json:"quotaBytes,omitempty"`
	Type       string `json:"type,omitempty"`
	Phase      string `json:"phase,omitempty"`
	Progress   string `json:"progress,omitempty"`
	Claim      string `json:"claim,omitempty"`

	// webui.ts: "ok" (with Call) and what the call showed
	Label          string           `json:"label,omitempty"`
	Filter         string           `json:"filter,omitempty"`
	SourceTypeName string           `json:"sourceTypeName,omitempty"`
	BootImage      bool             `json:"bootImage,omitempty"`
	Pool           string           `json:"pool,omitempty"`
	Items          []listedVolume   `json:"items,omitempty"`
	Images         []listedImage    `json:"images,omitempty"`
	Pools          []listedPool     `json:"pools,omitempty"`
	Snapshots      []listedSnapshot `json:"snapshots,omitempty"`

	// resource.ts: "ok" (with Call) and "event"
	Clusters        []string       `json:"clusters,omitempty"`
	Objects         []listedObject `json:"objects,omitempty"`
	ResourceVersion string         `json:"resourceVersion,omitempty"`
	ObjectVersion   string         `json:"objectVersion,omitempty"`
	Events          int            `json:"events,omitempty"`

	// "request", "response", "requestfailed", "console", "pageerror"
	Method      string `json:"method,omitempty"`
	URL         string `json:"url,omitempty"`
	Status      int    `json:"status,omitempty"`
	ContentType string `json:"contentType,omitempty"`
	Body        string `json:"body,omitempty"`
	Error       string `json:"error,omitempty"`
	Text        string `json:"text,omitempty"`
}

func (s step) String() string {
	b, _ := json.Marshal(s)
	return string(b)
}

// page is the page running in Chromium under drive.mjs.
type page struct {
	cmd    *exec.Cmd
	steps  chan step
	stderr *logBuffer
	seen   []step
	exited chan error
}

// pageQuery is what the page is asked to do.
type pageQuery struct {
	proxy, namespace, dataVolume, url string
	sizeBytes                         int64
	pool, image, snapshot             string
}

func (q pageQuery) encode() string {
	return url.Values{
		"proxy":      {q.proxy},
		"namespace":  {q.namespace},
		"dataVolume": {q.dataVolume},
		"sizeBytes":  {fmt.Sprint(q.sizeBytes)},
		"url":        {q.url},
		"pool":       {q.pool},
		"image":      {q.image},
		"snapshot":   {q.snapshot},
	}.Encode()
}

// openPage runs drive.mjs on pageURL. Its steps arrive as they happen;
// the browser is closed when the test ends, whatever happened.
func openPage(t *testing.T, tl tools, pageURL string) *page {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	cmd := exec.CommandContext(ctx, tl.node, "drive.mjs", pageURL)
	cmd.Env = append(os.Environ(), "CHROMIUM="+tl.chromium)
	// node in a group of its own, so that ending the test ends it and what
	// it started; playwright closes Chromium on SIGTERM.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM) }
	cmd.WaitDelay = 10 * time.Second
	p := &page{cmd: cmd, steps: make(chan step, 64), stderr: &logBuffer{}, exited: make(chan error, 1)}
	cmd.Stderr = p.stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("start drive.mjs: %v", err)
	}
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 64<<10), 4<<20)
		for sc.Scan() {
			var s step
			if err := json.Unmarshal(sc.Bytes(), &s); err != nil {
				s = step{Step: "output", Text: sc.Text()}
			}
			p.steps <- s
		}
		close(p.steps)
		p.exited <- cmd.Wait()
	}()
	t.Cleanup(func() {
		cancel()
		for s := range p.steps { // what is left, for the log below
			p.seen = append(p.seen, s)
		}
		// finish checked how it exited; otherwise the test has failed
		// already, and this is the kill.
		if err := <-p.exited; err != nil && !t.Failed() {
			t.Errorf("drive.mjs: %v", err)
		}
		if t.Failed() {
			t.Logf("what the page and the browser did:\n%s\ndrive.mjs stderr:\n%s", p.history(), p.stderr)
		}
	})
	return p
}

func (p *page) history() string {
	var b strings.Builder
	for _, s := range p.seen {
		b.WriteString("  " + s.String() + "\n")
	}
	return b.String()
}

// until reads the page's steps until one matches want and returns it. An
// error step fails the test unless allowErrors; the page's end, or a
// minute without the step, fails it too.
func (p *page) until(t *testing.T, what string, allowErrors bool, want func(step) bool) step {
	t.Helper()
	timeout := time.After(time.Minute)
	for {
		select {
		case s, ok := <-p.steps:
			if !ok {
				t.Fatalf("the page ended before %s", what)
			}
			p.seen = append(p.seen, s)
			if s.Step == "error" && !allowErrors {
				t.Fatalf("waiting for %s, the page failed: %s %s: %s", what, s.Call, s.Code, s.Message)
			}
			if want(s) {
				return s
			}
			if s.Step == "done" {
				t.Fatalf("the page finished before %s", what)
			}
		case <-timeout:
			t.Fatalf("no %s within a minute", what)
		}
	}
}

// finish reads the page to its end and checks that drive.mjs exited 0.
func (p *page) finish(t *testing.T, allowErrors bool) {
	t.Helper()
	p.until(t, "the page's end", allowErrors, func(s step) bool { return s.Step == "done" })
	for s := range p.steps {
		p.seen = append(p.seen, s)
	}
	if err := <-p.exited; err != nil {
		t.Fatalf("drive.mjs: %v", err)
	}
	p.exited <- nil // for the cleanup
}

// find returns the steps seen that match.
func (p *page) find(match func(step) bool) []step {
	var out []step
	for _, s := range p.seen {
		if match(s) {
			out = append(out, s)
		}
	}
	return out
}

var errNoLine = errors.New("no such line")

// logLine returns the proxy's log line for a call of procedure, or
// errNoLine.
func (r *running) logLine(procedure string) (string, error) {
	for line := range strings.Lines(r.logs.String()) {
		if strings.Contains(line, "msg=call") && strings.Contains(line, "procedure="+procedure+" ") {
			return strings.TrimSpace(line), nil
		}
	}
	return "", errNoLine
}
