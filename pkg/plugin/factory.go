package plugin

import (
	"sync"

	"k8s.io/cli-runtime/pkg/genericclioptions"

	"github.com/otterscale/kubectl-otterscale/gen/otterscale/instance/v1/instancev1connect"
	"github.com/otterscale/kubectl-otterscale/pkg/cluster"
	"github.com/otterscale/kubectl-otterscale/pkg/instance"
)

// Factory hands commands their clients and services, built on first use so
// that --help, version and flag errors never read a kubeconfig or dial a
// server.
type Factory struct {
	ConfigFlags *genericclioptions.ConfigFlags

	once     sync.Once
	clusters *cluster.Kubeconfig
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

// Instance is the InstanceService implementation the proxy also serves.
func (f *Factory) Instance() instancev1connect.InstanceServiceHandler {
	return instance.New(f.Clusters())
}

// Namespace is -n, or else the current context's namespace.
func (f *Factory) Namespace() (string, error) {
	ns, _, err := f.ConfigFlags.ToRawKubeConfigLoader().Namespace()
	if err != nil {
		return "", cluster.ConfigError(err)
	}
	return ns, nil
}
