package instance

import (
	"google.golang.org/protobuf/types/known/timestamppb"
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	cdiv1 "kubevirt.io/containerized-data-importer-api/pkg/apis/core/v1beta1"

	applicationv1 "github.com/otterscale/kubectl-otterscale/gen/otterscale/application/v1"
	instancev1 "github.com/otterscale/kubectl-otterscale/gen/otterscale/instance/v1"
	"github.com/otterscale/kubectl-otterscale/pkg/follow"
)

// BootImageLabel marks a DataVolume as bootable ("true") or not ("false");
// upstream OtterScale's ListDataVolumes filter selects on it.
const BootImageLabel = "otterscale.com/data-volume.boot-image"

// BindImmediateAnnotation makes CDI bind a claim whose storage class waits
// for a first consumer (WaitForFirstConsumer) without one.
const BindImmediateAnnotation = "cdi.kubevirt.io/storage.bind.immediate.requested"

// toDataVolume converts CDI's DataVolume, its claim and the claim's storage
// class (both may be nil) into the API's message. This is the one place
// Kubernetes types become messages.
func toDataVolume(dv *cdiv1.DataVolume, pvc *corev1.PersistentVolumeClaim, sc *storagev1.StorageClass) *instancev1.DataVolume {
	msg := &instancev1.DataVolume{
		Name:         dv.Name,
		Namespace:    dv.Namespace,
		Source:       toSource(dv),
		BootImage:    dv.Labels[BootImageLabel] == "true",
		Phase:        string(dv.Status.Phase),
		Progress:     string(dv.Status.Progress),
		SizeBytes:    requestedSize(dv),
		CreatedAt:    timestamp(dv.CreationTimestamp),
		RestartCount: dv.Status.RestartCount,
	}
	if s := dv.Spec.Storage; s != nil {
		msg.StorageClass = deref(s.StorageClassName)
		msg.AccessMode = firstAccessMode(s.AccessModes)
		msg.VolumeMode = string(deref(s.VolumeMode))
	} else if p := dv.Spec.PVC; p != nil {
		msg.StorageClass = deref(p.StorageClassName)
		msg.AccessMode = firstAccessMode(p.AccessModes)
		msg.VolumeMode = string(deref(p.VolumeMode))
	}
	newest := -1
	for i, c := range dv.Status.Conditions {
		msg.Conditions = append(msg.Conditions, &instancev1.DataVolume_Condition{
			Type:           string(c.Type),
			Status:         string(c.Status),
			Reason:         c.Reason,
			Message:        c.Message,
			HeartbeatAt:    timestamp(c.LastHeartbeatTime),
			TransitionedAt: timestamp(c.LastTransitionTime),
		})
		// The newest is the latest transition; on a tie, CDI's own order
		// (Bound, Running, Ready) puts the later stage last.
		if newest < 0 || !c.LastTransitionTime.Before(&dv.Status.Conditions[newest].LastTransitionTime) {
			newest = i
		}
	}
	if newest >= 0 {
		msg.LastCondition = msg.Conditions[newest]
	}
	if pvc != nil {
		msg.PersistentVolumeClaim = toClaim(pvc, sc)
		msg.Importer = toImporter(pvc)
	}
	msg.ImportStatus = follow.Describe(msg, nil)
	return msg
}

// CDI's records on the claim it imports into (pkg/controller/common/util.go:
// AnnImportPod, AnnPodPhase) and the populators' kinds
// (pkg/apis/core/v1beta1: VolumeImportSource).
const (
	annImportPod           = "cdi.kubevirt.io/storage.import.importPodName"
	annPodPhase            = "cdi.kubevirt.io/storage.pod.phase"
	volumeImportSourceKind = "VolumeImportSource"
)

// toImporter reads what CDI records of its importer on the target claim.
// On the populator path (the claim's dataSourceRef is a VolumeImportSource)
// CDI imports into claim prime-<claim UID> with pod importer-prime-<claim
// UID> and copies the pod's phase to the target claim; on the older path the
// claim names the pod (cdi-observed: recC.log and recA.log).
func toImporter(pvc *corev1.PersistentVolumeClaim) *instancev1.DataVolume_Importer {
	imp := &instancev1.DataVolume_Importer{Pod: pvc.Annotations[annImportPod], PodPhase: pvc.Annotations[annPodPhase]}
	if ref := pvc.Spec.DataSourceRef; ref != nil && ref.Kind == volumeImportSourceKind && ref.APIGroup != nil && *ref.APIGroup == cdiv1.SchemeGroupVersion.Group {
		imp.PrimeClaim = "prime-" + string(pvc.UID)
		imp.Pod = "importer-" + imp.PrimeClaim
	}
	if imp.Pod == "" {
		return nil
	}
	return imp
}

func toSource(dv *cdiv1.DataVolume) *instancev1.DataVolume_Source {
	src := &instancev1.DataVolume_Source{Type: instancev1.DataVolume_Source_BLANK_IMAGE}
	s := dv.Spec.Source
	switch {
	case s == nil:
	case s.HTTP != nil:
		src.Type, src.Data = instancev1.DataVolume_Source_HTTP_URL, s.HTTP.URL
	case s.PVC != nil:
		src.Type, src.Data = instancev1.DataVolume_Source_EXISTING_PERSISTENT_VOLUME_CLAIM, s.PVC.Name
		if s.PVC.Namespace != "" && s.PVC.Namespace != dv.Namespace {
			src.Data = s.PVC.Namespace + "/" + s.PVC.Name
		}
	}
	return src
}

// requestedSize reads the size from spec.storage (what this tool writes) or
// spec.pvc (what older tools and upstream OtterScale write).
func requestedSize(dv *cdiv1.DataVolume) int64 {
	if s := dv.Spec.Storage; s != nil {
		if q, ok := s.Resources.Requests[corev1.ResourceStorage]; ok {
			return q.Value()
		}
	}
	if p := dv.Spec.PVC; p != nil {
		if q, ok := p.Resources.Requests[corev1.ResourceStorage]; ok {
			return q.Value()
		}
	}
	return 0
}

func toClaim(pvc *corev1.PersistentVolumeClaim, sc *storagev1.StorageClass) *applicationv1.Application_PersistentVolumeClaim {
	modes := pvc.Status.AccessModes
	if len(modes) == 0 {
		modes = pvc.Spec.AccessModes
	}
	msg := &applicationv1.Application_PersistentVolumeClaim{
		Name:       pvc.Name,
		Status:     string(pvc.Status.Phase),
		CreatedAt:  timestamp(pvc.CreationTimestamp),
		VolumeMode: string(deref(pvc.Spec.VolumeMode)),
		VolumeName: pvc.Spec.VolumeName,
	}
	for _, m := range modes {
		msg.AccessModes = append(msg.AccessModes, string(m))
	}
	if q, ok := pvc.Status.Capacity[corev1.ResourceStorage]; ok {
		msg.Capacity = q.String()
	}
	if q, ok := pvc.Spec.Resources.Requests[corev1.ResourceStorage]; ok {
		msg.RequestBytes = q.Value()
	}
	switch {
	case sc != nil:
		msg.StorageClass = toStorageClass(sc)
	case pvc.Spec.StorageClassName != nil && *pvc.Spec.StorageClassName != "":
		// The class itself could not be read (gone, or not ours to see).
		msg.StorageClass = &applicationv1.StorageClass{Name: *pvc.Spec.StorageClassName}
	}
	return msg
}

func toStorageClass(sc *storagev1.StorageClass) *applicationv1.StorageClass {
	msg := &applicationv1.StorageClass{
		Name:        sc.Name,
		Provisioner: sc.Provisioner,
		Parameters:  sc.Parameters,
		CreatedAt:   timestamp(sc.CreationTimestamp),
	}
	if sc.ReclaimPolicy != nil {
		msg.ReclaimPolicy = string(*sc.ReclaimPolicy)
	}
	if sc.VolumeBindingMode != nil {
		msg.VolumeBindingMode = string(*sc.VolumeBindingMode)
	}
	return msg
}

func timestamp(t metav1.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t.Time)
}

func firstAccessMode(modes []corev1.PersistentVolumeAccessMode) string {
	if len(modes) == 0 {
		return ""
	}
	return string(modes[0])
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}
