package storage_test

import (
	"strings"
	"testing"

	"connectrpc.com/connect"

	storagev1 "github.com/otterscale/kubectl-otterscale/gen/otterscale/storage/v1"
	"github.com/otterscale/kubectl-otterscale/pkg/cephconf"
	"github.com/otterscale/kubectl-otterscale/pkg/storage"
	"github.com/otterscale/kubectl-otterscale/pkg/worker"
)

// Without a Ceph worker the service keeps the API and its validation, and
// says plainly that it cannot reach Ceph and what to install instead.
func TestWithoutWorker(t *testing.T) {
	t.Setenv(worker.PathEnv, "/nonexistent/otterscale-ceph")
	svc := storage.New(nil, cephconf.Flags{MonHost: "127.0.0.1:1", KeyFile: keyFile(t, "AQBNc5JmAAAAABAAw1RgPWRq8Ck3oJBBP4AB1Q==")})
	defer svc.Close()
	_, err := svc.ListImages(t.Context(), connect.NewRequest(&storagev1.ListImagesRequest{}))
	wantCode(t, err, connect.CodeFailedPrecondition)
	for _, want := range []string{"no Ceph support", "otterscale-ceph", "linux/amd64", "librbd1", "librados2", "make build", "/nonexistent/otterscale-ceph"} {
		if !strings.Contains(message(err), want) {
			t.Errorf("message %q does not say %q", message(err), want)
		}
	}
	_, err = svc.CreateImageSnapshot(t.Context(), connect.NewRequest(&storagev1.CreateImageSnapshotRequest{PoolName: "rbd", ImageName: "img", SnapshotName: "a@b"}))
	wantCode(t, err, connect.CodeInvalidArgument)
}
