package cdisim

import (
	"context"
	"fmt"
	"maps"
	"math"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	cdiv1 "kubevirt.io/containerized-data-importer-api/pkg/apis/core/v1beta1"
)

// Names CDI gives what it creates.
const (
	// pkg/controller/common/util.go: CDI's label and the importer's.
	labelApp           = "app"
	labelAppValue      = "containerized-data-importer"
	labelComponent     = "app.kubernetes.io/component"
	labelManagedBy     = "app.kubernetes.io/managed-by"
	labelManagedByCDI  = "cdi-controller"
	labelFillingUp     = "alerts.k8s.io/KubePersistentVolumeFillingUp"
	labelVeleroExclude = "velero.io/exclude-from-backup"
	importerImage      = "quay.io/kubevirt/cdi-importer:v1.63.1"
	// defaultNode is where the scheduler places importer pods (recC.log
	// 21:43:54: node1).
	defaultNode = "node1"
	// filesystemOverhead is CDI's default overhead for Filesystem claims:
	// 1Gi requested became 1138166334 bytes (recC.log 21:41:25 c-nosc).
	filesystemOverhead = 0.06
)

// claimSpec is the claim CDI renders for a DataVolume
// (pkg/controller/datavolume/util.go, renderPvcSpec): the DataVolume's
// class or the default one, its access modes, the volume mode the
// StorageProfile of a ceph-csi RBD class lists first (Block, CDI.md Claims)
// when the DataVolume names none, and for Filesystem claims the size
// inflated for filesystem overhead. A spec.pvc is taken as given.
func (s *Sim) claimSpec(ctx context.Context, dv *cdiv1.DataVolume) (corev1.PersistentVolumeClaimSpec, *storagev1.StorageClass, error) {
	var spec corev1.PersistentVolumeClaimSpec
	if p := dv.Spec.PVC; p != nil {
		spec = *p.DeepCopy()
		sc, err := s.storageClass(ctx, spec.StorageClassName)
		if spec.StorageClassName == nil && sc != nil {
			spec.StorageClassName = &sc.Name
		}
		return spec, sc, err
	}
	st := dv.Spec.Storage
	if st == nil {
		st = &cdiv1.StorageSpec{}
	}
	sc, err := s.storageClass(ctx, st.StorageClassName)
	if err != nil {
		return spec, nil, err
	}
	spec.StorageClassName = st.StorageClassName
	if spec.StorageClassName == nil && sc != nil {
		spec.StorageClassName = &sc.Name
	}
	spec.AccessModes = st.AccessModes
	mode := corev1.PersistentVolumeFilesystem
	switch {
	case st.VolumeMode != nil:
		mode = *st.VolumeMode
	case sc != nil && sc.Provisioner == CSIDriver:
		mode = corev1.PersistentVolumeBlock
	}
	spec.VolumeMode = &mode
	if len(spec.AccessModes) == 0 {
		spec.AccessModes = []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce}
		if sc != nil && mode == corev1.PersistentVolumeBlock {
			spec.AccessModes = []corev1.PersistentVolumeAccessMode{corev1.ReadWriteMany}
		}
	}
	size := resource.MustParse("1Gi")
	if q, ok := st.Resources.Requests[corev1.ResourceStorage]; ok {
		size = q
	}
	bytes := size.Value()
	if mode == corev1.PersistentVolumeFilesystem {
		bytes = int64(math.Ceil(float64(bytes) * (1 + filesystemOverhead)))
	}
	// CDI writes the size in bytes (recC.log: req 1073741824).
	spec.Resources.Requests = corev1.ResourceList{corev1.ResourceStorage: *resource.NewQuantity(bytes, resource.DecimalSI)}
	return spec, sc, nil
}

// storageClass returns the named class, or the default one when name is
// nil; nil when it does not exist.
func (s *Sim) storageClass(ctx context.Context, name *string) (*storagev1.StorageClass, error) {
	if name != nil {
		sc, err := s.storage.StorageClasses().Get(ctx, *name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("cdisim: get storage class %q: %w", *name, err)
		}
		return sc, nil
	}
	list, err := s.storage.StorageClasses().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("cdisim: list storage classes: %w", err)
	}
	for i := range list.Items {
		if list.Items[i].Annotations["storageclass.kubernetes.io/is-default-class"] == "true" {
			return &list.Items[i], nil
		}
	}
	return nil, nil
}

// targetClaim is the claim CDI creates for the DataVolume
// (controller-base.go, newPersistentVolumeClaim): named after it, owned by
// it, its labels copied with CDI's, its annotations copied with CDI's.
func targetClaim(dv *cdiv1.DataVolume, spec corev1.PersistentVolumeClaimSpec, usePopulator bool) *corev1.PersistentVolumeClaim {
	labels := map[string]string{
		labelApp: labelAppValue, labelComponent: "storage", labelManagedBy: labelManagedByCDI,
	}
	if spec.VolumeMode == nil || *spec.VolumeMode == corev1.PersistentVolumeFilesystem {
		labels[labelFillingUp] = "disabled"
	}
	maps.Copy(labels, dv.Labels)
	anno := map[string]string{}
	maps.Copy(anno, dv.Annotations)
	delete(anno, corev1.LastAppliedConfigAnnotation)
	anno["cdi.kubevirt.io/createdForDataVolume"] = string(dv.UID)
	anno["cdi.kubevirt.io/storage.contentType"] = "kubevirt"
	anno["cdi.kubevirt.io/storage.preallocation.requested"] = "false"
	anno[annPodRestarts] = "0"
	anno[annUsePopulator] = fmt.Sprint(usePopulator)
	return &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{
			Name: dv.Name, Namespace: dv.Namespace, Labels: labels, Annotations: anno,
			OwnerReferences: []metav1.OwnerReference{{
				APIVersion: cdiv1.SchemeGroupVersion.String(), Kind: "DataVolume",
				Name: dv.Name, UID: dv.UID, Controller: new(true), BlockOwnerDeletion: new(true),
			}},
		},
		Spec: spec,
	}
}

// sourceAnnotations are the import controller's annotations for the
// DataVolume's source (pkg/controller/common/util.go, UpdateHTTPAnnotations;
// "none" for a blank disk).
func sourceAnnotations(dv *cdiv1.DataVolume, anno map[string]string) {
	if src := dv.Spec.Source; src != nil && src.HTTP != nil {
		anno["cdi.kubevirt.io/storage.import.source"] = "http"
		anno["cdi.kubevirt.io/storage.import.endpoint"] = src.HTTP.URL
		return
	}
	anno["cdi.kubevirt.io/storage.import.source"] = "none"
}

// createClaim creates pvc and marks it Pending, as the PV controller does
// with a claim it has not bound.
func (s *Sim) createClaim(ctx context.Context, pvc *corev1.PersistentVolumeClaim) (*corev1.PersistentVolumeClaim, error) {
	claims := s.core.PersistentVolumeClaims(pvc.Namespace)
	created, err := claims.Create(ctx, pvc, metav1.CreateOptions{})
	if err != nil {
		return nil, fmt.Errorf("cdisim: create claim %s/%s: %w", pvc.Namespace, pvc.Name, err)
	}
	created.Status.Phase = corev1.ClaimPending
	if created, err = claims.UpdateStatus(ctx, created, metav1.UpdateOptions{}); err != nil {
		return nil, fmt.Errorf("cdisim: mark claim %s/%s pending: %w", pvc.Namespace, pvc.Name, err)
	}
	return created, nil
}

// updateClaim changes claim ns/name and writes it, retrying on conflicts.
func (s *Sim) updateClaim(ctx context.Context, ns, name string, change func(*corev1.PersistentVolumeClaim)) error {
	claims := s.core.PersistentVolumeClaims(ns)
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		pvc, err := claims.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if pvc.Annotations == nil {
			pvc.Annotations = map[string]string{}
		}
		change(pvc)
		_, err = claims.Update(ctx, pvc, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		return fmt.Errorf("cdisim: update claim %s/%s: %w", ns, name, err)
	}
	return nil
}

// annotateClaims sets annotations on the claim the importer writes to and,
// on the populator path, on the target claim too, where the populator
// copies them (import-populator.go, updatePVCWithPVCPrimeAnnotations).
func (s *Sim) annotateClaims(ctx context.Context, ns string, tr *track, anno map[string]string) error {
	names := []string{tr.target}
	if tr.prime != "" {
		names = append([]string{tr.prime}, tr.target)
	}
	for _, n := range names {
		if err := s.updateClaim(ctx, ns, n, func(pvc *corev1.PersistentVolumeClaim) { maps.Copy(pvc.Annotations, anno) }); err != nil {
			return err
		}
	}
	return nil
}

// deleteClaim deletes a claim and drops the pvc-protection finalizer, as
// the PVC protection controller does once no pod uses it.
func (s *Sim) deleteClaim(ctx context.Context, ns, name string) error {
	claims := s.core.PersistentVolumeClaims(ns)
	if err := claims.Delete(ctx, name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("cdisim: delete claim %s/%s: %w", ns, name, err)
	}
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		pvc, err := claims.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		pvc.Finalizers = nil
		_, err = claims.Update(ctx, pvc, metav1.UpdateOptions{})
		return err
	})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("cdisim: release claim %s/%s: %w", ns, name, err)
	}
	return nil
}

// importerPod is the pod CDI's import controller creates for claim
// (pkg/controller/import-controller.go, createImporterPod): owned by the
// claim, one container "importer" writing to the claim as a block device or
// a filesystem, restarted on failure.
func importerPod(name string, pvc *corev1.PersistentVolumeClaim) *corev1.Pod {
	c := corev1.Container{
		Name:  "importer",
		Image: importerImage,
		Args:  []string{"-v=1"},
	}
	if pvc.Spec.VolumeMode != nil && *pvc.Spec.VolumeMode == corev1.PersistentVolumeBlock {
		c.VolumeDevices = []corev1.VolumeDevice{{Name: "cdi-data-vol", DevicePath: "/dev/cdi-block-volume"}}
	} else {
		c.VolumeMounts = []corev1.VolumeMount{{Name: "cdi-data-vol", MountPath: "/data"}}
	}
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name: name, Namespace: pvc.Namespace,
			Labels: map[string]string{
				labelApp: labelAppValue, "cdi.kubevirt.io": "importer", "prometheus.cdi.kubevirt.io": "true",
			},
			Annotations: map[string]string{"cdi.kubevirt.io/storage.createdByController": "yes"},
			OwnerReferences: []metav1.OwnerReference{{
				APIVersion: "v1", Kind: "PersistentVolumeClaim", Name: pvc.Name, UID: pvc.UID,
				Controller: new(true), BlockOwnerDeletion: new(true),
			}},
		},
		Spec: corev1.PodSpec{
			Containers:    []corev1.Container{c},
			RestartPolicy: corev1.RestartPolicyOnFailure,
			Volumes: []corev1.Volume{{Name: "cdi-data-vol", VolumeSource: corev1.VolumeSource{
				PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: pvc.Name},
			}}},
		},
	}
}

// createPod creates pod, after the namespace's default service account the
// service account controller would have made.
func (s *Sim) createPod(ctx context.Context, pod *corev1.Pod) error {
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default", Namespace: pod.Namespace}}
	if _, err := s.core.ServiceAccounts(pod.Namespace).Create(ctx, sa, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("cdisim: create service account %s/default: %w", pod.Namespace, err)
	}
	if _, err := s.core.Pods(pod.Namespace).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("cdisim: create pod %s/%s: %w", pod.Namespace, pod.Name, err)
	}
	return nil
}

// podStatus changes pod ns/name's status and writes it through the status
// subresource, as the kubelet and the scheduler do.
func (s *Sim) podStatus(ctx context.Context, ns, name string, change func(*corev1.Pod)) error {
	pods := s.core.Pods(ns)
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		pod, err := pods.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		change(pod)
		_, err = pods.UpdateStatus(ctx, pod, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		return fmt.Errorf("cdisim: update status of pod %s/%s: %w", ns, name, err)
	}
	return nil
}

// setPodCondition sets a pod condition, moving its transition time when
// its status changes.
func setPodCondition(pod *corev1.Pod, now metav1.Time, typ corev1.PodConditionType, status corev1.ConditionStatus, reason, message string) {
	for i := range pod.Status.Conditions {
		c := &pod.Status.Conditions[i]
		if c.Type != typ {
			continue
		}
		if c.Status != status {
			c.LastTransitionTime = now
		}
		c.Status, c.Reason, c.Message = status, reason, message
		return
	}
	pod.Status.Conditions = append(pod.Status.Conditions, corev1.PodCondition{
		Type: typ, Status: status, Reason: reason, Message: message, LastTransitionTime: now,
	})
}

// deletePod deletes a pod at once, as the kubelet confirms it gone.
func (s *Sim) deletePod(ctx context.Context, ns, name string) error {
	err := s.core.Pods(ns).Delete(ctx, name, metav1.DeleteOptions{GracePeriodSeconds: new(int64(0))})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("cdisim: delete pod %s/%s: %w", ns, name, err)
	}
	return nil
}
