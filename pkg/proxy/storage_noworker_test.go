package proxy_test

import (
	"strings"
	"testing"

	"connectrpc.com/connect"

	storagev1 "github.com/otterscale/kubectl-otterscale/gen/otterscale/storage/v1"
	"github.com/otterscale/kubectl-otterscale/gen/otterscale/storage/v1/storagev1connect"
	"github.com/otterscale/kubectl-otterscale/internal/cephenv"
	"github.com/otterscale/kubectl-otterscale/pkg/cephconf"
	"github.com/otterscale/kubectl-otterscale/pkg/proxy"
	"github.com/otterscale/kubectl-otterscale/pkg/storage"
	"github.com/otterscale/kubectl-otterscale/pkg/worker"
)

// Without a Ceph worker the proxy still serves StorageService, and every
// call says plainly why it cannot work, in every protocol.
func TestStorageWithoutCephSupport(t *testing.T) {
	t.Setenv(worker.PathEnv, "/nonexistent/"+worker.BinaryName)
	f, c := setup(t), cephenv.Require(t)
	svc := storage.New(nil, cephconf.Flags{MonHost: c.MonHost, User: "admin", Keyring: c.AdminKeyring})
	t.Cleanup(svc.Close)
	p := serve(t, proxy.Services{Instance: f.svc, Storage: svc}, proxy.Options{})
	for _, proto := range protocols {
		client := storagev1connect.NewStorageServiceClient(proto.client, p.url, proto.opts...)
		_, err := client.ListImages(t.Context(), connect.NewRequest(&storagev1.ListImagesRequest{}))
		if connect.CodeOf(err) != connect.CodeFailedPrecondition || !strings.Contains(err.Error(), "no Ceph support") {
			t.Errorf("%s: %v, want failed_precondition saying this build has no Ceph support", proto.name, err)
		}
	}
}
