package testenv

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/otterscale/kubectl-otterscale/internal/cdisim"
)

// What the storage the helpers pretend to provision looks like: ceph-csi's
// RBD driver, as in the clusters the plugin targets (internal/cdisim, which
// binds claims for both).
const (
	CSIDriver     = cdisim.CSIDriver
	CephClusterID = cdisim.ClusterID
	CephPool      = cdisim.Pool
)

// claimWait is how long BindClaim waits for the claim to appear; in a real
// cluster CDI creates it right after the DataVolume.
const claimWait = 10 * time.Second

// CreateStorageClass creates a ceph-csi RBD StorageClass that allows volume
// expansion, binds immediately and deletes volumes with their claims; with
// isDefault it is marked as the cluster's default class, which the
// DefaultStorageClass admission plugin then assigns to claims naming none.
func (e *Env) CreateStorageClass(ctx context.Context, name string, isDefault bool) error {
	sc := &storagev1.StorageClass{
		ObjectMeta:  metav1.ObjectMeta{Name: name},
		Provisioner: CSIDriver,
		Parameters: map[string]string{
			"clusterID":     CephClusterID,
			"pool":          CephPool,
			"imageFeatures": "layering",
		},
		ReclaimPolicy:        new(corev1.PersistentVolumeReclaimDelete),
		AllowVolumeExpansion: new(true),
		VolumeBindingMode:    new(storagev1.VolumeBindingImmediate),
	}
	if isDefault {
		sc.Annotations = map[string]string{"storageclass.kubernetes.io/is-default-class": "true"}
	}
	if _, err := e.Kube.StorageV1().StorageClasses().Create(ctx, sc, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("create storage class %q: %w", name, err)
	}
	return nil
}

// BindClaim binds the claim namespace/name the way the external provisioner
// and the PV controller would: it creates a ceph-csi PersistentVolume of the
// given capacity (the claim's request when capacity is zero) pre-bound to the
// claim, sets the claim's spec.volumeName, and marks both Bound through their
// status subresources. It waits up to 10 s for the claim to exist.
func (e *Env) BindClaim(ctx context.Context, namespace, name string, capacity resource.Quantity) error {
	claims := e.Kube.CoreV1().PersistentVolumeClaims(namespace)
	var pvc *corev1.PersistentVolumeClaim
	err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, claimWait, true, func(ctx context.Context) (bool, error) {
		var err error
		pvc, err = claims.Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return false, nil
		}
		return err == nil, err
	})
	if err != nil {
		return fmt.Errorf("bind claim %s/%s: get claim: %w", namespace, name, err)
	}
	if capacity.IsZero() {
		var ok bool
		if capacity, ok = pvc.Spec.Resources.Requests[corev1.ResourceStorage]; !ok {
			return fmt.Errorf("bind claim %s/%s: the claim requests no storage and no capacity was given", namespace, name)
		}
	}

	return cdisim.Bind(ctx, e.Kube.CoreV1(), pvc, capacity)
}
