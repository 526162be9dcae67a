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
	"k8s.io/client-go/util/retry"
)

// What the storage the helpers pretend to provision looks like: ceph-csi's
// RBD driver, as in the clusters the plugin targets.
const (
	CSIDriver     = "rbd.csi.ceph.com"
	CephClusterID = "otterscale-testenv"
	CephPool      = "rbd"
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

	pv, err := e.createVolume(ctx, pvc, capacity)
	if err != nil {
		return fmt.Errorf("bind claim %s/%s: %w", namespace, name, err)
	}

	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		pvc, err := claims.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if pvc.Spec.VolumeName != pv.Name {
			pvc.Spec.VolumeName = pv.Name
			// The annotations the PV controller and the provisioner leave,
			// which tools read to tell how a claim was bound.
			if pvc.Annotations == nil {
				pvc.Annotations = map[string]string{}
			}
			pvc.Annotations["pv.kubernetes.io/bind-completed"] = "yes"
			pvc.Annotations["pv.kubernetes.io/bound-by-controller"] = "yes"
			pvc.Annotations["volume.kubernetes.io/storage-provisioner"] = CSIDriver
			pvc.Annotations["volume.beta.kubernetes.io/storage-provisioner"] = CSIDriver
			if pvc, err = claims.Update(ctx, pvc, metav1.UpdateOptions{}); err != nil {
				return err
			}
		}
		pvc.Status.Phase = corev1.ClaimBound
		pvc.Status.AccessModes = pv.Spec.AccessModes
		pvc.Status.Capacity = corev1.ResourceList{corev1.ResourceStorage: capacity}
		_, err = claims.UpdateStatus(ctx, pvc, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		return fmt.Errorf("bind claim %s/%s: %w", namespace, name, err)
	}
	return nil
}

// createVolume creates (or finds, when binding again) the claim's volume and
// marks it Bound. The names and attributes follow ceph-csi's, so code mapping
// a volume to its RBD image can be tested against it.
func (e *Env) createVolume(ctx context.Context, pvc *corev1.PersistentVolumeClaim, capacity resource.Quantity) (*corev1.PersistentVolume, error) {
	volumes := e.Kube.CoreV1().PersistentVolumes()
	uid := string(pvc.UID)
	accessModes := pvc.Spec.AccessModes
	if len(accessModes) == 0 {
		accessModes = []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce}
	}
	csi := &corev1.CSIPersistentVolumeSource{
		Driver: CSIDriver,
		// ceph-csi's volume ID: version, cluster ID length and cluster ID,
		// pool ID, image UUID.
		VolumeHandle: fmt.Sprintf("0001-%04x-%s-%016x-%s", len(CephClusterID), CephClusterID, 1, uid),
		VolumeAttributes: map[string]string{
			"clusterID":     CephClusterID,
			"pool":          CephPool,
			"imageName":     "csi-vol-" + uid,
			"imageFeatures": "layering",
		},
	}
	if pvc.Spec.VolumeMode == nil || *pvc.Spec.VolumeMode == corev1.PersistentVolumeFilesystem {
		csi.FSType = "ext4"
	}
	pv := &corev1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{
			// The external provisioner's naming.
			Name:        "pvc-" + uid,
			Annotations: map[string]string{"pv.kubernetes.io/provisioned-by": CSIDriver},
		},
		Spec: corev1.PersistentVolumeSpec{
			Capacity:                      corev1.ResourceList{corev1.ResourceStorage: capacity},
			AccessModes:                   accessModes,
			VolumeMode:                    pvc.Spec.VolumeMode,
			PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimDelete,
			PersistentVolumeSource:        corev1.PersistentVolumeSource{CSI: csi},
			ClaimRef: &corev1.ObjectReference{
				Kind:       "PersistentVolumeClaim",
				APIVersion: "v1",
				Namespace:  pvc.Namespace,
				Name:       pvc.Name,
				UID:        pvc.UID,
			},
		},
	}
	if pvc.Spec.StorageClassName != nil {
		pv.Spec.StorageClassName = *pvc.Spec.StorageClassName
	}
	created, err := volumes.Create(ctx, pv, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		created, err = volumes.Get(ctx, pv.Name, metav1.GetOptions{})
	}
	if err != nil {
		return nil, fmt.Errorf("create volume %s: %w", pv.Name, err)
	}
	created.Status.Phase = corev1.VolumeBound
	if created, err = volumes.UpdateStatus(ctx, created, metav1.UpdateOptions{}); err != nil {
		return nil, fmt.Errorf("mark volume %s bound: %w", pv.Name, err)
	}
	return created, nil
}
