// Package testenv owns the real-API-server test environment: an etcd and a
// kube-apiserver started from locally built binaries on loopback ports, with
// the CDI CRDs applied, a kubeconfig with one context per kind of caller, and
// helpers that stand in for the controllers that do not run there (no
// kube-controller-manager, kubelet or CDI).
//
// It is the one test harness: a package's TestMain is Main with options
// (WithCeph, WithStorageClass, WithSetup), and its tests take their share
// through NewFixture (or Require): the Env, a namespace of their own, the
// plugin's kubeconfig provider for any context, and Ceph when asked.
// hack/sandbox and bench use Start and Stop directly.
package testenv

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	cdiclient "kubevirt.io/client-go/containerizeddataimporter"

	"github.com/otterscale/kubectl-otterscale/internal/daemon"
)

// Environment variables naming the binaries and the CRD directory; the
// Makefile exports them.
const (
	EnvKubeAPIServer = "OTTERSCALE_KUBE_APISERVER"
	EnvEtcd          = "OTTERSCALE_ETCD"
	EnvCRDDir        = "OTTERSCALE_CRD_DIR"
)

// Kubeconfig context names and the namespaces they point at.
const (
	// ContextAdmin is the current context: a system:masters user in
	// namespace "default".
	ContextAdmin = "admin"
	// ContextOther is the admin user in OtherNamespace, for tests of
	// namespace defaulting from the kubeconfig.
	ContextOther = "other"
	// ContextNobody is an authenticated user with no RBAC bindings: every
	// resource request is Forbidden.
	ContextNobody = "nobody"
	// ContextBadToken presents a token the server does not know: every
	// request is Unauthorized.
	ContextBadToken = "badtoken"

	DefaultNamespace = "default"
	OtherNamespace   = "other-ns"
)

// Options says where the binaries and CRDs are. The zero value takes
// everything from the environment (see the Env* constants).
type Options struct {
	// KubeAPIServer and Etcd are paths of the binaries.
	KubeAPIServer, Etcd string
	// CRDDir holds the CRD YAML files to apply. Defaults to $OTTERSCALE_CRD_DIR,
	// then to testdata/crd in the module root found by walking up from the
	// working directory to go.mod.
	CRDDir string
	// Logf, when set, receives progress messages.
	Logf func(format string, args ...any)
}

// withDefaults fills the empty fields of o.
func (o Options) withDefaults() Options {
	if o.KubeAPIServer == "" {
		o.KubeAPIServer = os.Getenv(EnvKubeAPIServer)
	}
	if o.KubeAPIServer == "" {
		o.KubeAPIServer = cached("kube-apiserver-" + KubeVersion)
	}
	if o.Etcd == "" {
		o.Etcd = os.Getenv(EnvEtcd)
	}
	if o.Etcd == "" {
		o.Etcd = cached("etcd-" + EtcdVersion)
	}
	if o.CRDDir == "" {
		o.CRDDir = os.Getenv(EnvCRDDir)
	}
	if o.CRDDir == "" {
		if root, err := moduleRoot(); err == nil {
			o.CRDDir = filepath.Join(root, "testdata", "crd")
		}
	}
	if o.Logf == nil {
		o.Logf = func(string, ...any) {}
	}
	return o
}

// The versions the Makefile builds (KUBE_VERSION, ETCD_VERSION); keep them in
// step so that a plain `go test ./...` finds what `make testenv-bins` built.
const (
	KubeVersion = "v1.32.4"
	EtcdVersion = "v3.5.17"
)

// cached is where the Makefile puts a tool: $CACHE_DIR/bin, by default
// ~/.cache/kubectl-otterscale/bin. Empty when there is no home directory.
func cached(name string) string {
	dir := os.Getenv("CACHE_DIR")
	if dir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return ""
		}
		dir = filepath.Join(home, ".cache", "kubectl-otterscale")
	}
	return filepath.Join(dir, "bin", name)
}

// moduleRoot walks up from the working directory to the first go.mod, so that
// tests in any package (whose working directory is the package's) find the
// module's testdata.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}

// Missing returns nil when the binaries and the CRD directory named by opts
// (after defaults) exist, and otherwise an error naming what is missing.
func Missing(opts Options) error {
	opts = opts.withDefaults()
	var missing []string
	checkExec := func(what, env, path string) {
		if path == "" {
			missing = append(missing, fmt.Sprintf("%s (set $%s)", what, env))
			return
		}
		fi, err := os.Stat(path)
		if err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0 {
			missing = append(missing, fmt.Sprintf("%s at %s", what, path))
		}
	}
	checkExec("kube-apiserver", EnvKubeAPIServer, opts.KubeAPIServer)
	checkExec("etcd", EnvEtcd, opts.Etcd)
	if opts.CRDDir == "" {
		missing = append(missing, fmt.Sprintf("CDI CRDs (set $%s)", EnvCRDDir))
	} else if files, _ := crdFiles(opts.CRDDir); len(files) == 0 {
		missing = append(missing, fmt.Sprintf("CDI CRDs in %s", opts.CRDDir))
	}
	if len(missing) == 0 {
		return nil
	}
	msg := missing[0]
	for _, m := range missing[1:] {
		msg += ", " + m
	}
	return fmt.Errorf("test environment unavailable: missing %s; `make testenv-bins generate` builds them", msg)
}

// Env is a running etcd and kube-apiserver. All fields are read-only.
type Env struct {
	// Dir is a short temporary directory holding everything the environment
	// writes: etcd data, certificates, tokens, the kubeconfig and the logs
	// (etcd.log, kube-apiserver.log). Stop removes it.
	Dir string
	// Kubeconfig is the path of a kubeconfig with the Context* contexts,
	// ContextAdmin current.
	Kubeconfig string
	// Config is the admin context's client configuration, without client-side
	// rate limiting.
	Config *rest.Config
	// Kube, Dynamic and CDI are admin clients built from Config.
	Kube    kubernetes.Interface
	Dynamic dynamic.Interface
	CDI     cdiclient.Interface
	// Server is the API server's URL (https://127.0.0.1:PORT); it stays the
	// same across RestartAPIServer.
	Server string
	// CAData is the PEM of the CA that signed the API server's self-signed
	// serving certificate.
	CAData []byte
	// EtcdURL is etcd's client URL.
	EtcdURL string

	opts      Options
	apiPort   int
	tokens    tokens
	etcd      *daemon.Process
	apiserver *daemon.Process
	served    []schema.GroupVersionResource // the CRDs' resources

	mu      sync.Mutex // serialises Stop and RestartAPIServer
	stopped bool
}

// Start brings up etcd and kube-apiserver on free loopback ports, waits until
// the server is ready, applies every CRD in opts.CRDDir and waits until the
// DataVolume and StorageProfile resources are served, and makes sure the
// namespaces "default" and OtherNamespace exist. On failure it cleans up after
// itself and the error carries the tail of the failing process's log.
func Start(ctx context.Context, opts Options) (*Env, error) {
	opts = opts.withDefaults()
	if err := Missing(opts); err != nil {
		return nil, err
	}
	begin := time.Now()
	// A short name: the paths show up in logs, errors and the sandbox banner.
	dir, err := os.MkdirTemp("", "ote-")
	if err != nil {
		return nil, fmt.Errorf("create test environment directory: %w", err)
	}
	e := &Env{Dir: dir, opts: opts, Kubeconfig: filepath.Join(dir, "kubeconfig")}
	started := false
	defer func() {
		if !started {
			_ = e.Stop()
		}
	}()

	if e.tokens, err = writeCredentials(dir); err != nil {
		return nil, err
	}
	ports, err := freePorts(3)
	if err != nil {
		return nil, err
	}
	etcdPeerPort := ports[1]
	e.apiPort = ports[2]
	e.EtcdURL = fmt.Sprintf("http://127.0.0.1:%d", ports[0])
	e.Server = fmt.Sprintf("https://127.0.0.1:%d", e.apiPort)

	opts.Logf("testenv: starting etcd at %s", e.EtcdURL)
	if e.etcd, err = daemon.Start(opts.Etcd, e.etcdArgs(etcdPeerPort), filepath.Join(dir, "etcd.log"), nil); err != nil {
		return nil, err
	}
	if err := e.waitEtcd(ctx); err != nil {
		return nil, err
	}

	opts.Logf("testenv: starting kube-apiserver at %s", e.Server)
	if e.apiserver, err = daemon.Start(opts.KubeAPIServer, e.apiserverArgs(), filepath.Join(dir, "kube-apiserver.log"), nil); err != nil {
		return nil, err
	}
	if err := e.connect(ctx); err != nil {
		return nil, err
	}
	if err := e.waitReady(ctx); err != nil {
		return nil, err
	}
	opts.Logf("testenv: kube-apiserver ready after %s", time.Since(begin).Round(time.Millisecond))

	crds, err := e.applyCRDs(ctx)
	if err != nil {
		return nil, err
	}
	establishedAt, err := e.waitCRDs(ctx, crds)
	if err != nil {
		return nil, err
	}
	if err := e.warmCaches(ctx); err != nil {
		return nil, err
	}
	for _, ns := range []string{DefaultNamespace, OtherNamespace} {
		if err := e.ensureNamespace(ctx, ns); err != nil {
			return nil, err
		}
	}
	// Wait out the API server's delay of creates of new custom resources
	// here, once, rather than in whichever test happens to create the first
	// DataVolume (where a 2 s stall would distort timings and timeouts).
	// lastTransitionTime has whole seconds, and the server compares against
	// that truncated value too.
	if d := time.Until(establishedAt.Add(crdCreateDelay + 50*time.Millisecond)); d > 0 {
		opts.Logf("testenv: waiting %s until new custom resources can be created without delay", d.Round(time.Millisecond))
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("wait for the CRDs to settle: %w", ctx.Err())
		case <-time.After(d):
		}
	}
	opts.Logf("testenv: ready after %s (kubeconfig %s)", time.Since(begin).Round(time.Millisecond), e.Kubeconfig)
	started = true
	return e, nil
}

// Stop kills etcd and kube-apiserver with their process groups, waits for
// them, and removes Dir. It is idempotent.
func (e *Env) Stop() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.stopped {
		return nil
	}
	e.stopped = true
	var errs []error
	for _, p := range []*daemon.Process{e.apiserver, e.etcd} {
		if p != nil {
			errs = append(errs, p.Kill())
		}
	}
	if e.Dir != "" {
		if err := os.RemoveAll(e.Dir); err != nil {
			errs = append(errs, fmt.Errorf("remove test environment directory: %w", err))
		}
	}
	return errors.Join(errs...)
}

// RestartAPIServer stops kube-apiserver gracefully and starts it again on the
// same port with the same etcd, certificates and tokens, so existing clients
// keep working once it is ready again. Watches opened before the restart end.
func (e *Env) RestartAPIServer(ctx context.Context) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.stopped {
		return errors.New("restart kube-apiserver: test environment is stopped")
	}
	begin := time.Now()
	if err := e.apiserver.Terminate(15 * time.Second); err != nil {
		return fmt.Errorf("restart kube-apiserver: %w", err)
	}
	e.opts.Logf("testenv: kube-apiserver stopped in %s", time.Since(begin).Round(time.Millisecond))
	p, err := daemon.Start(e.opts.KubeAPIServer, e.apiserverArgs(), e.apiserver.LogPath(), nil)
	if err != nil {
		return fmt.Errorf("restart kube-apiserver: %w", err)
	}
	e.apiserver = p
	if err := e.waitReady(ctx); err != nil {
		return fmt.Errorf("restart kube-apiserver: %w", err)
	}
	// Readiness covers the CRD informer but not discovery, which callers
	// building REST mappers depend on.
	if err := e.waitServed(ctx, e.served); err != nil {
		return fmt.Errorf("restart kube-apiserver: %w", err)
	}
	if err := e.warmCaches(ctx); err != nil {
		return fmt.Errorf("restart kube-apiserver: %w", err)
	}
	e.opts.Logf("testenv: kube-apiserver restarted in %s", time.Since(begin).Round(time.Millisecond))
	return nil
}

func (e *Env) ensureNamespace(ctx context.Context, name string) error {
	// The API server creates "default" itself shortly after it is ready;
	// creating it here too only races with that, harmlessly.
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	_, err := e.Kube.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create namespace %q: %w", name, err)
	}
	return nil
}
