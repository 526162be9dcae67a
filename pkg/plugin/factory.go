package plugin

import (
	"sync"

	"k8s.io/cli-runtime/pkg/genericclioptions"

	"github.com/otterscale/kubectl-otterscale/pkg/cluster"
	"github.com/otterscale/kubectl-otterscale/pkg/instance"
	"github.com/otterscale/kubectl-otterscale/pkg/storage"
)

// Factory hands commands their clients and services, built on first use so
// that --help, version and flag errors never read a kubeconfig or dial a
// server.
type Factory struct {
	ConfigFlags *genericclioptions.ConfigFlags

	once     sync.Once
	clusters *cluster.Kubeconfig

	storageMu sync.Mutex
	storage   *storage.Service
}

// NewFactory returns a Factory with kubectl's flags.
func NewFactory() *Factory {
	return &Factory{ConfigFlags: genericclioptions.NewConfigFlags(true)}
}

// Clusters is the scope-to-clients provider over the user's kubeconfig.
func (f *Factory) Clusters() cluster.Provider {
	f.once.Do(func() { f.clusters = cluster.NewKubeconfig(f.ConfigFlags) })
	return f.clusters
}

// Unthrottle turns client-go's client-side rate limit off, for the proxy:
// see cluster.Kubeconfig.Unthrottle.
func (f *Factory) Unthrottle() {
	f.Clusters()
	f.clusters.Unthrottle()
}

// Instance is the InstanceService implementation the proxy also serves.
func (f *Factory) Instance() *instance.Service {
	return instance.New(f.Clusters())
}

// Storage is the StorageService implementation the proxy also serves. It is
// built on the first call, with the Ceph settings of that call, and keeps
// its Ceph connections until Close.
func (f *Factory) Storage(flags storage.Flags) *storage.Service {
	f.storageMu.Lock()
	defer f.storageMu.Unlock()
	if f.storage == nil {
		f.storage = storage.New(f.Clusters(), flags)
	}
	return f.storage
}

// Close closes the Ceph connections that commands opened.
func (f *Factory) Close() {
	f.storageMu.Lock()
	defer f.storageMu.Unlock()
	if f.storage != nil {
		f.storage.Close()
	}
}

// Namespace is -n, or else the current context's namespace.
func (f *Factory) Namespace() (string, error) {
	ns, _, err := f.ConfigFlags.ToRawKubeConfigLoader().Namespace()
	if err != nil {
		return "", cluster.ConfigError(err)
	}
	return ns, nil
}
