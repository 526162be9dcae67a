package storage_test

import (
	"testing"

	"connectrpc.com/connect"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	storagev1 "github.com/otterscale/kubectl-otterscale/gen/otterscale/storage/v1"
	"github.com/otterscale/kubectl-otterscale/internal/cephenv"
	"github.com/otterscale/kubectl-otterscale/internal/testenv"
	"github.com/otterscale/kubectl-otterscale/pkg/storage"
)

// A claim's image is found through its PersistentVolume's ceph-csi
// attributes, and the snapshot lands on that image in Ceph.
func TestResolveClaim(t *testing.T) {
	env, c := testenv.Require(t), cephenv.Require(t)
	ctx := t.Context()
	ns := env.NewNamespace(t, "pvc")
	claims := env.Kube.CoreV1().PersistentVolumeClaims(ns)
	for _, name := range []string{"disk", "pending"} {
		if _, err := claims.Create(ctx, &corev1.PersistentVolumeClaim{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: corev1.PersistentVolumeClaimSpec{
				AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
				Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("8Mi")}},
			},
		}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := env.BindClaim(ctx, ns, "disk", resource.Quantity{}); err != nil {
		t.Fatal(err)
	}
	// Provision the image the volume names, as ceph-csi would have.
	pvc, err := claims.Get(ctx, "disk", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pv, err := env.Kube.CoreV1().PersistentVolumes().Get(ctx, pvc.Spec.VolumeName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	image := pv.Spec.CSI.VolumeAttributes["imageName"]
	if err := c.CreateImage(ctx, image, 8*mib); err != nil {
		t.Fatal(err)
	}

	clients, err := env.Provider("").Clients(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	pool, img, err := storage.ResolveClaim(ctx, clients, ns, "disk")
	if err != nil || pool != c.Pool || img != image {
		t.Fatalf("ResolveClaim = %q, %q, %v", pool, img, err)
	}
	// And the image is the real one: a snapshot of it shows up in rbd.
	svc := adminService(t, c)
	if _, err := svc.CreateImageSnapshot(ctx, connect.NewRequest(&storagev1.CreateImageSnapshotRequest{PoolName: pool, ImageName: img, SnapshotName: "via-claim"})); err != nil {
		t.Fatal(err)
	}
	if snaps := rbdSnaps(t, c, img); len(snaps) != 1 || snaps[0].Name != "via-claim" {
		t.Errorf("rbd snap ls %s: %+v", img, snaps)
	}
	_, _, err = storage.ResolveClaim(ctx, clients, ns, "pending")
	wantCode(t, err, connect.CodeFailedPrecondition)
	_, _, err = storage.ResolveClaim(ctx, clients, ns, "missing")
	wantCode(t, err, connect.CodeNotFound)
}
