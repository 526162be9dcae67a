package discover_test

import (
	"errors"
	"os"
	"testing"

	"connectrpc.com/connect"
	"k8s.io/cli-runtime/pkg/genericclioptions"

	"github.com/otterscale/kubectl-otterscale/internal/cephenv"
	"github.com/otterscale/kubectl-otterscale/internal/testenv"
	"github.com/otterscale/kubectl-otterscale/pkg/cluster"
)

// Finding Ceph through the cluster is checked against a real
// kube-apiserver holding Rook's and ceph-csi's objects, and what was found
// against a real Ceph (one monitor, one memstore OSD). The TestMain is
// pkg/storage's, until one harness serves every package.
func TestMain(m *testing.M) {
	os.Exit(testenv.Run(cephenv.RunFunc(func() int { return cephenv.Run(m, nil) }), nil))
}

// kubeProvider is the real kubeconfig provider over the test API server.
func kubeProvider(env *testenv.Env) cluster.Provider {
	flags := genericclioptions.NewConfigFlags(false)
	flags.KubeConfig = &env.Kubeconfig
	return cluster.NewKubeconfig(flags)
}

func wantCode(t *testing.T, err error, code connect.Code) {
	t.Helper()
	if got := connect.CodeOf(err); err == nil || got != code {
		t.Fatalf("want %v, got %v (%v)", code, got, err)
	}
}

func message(err error) string {
	var ce *connect.Error
	if errors.As(err, &ce) {
		return ce.Message()
	}
	return err.Error()
}
