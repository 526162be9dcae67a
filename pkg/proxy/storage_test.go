package proxy_test

import (
	"bytes"
	"regexp"
	"strings"
	"testing"

	"connectrpc.com/connect"

	storagev1 "github.com/otterscale/kubectl-otterscale/gen/otterscale/storage/v1"
	"github.com/otterscale/kubectl-otterscale/gen/otterscale/storage/v1/storagev1connect"
	"github.com/otterscale/kubectl-otterscale/internal/cephenv"
	"github.com/otterscale/kubectl-otterscale/internal/testenv"
	"github.com/otterscale/kubectl-otterscale/pkg/cephconf"
	"github.com/otterscale/kubectl-otterscale/pkg/proxy"
	"github.com/otterscale/kubectl-otterscale/pkg/storage"
)

// rookStorage is the storage service as the proxy command builds it,
// finding the test Ceph through Rook's objects in the test cluster, as it
// would on an OtterScale cluster.
func rookStorage(t *testing.T, f *fixture, c *cephenv.Cluster) *storage.Service {
	t.Helper()
	if err := c.WriteRook(t.Context(), f.Kube.CoreV1(), f.Namespace); err != nil {
		t.Fatal(err)
	}
	svc := storage.New(f.Provider(""), cephconf.Flags{RookNamespace: f.Namespace, Timeout: 5e9})
	t.Cleanup(svc.Close)
	return svc
}

// snapshots reads an image's snapshots from Ceph itself: name to whether
// it is protected.
func snapshots(t *testing.T, c *cephenv.Cluster, image string) map[string]bool {
	t.Helper()
	out, err := c.RBD(t.Context(), "snap", "ls", "--format", "json", c.Pool+"/"+image)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, m := range regexp.MustCompile(`"name":"([^"]+)"[^}]*"protected":"(true|false)"`).FindAllStringSubmatch(string(out), -1) {
		got[m[1]] = m[2] == "true"
	}
	return got
}

func export(t *testing.T, c *cephenv.Cluster, image string, n int) []byte {
	t.Helper()
	out, err := c.RBD(t.Context(), "export", "--no-progress", c.Pool+"/"+image, "-")
	if err != nil {
		t.Fatal(err)
	}
	return out[:min(n, len(out))]
}

// Every StorageService RPC through every protocol, with the real Ceph
// behind the proxy found through the cluster: each result checked in Ceph
// with the rbd CLI.
func TestStorageEveryRPCEveryProtocol(t *testing.T) {
	f, c := setup(t), cephenv.Require(t)
	p := serve(t, proxy.Services{Instance: f.svc, Storage: rookStorage(t, f, c)}, proxy.Options{})
	for _, proto := range protocols {
		t.Run(proto.name, func(t *testing.T) {
			ctx := t.Context()
			image := "px-" + proto.name
			if err := c.CreateImage(ctx, image, 8<<20); err != nil {
				t.Fatal(err)
			}
			before := bytes.Repeat([]byte{'a'}, 4096)
			if err := c.WriteImage(ctx, image, 0, before); err != nil {
				t.Fatal(err)
			}
			client := storagev1connect.NewStorageServiceClient(proto.client, p.url, proto.opts...)
			ref := func() (string, string, string) { return c.Pool, image, "s1" }
			pool, img, snap := ref()

			created, err := client.CreateImageSnapshot(ctx, connect.NewRequest(&storagev1.CreateImageSnapshotRequest{PoolName: pool, ImageName: img, SnapshotName: snap}))
			if err != nil {
				t.Fatalf("create: %v", err)
			}
			if created.Msg.GetName() != snap || created.Msg.GetQuotaBytes() != 8<<20 {
				t.Errorf("create answered %v", created.Msg)
			}
			if got := snapshots(t, c, image); len(got) != 1 || got[snap] {
				t.Errorf("in Ceph after create: %v", got)
			}

			list, err := client.ListImageSnapshots(ctx, connect.NewRequest(&storagev1.ListImageSnapshotsRequest{PoolName: pool, ImageName: img}))
			if err != nil || len(list.Msg.GetSnapshots()) != 1 || list.Msg.GetSnapshots()[0].GetName() != snap {
				t.Errorf("list snapshots: %v %v", list, err)
			}
			images, err := client.ListImages(ctx, connect.NewRequest(&storagev1.ListImagesRequest{PoolName: pool}))
			if err != nil {
				t.Fatalf("list images: %v", err)
			}
			found := false
			for _, im := range images.Msg.GetImages() {
				if im.GetName() == img && im.GetPoolName() == pool && len(im.GetSnapshots()) == 1 && im.GetQuotaBytes() == 8<<20 {
					found = true
				}
			}
			if !found {
				t.Errorf("%s/%s with its snapshot missing from %v", pool, img, images.Msg.GetImages())
			}

			if _, err := client.ProtectImageSnapshot(ctx, connect.NewRequest(&storagev1.ProtectImageSnapshotRequest{PoolName: pool, ImageName: img, SnapshotName: snap})); err != nil {
				t.Fatalf("protect: %v", err)
			}
			if got := snapshots(t, c, image); !got[snap] {
				t.Errorf("not protected in Ceph: %v", got)
			}
			_, err = client.DeleteImageSnapshot(ctx, connect.NewRequest(&storagev1.DeleteImageSnapshotRequest{PoolName: pool, ImageName: img, SnapshotName: snap}))
			if connect.CodeOf(err) != connect.CodeFailedPrecondition {
				t.Errorf("delete of a protected snapshot: %v, want failed_precondition", err)
			}
			if _, err := client.UnprotectImageSnapshot(ctx, connect.NewRequest(&storagev1.UnprotectImageSnapshotRequest{PoolName: pool, ImageName: img, SnapshotName: snap})); err != nil {
				t.Fatalf("unprotect: %v", err)
			}
			if got := snapshots(t, c, image); got[snap] {
				t.Errorf("still protected in Ceph: %v", got)
			}

			if err := c.WriteImage(ctx, image, 0, bytes.Repeat([]byte{'b'}, 4096)); err != nil {
				t.Fatal(err)
			}
			if _, err := client.RollbackImageSnapshot(ctx, connect.NewRequest(&storagev1.RollbackImageSnapshotRequest{PoolName: pool, ImageName: img, SnapshotName: snap})); err != nil {
				t.Fatalf("rollback: %v", err)
			}
			if got := export(t, c, image, len(before)); !bytes.Equal(got, before) {
				t.Errorf("after rollback the image starts %q, want the snapshot's %q", got[:8], before[:8])
			}

			if _, err := client.DeleteImageSnapshot(ctx, connect.NewRequest(&storagev1.DeleteImageSnapshotRequest{PoolName: pool, ImageName: img, SnapshotName: snap})); err != nil {
				t.Fatalf("delete: %v", err)
			}
			if got := snapshots(t, c, image); len(got) != 0 {
				t.Errorf("in Ceph after delete: %v", got)
			}

			// Errors keep their codes on the way through.
			for name, tc := range map[string]struct {
				req  *storagev1.CreateImageSnapshotRequest
				code connect.Code
			}{
				"missing image": {&storagev1.CreateImageSnapshotRequest{PoolName: pool, ImageName: "no-such-image", SnapshotName: "s"}, connect.CodeNotFound},
				"bad name":      {&storagev1.CreateImageSnapshotRequest{PoolName: pool, ImageName: img, SnapshotName: "a@b"}, connect.CodeInvalidArgument},
				"unknown scope": {&storagev1.CreateImageSnapshotRequest{Scope: "no-such-context", PoolName: pool, ImageName: img, SnapshotName: "s"}, connect.CodeNotFound},
			} {
				_, err := client.CreateImageSnapshot(ctx, connect.NewRequest(tc.req))
				if connect.CodeOf(err) != tc.code {
					t.Errorf("%s: %v, want %v", name, err, tc.code)
				}
			}
			if got := snapshots(t, c, image); len(got) != 0 {
				t.Errorf("a refused call left snapshots: %v", got)
			}
		})
	}
	if logs := p.logs.String(); strings.Contains(logs, c.AdminKey) {
		t.Error("the Ceph key reached the proxy's log")
	}
}

// A scope whose user may not read Rook's secrets is refused as such.
func TestStorageScopeWithoutAccess(t *testing.T) {
	f, c := setup(t), cephenv.Require(t)
	p := serve(t, proxy.Services{Instance: f.svc, Storage: rookStorage(t, f, c)}, proxy.Options{})
	client := storagev1connect.NewStorageServiceClient(http1, p.url, connect.WithProtoJSON())
	_, err := client.ListImages(t.Context(), connect.NewRequest(&storagev1.ListImagesRequest{Scope: testenv.ContextNobody}))
	if code := connect.CodeOf(err); code != connect.CodePermissionDenied && code != connect.CodeFailedPrecondition {
		t.Errorf("scope %s: %v, want permission_denied or failed_precondition", testenv.ContextNobody, err)
	} else if err != nil && strings.Contains(err.Error(), c.AdminKey) {
		t.Error("the error shows the key")
	}
}
