package plugin

import (
	"log/slog"
	"sync"

	"k8s.io/cli-runtime/pkg/genericclioptions"

	"github.com/otterscale/kubectl-otterscale/pkg/cephconf"
	"github.com/otterscale/kubectl-otterscale/pkg/cluster"
	"github.com/otterscale/kubectl-otterscale/pkg/instance"
	"github.com/otterscale/kubectl-otterscale/pkg/link"
	"github.com/otterscale/kubectl-otterscale/pkg/resource"
	"github.com/otterscale/kubectl-otterscale/pkg/storage"
	"github.com/otterscale/kubectl-otterscale/pkg/worker"
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
	workers   *worker.Pool
	workerLog *slog.Logger
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

// Resource is the ResourceService implementation the proxy serves.
func (f *Factory) Resource() *resource.Service {
	return resource.New(f.Clusters())
}

// Link is the LinkService implementation the proxy serves: the
// kubeconfig's contexts.
func (f *Factory) Link() *link.Service {
	f.Clusters()
	return link.New(f.clusters)
}

// Instance is the InstanceService implementation the proxy also serves.
func (f *Factory) Instance() *instance.Service {
	return instance.New(f.Clusters())
}

// Storage is the StorageService implementation the proxy also serves. It is
// built on the first call, with the Ceph settings of that call, and keeps
// its Ceph workers until Close.
func (f *Factory) Storage(flags cephconf.Flags) *storage.Service {
	f.storageMu.Lock()
	defer f.storageMu.Unlock()
	if f.storage == nil {
		f.storage = storage.NewWithWorkers(f.Clusters(), flags, f.workersLocked())
	}
	return f.storage
}

// WarmCeph starts a Ceph worker while the command finds its cluster (see
// worker.Pool.Warm).
func (f *Factory) WarmCeph() {
	f.storageMu.Lock()
	w := f.workersLocked()
	f.storageMu.Unlock()
	w.Warm()
}

// LogCeph sends the Ceph workers' starts and deaths to log; the proxy
// calls it before anything uses Ceph.
func (f *Factory) LogCeph(log *slog.Logger) {
	f.storageMu.Lock()
	defer f.storageMu.Unlock()
	f.workerLog = log
}

func (f *Factory) workersLocked() *worker.Pool {
	if f.workers == nil {
		f.workers = worker.NewPool(worker.Options{Logger: f.workerLog})
	}
	return f.workers
}

// Close stops the Ceph workers that commands started.
func (f *Factory) Close() {
	f.storageMu.Lock()
	defer f.storageMu.Unlock()
	if f.workers != nil {
		f.workers.Close()
		f.workers, f.storage = nil, nil
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
