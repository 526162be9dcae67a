//go:build !cgo || !pacific

package storage_test

import (
	"strings"
	"testing"

	"connectrpc.com/connect"

	storagev1 "github.com/otterscale/kubectl-otterscale/gen/otterscale/storage/v1"
	"github.com/otterscale/kubectl-otterscale/pkg/storage"
)

// A build without cgo keeps the API and its validation, and says plainly
// that it cannot reach Ceph and what to use instead.
func TestWithoutCgo(t *testing.T) {
	if storage.Supported {
		t.Fatal("a cgo-free build claims Ceph support")
	}
	svc := storage.New(nil, storage.Flags{MonHost: "127.0.0.1:1"})
	defer svc.Close()
	_, err := svc.ListImages(t.Context(), connect.NewRequest(&storagev1.ListImagesRequest{}))
	wantCode(t, err, connect.CodeFailedPrecondition)
	for _, want := range []string{"no Ceph support", "otterscale-ceph", "linux/amd64", "librbd1", "librados2", "make build"} {
		if !strings.Contains(message(err), want) {
			t.Errorf("message %q does not say %q", message(err), want)
		}
	}
	_, err = svc.CreateImageSnapshot(t.Context(), connect.NewRequest(&storagev1.CreateImageSnapshotRequest{PoolName: "rbd", ImageName: "img", SnapshotName: "a@b"}))
	wantCode(t, err, connect.CodeInvalidArgument)
}
