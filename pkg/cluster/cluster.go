// Package cluster owns access to Kubernetes clusters: it turns a scope (a
// kubeconfig context name) into clients, and Kubernetes errors into Connect
// errors, so that every service speaks one error vocabulary.
package cluster

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"connectrpc.com/connect"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	storagev1client "k8s.io/client-go/kubernetes/typed/storage/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	cdiclient "kubevirt.io/client-go/containerizeddataimporter"
)

// Clients are the clients of one scope.
type Clients struct {
	// Context is the kubeconfig context; empty when the kubeconfig has none
	// (in-cluster or flags only).
	Context string
	// Namespace is the context's namespace, or -n when the scope is the
	// current one; "default" when neither says.
	Namespace string
	Config    *rest.Config
	// Only the API groups the services use: the whole clientset would add
	// some 15 MB to the binary for clients nothing calls.
	Core    corev1client.CoreV1Interface
	Storage storagev1client.StorageV1Interface
	CDI     cdiclient.Interface
}

// Provider hands out the clients of a scope. Services depend on this, not
// on kubeconfig files, so that the CLI, the proxy and tests can each supply
// their own.
type Provider interface {
	Clients(ctx context.Context, scope string) (*Clients, error)
}

// Kubeconfig is a Provider over the user's kubeconfig, as kubectl's flags
// (--kubeconfig, --context, --server, ...) describe it. It reads nothing
// until the first call, and caches clients per scope.
type Kubeconfig struct {
	getter genericclioptions.RESTClientGetter

	mu          sync.Mutex
	cache       map[string]*Clients
	unthrottled bool
}

var _ Provider = (*Kubeconfig)(nil)

// Unthrottle turns client-go's client-side rate limit off for the clients
// made from now on. A command makes a handful of requests, and 50 a second
// bounds a runaway loop; the proxy serves many callers at once, and that
// limit would cap it at about 50 calls a second however many callers wait
// (GetDataVolume reads through three clients). The API server's own
// priority and fairness still applies: it answers 429 with Retry-After,
// which client-go honours.
func (k *Kubeconfig) Unthrottle() {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.unthrottled = true
}

// NewKubeconfig returns a Provider over getter, typically cli-runtime's
// ConfigFlags.
func NewKubeconfig(getter genericclioptions.RESTClientGetter) *Kubeconfig {
	return &Kubeconfig{getter: getter, cache: map[string]*Clients{}}
}

// Clients returns the clients of scope: the empty scope is the context the
// command or proxy was started with (with all of kubectl's flags applied);
// any other scope names a context in the kubeconfig.
func (k *Kubeconfig) Clients(_ context.Context, scope string) (*Clients, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if c, ok := k.cache[scope]; ok {
		return c, nil
	}
	c, err := k.load(scope)
	if err != nil {
		return nil, err
	}
	k.cache[scope] = c
	return c, nil
}

func (k *Kubeconfig) load(scope string) (*Clients, error) {
	loader := k.getter.ToRawKubeConfigLoader()
	current, err := currentContext(loader, k.getter)
	if err != nil {
		return nil, err
	}
	if scope == "" || scope == current {
		cfg, err := k.getter.ToRESTConfig()
		if err != nil {
			return nil, ConfigError(err)
		}
		ns, _, err := loader.Namespace()
		if err != nil {
			return nil, ConfigError(err)
		}
		return newClients(current, ns, cfg, k.unthrottled)
	}

	raw, err := loader.RawConfig()
	if err != nil {
		return nil, ConfigError(err)
	}
	if _, ok := raw.Contexts[scope]; !ok {
		return nil, connect.NewError(connect.CodeNotFound,
			fmt.Errorf("scope %q: the kubeconfig has no context of that name", scope))
	}
	cc := clientcmd.NewNonInteractiveClientConfig(raw, scope, &clientcmd.ConfigOverrides{}, nil)
	cfg, err := cc.ClientConfig()
	if err != nil {
		return nil, ConfigError(fmt.Errorf("scope %q: %w", scope, err))
	}
	// Keep the timeout the user asked for (--request-timeout) for every scope.
	if def, err := k.getter.ToRESTConfig(); err == nil {
		cfg.Timeout = def.Timeout
	}
	ns, _, err := cc.Namespace()
	if err != nil {
		return nil, ConfigError(err)
	}
	return newClients(scope, ns, cfg, k.unthrottled)
}

// currentContext is the context the flags and kubeconfig select, or "" when
// there is none (a kubeconfig-less --server, say).
func currentContext(loader clientcmd.ClientConfig, getter genericclioptions.RESTClientGetter) (string, error) {
	if cf, ok := getter.(*genericclioptions.ConfigFlags); ok && cf.Context != nil && *cf.Context != "" {
		return *cf.Context, nil
	}
	raw, err := loader.RawConfig()
	if err != nil {
		return "", ConfigError(err)
	}
	return raw.CurrentContext, nil
}

func newClients(context, namespace string, cfg *rest.Config, unthrottled bool) (*Clients, error) {
	cfg = rest.CopyConfig(cfg)
	switch {
	case unthrottled:
		// A negative QPS means no client-side limit.
		cfg.QPS, cfg.Burst, cfg.RateLimiter = -1, 0, nil
	case cfg.QPS == 0:
		// client-go's default of 5 requests a second throttles
		// list-then-join; kubectl itself runs with far higher limits.
		cfg.QPS, cfg.Burst = 50, 100
	}
	if cfg.UserAgent == "" {
		cfg.UserAgent = "kubectl-otterscale"
	}
	httpClient, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return nil, ConfigError(err)
	}
	core, err := corev1client.NewForConfigAndClient(cfg, httpClient)
	if err != nil {
		return nil, ConfigError(err)
	}
	storage, err := storagev1client.NewForConfigAndClient(cfg, httpClient)
	if err != nil {
		return nil, ConfigError(err)
	}
	cdi, err := cdiclient.NewForConfigAndClient(cfg, httpClient)
	if err != nil {
		return nil, ConfigError(err)
	}
	if namespace == "" {
		namespace = "default"
	}
	return &Clients{Context: context, Namespace: namespace, Config: cfg, Core: core, Storage: storage, CDI: cdi}, nil
}

// ConfigError reports a kubeconfig that cannot be used: there is nothing to
// retry until the user fixes it, hence failed_precondition.
func ConfigError(err error) error {
	var ce *connect.Error
	if errors.As(err, &ce) {
		return err
	}
	if clientcmd.IsEmptyConfig(err) {
		return connect.NewError(connect.CodeFailedPrecondition,
			fmt.Errorf("no kubeconfig found: set --kubeconfig or KUBECONFIG, or create ~/.kube/config: %w", err))
	}
	return connect.NewError(connect.CodeFailedPrecondition, fmt.Errorf("load kubeconfig: %w", err))
}

// Contexts answers the kubeconfig's context names, the one the flags and
// kubeconfig select first (when there is one), the rest in name order: the
// clusters a scope, or ResourceService's cluster, can name.
func (k *Kubeconfig) Contexts() ([]string, error) {
	loader := k.getter.ToRawKubeConfigLoader()
	current, err := currentContext(loader, k.getter)
	if err != nil {
		return nil, err
	}
	raw, err := loader.RawConfig()
	if err != nil {
		return nil, ConfigError(err)
	}
	names := make([]string, 0, len(raw.Contexts))
	for name := range raw.Contexts {
		if name != current {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	if _, ok := raw.Contexts[current]; ok {
		names = append([]string{current}, names...)
	}
	return names, nil
}
