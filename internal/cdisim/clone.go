package cdisim

import (
	"context"
	"fmt"
	"maps"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	cdiv1 "kubevirt.io/containerized-data-importer-api/pkg/apis/core/v1beta1"
)

// Event reasons and messages of a clone.
const (
	// pkg/controller/datavolume/clone-controller-base.go: the DataVolume's
	// phase events.
	reasonCloneScheduled       = "CloneScheduled"
	messageCloneScheduled      = "Cloning from %s/%s into %s/%s scheduled"
	reasonCloneInProgress      = "CloneInProgress"
	messageCloneInProgress     = "Cloning from %s/%s into %s/%s in progress"
	reasonCSICloneInProgress   = "CSICloneInProgress"
	messageCSICloneInProgress  = "CSI Volume clone in progress (for pvc %s/%s)"
	reasonCloneSucceeded       = "CloneSucceeded"
	messageCloneSucceeded      = "Successfully cloned from %s/%s into %s/%s"
	reasonIncompatibleModes    = "IncompatibleVolumeModes"
	messageIncompatibleModes   = "The volume modes of source and target are incompatible"
	reasonNoPopulator          = "NoPopulator"
	messageInTreeFallback      = "In tree storage class does not support snapshot/clone"
	annCloneFallbackReason     = "cdi.kubevirt.io/cloneFallbackReason"
	annClonePhase              = "cdi.kubevirt.io/clonePhase"
	clonePhaseHost             = "HostClone"
	clonePhaseCSI              = "CSIClone"
	clonePhaseSucceeded        = "Succeeded"
	cloneTypeCopy              = "copy"
	cloneTypeCSI               = "csi-clone"
	annCloneRequest            = "k8s.io/CloneRequest"
	labelOwnedByUID            = "cdi.kubevirt.io/OwnedByUID"
	volumeCloneSourcePrefixFmt = "volume-clone-source-%s"
)

// StartClone does what CDI does when it first sees the clone DataVolume
// ns/name (spec.source.pvc):
//   - populator path, source and target of one volume mode: a CSI clone,
//     phase CSICloneInProgress, Running=True/"Populator is running",
//     Ready=False/TransferRunning (recC.log 21:41:25 c-cloneblk);
//   - populator path, a Filesystem source into a Block target (or the
//     reverse): CloneScheduled, then host-assisted CloneInProgress with
//     Running=False/Pending/"Clone Pending" and Warning
//     IncompatibleVolumeModes on the target claim (recC.log 21:41:22 and
//     21:41:25 c-clone; clone/planner.go);
//   - set-ups A and AGate: no populator, phase Pending, Warning NoPopulator
//     on the target claim with the fallback reason CDI records on it
//     (recA.log 21:40:32 a-clone).
func (s *Sim) StartClone(ctx context.Context, ns, name string) error {
	dv, err := s.cdi.CdiV1beta1().DataVolumes(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("cdisim: get data volume %s/%s: %w", ns, name, err)
	}
	if dv.Spec.Source == nil || dv.Spec.Source.PVC == nil {
		return fmt.Errorf("cdisim: data volume %s/%s does not clone a claim: use Start", ns, name)
	}
	srcNS, srcName := dv.Spec.Source.PVC.Namespace, dv.Spec.Source.PVC.Name
	if srcNS == "" {
		srcNS = ns
	}
	src, err := s.core.PersistentVolumeClaims(srcNS).Get(ctx, srcName, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("cdisim: get clone source %s/%s: %w", srcNS, srcName, err)
	}
	spec, sc, err := s.claimSpec(ctx, dv)
	if err != nil {
		return err
	}
	if st := dv.Spec.Storage; st != nil {
		if _, ok := st.Resources.Requests[corev1.ResourceStorage]; !ok {
			// Without a size the clone takes the source's.
			spec.Resources.Requests = src.Spec.Resources.Requests.DeepCopy()
		}
	}
	tr := &track{clone: true, target: name}
	tr.populator = s.setup.csiDriver() && sc != nil && sc.Provisioner == CSIDriver
	if v, ok := dv.Annotations[annUsePopulator]; ok {
		tr.populator, _ = strconv.ParseBool(v)
	}
	srcMode := corev1.PersistentVolumeFilesystem
	if src.Spec.VolumeMode != nil {
		srcMode = *src.Spec.VolumeMode
	}
	sameMode := spec.VolumeMode != nil && *spec.VolumeMode == srcMode
	s.mu.Lock()
	s.dvs[key(ns, name)] = tr
	s.mu.Unlock()

	pvc := targetClaim(dv, spec, tr.populator)
	if !tr.populator {
		// The older path: a host-assisted clone (recA.log 21:40:32
		// a-clone).
		if err := s.markUsePopulator(ctx, ns, name, false, cloneTypeCopy); err != nil {
			return err
		}
		maps.Copy(pvc.Annotations, map[string]string{
			annCloneFallbackReason:                  messageInTreeFallback,
			annCloneType:                            cloneTypeCopy,
			annCloneRequest:                         srcNS + "/" + srcName,
			"cdi.kubevirt.io/storage.uploadPodName": "cdi-upload-" + name,
		})
		if _, err := s.createClaim(ctx, pvc); err != nil {
			return err
		}
		if err := s.event(ctx, ns, "PersistentVolumeClaim", name, componentDVClone, corev1.EventTypeWarning, reasonNoPopulator, messageInTreeFallback); err != nil {
			return err
		}
		return s.reconcile(ctx, ns, name, tr, cdiv1.Pending, nil)
	}

	cloneType := cloneTypeCopy
	if sameMode {
		cloneType = cloneTypeCSI
	}
	if err := s.markUsePopulator(ctx, ns, name, true, ""); err != nil {
		return err
	}
	apiGroup := "cdi.kubevirt.io"
	pvc.Spec.DataSourceRef = &corev1.TypedObjectReference{
		APIGroup: &apiGroup, Kind: cdiv1.VolumeCloneSourceRef, Name: fmt.Sprintf(volumeCloneSourcePrefixFmt, dv.UID),
	}
	if !s.setup.honorWFFC() {
		pvc.Annotations[annImmediateBinding] = ""
	}
	if err := s.createCloneSource(ctx, dv, srcName); err != nil {
		return err
	}
	target, err := s.createClaim(ctx, pvc)
	if err != nil {
		return err
	}
	// The clone populator's temporary claim the data lands in first.
	tmp := &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{
			Name: "tmp-pvc-" + string(target.UID), Namespace: srcNS,
			Labels: map[string]string{
				labelApp: labelAppValue, labelComponent: "storage", labelManagedBy: labelManagedByCDI,
				labelOwnedByUID: string(target.UID), labelVeleroExclude: "true",
			},
			Annotations: map[string]string{
				annClonePhase: "Pending", annCloneType: cloneType,
				"cdi.kubevirt.io/createdForDataVolume": string(dv.UID),
			},
		},
		Spec: *target.Spec.DeepCopy(),
	}
	tmp.Spec.DataSourceRef = nil
	tmp.Spec.DataSource = nil
	if sameMode {
		tmp.Spec.DataSource = &corev1.TypedLocalObjectReference{Kind: "PersistentVolumeClaim", Name: srcName}
	} else {
		tmp.Annotations[annCloneFallbackReason] = messageIncompatibleModes
		tmp.Annotations[annCloneRequest] = srcNS + "/" + srcName
	}
	if _, err := s.createClaim(ctx, tmp); err != nil {
		return err
	}

	if sameMode {
		if err := s.markUsePopulator(ctx, ns, name, true, cloneTypeCSI); err != nil {
			return err
		}
		if err := s.annotateClaims(ctx, ns, tr, map[string]string{
			annClonePhase: clonePhaseCSI, annCloneType: cloneTypeCSI,
			annRunningCondition: "true", annRunningConditionMsg: "", annRunningConditionReason: ReasonPopulatorRunning,
		}); err != nil {
			return err
		}
		return s.reconcile(ctx, ns, name, tr, cdiv1.CSICloneInProgress, &dvEvent{
			corev1.EventTypeNormal, reasonCSICloneInProgress, fmt.Sprintf(messageCSICloneInProgress, srcNS, srcName),
		})
	}

	// A host-assisted clone: scheduled first, then in progress once the
	// populator has chosen its strategy.
	if err := s.reconcile(ctx, ns, name, tr, cdiv1.CloneScheduled, &dvEvent{
		corev1.EventTypeNormal, reasonCloneScheduled, fmt.Sprintf(messageCloneScheduled, srcNS, srcName, ns, name),
	}); err != nil {
		return err
	}
	if err := s.event(ctx, ns, "PersistentVolumeClaim", name, componentClonePopulator, corev1.EventTypeWarning, reasonIncompatibleModes, messageIncompatibleModes); err != nil {
		return err
	}
	if err := s.markUsePopulator(ctx, ns, name, true, cloneTypeCopy); err != nil {
		return err
	}
	if err := s.annotateClaims(ctx, ns, tr, map[string]string{
		annCloneFallbackReason: messageIncompatibleModes, annClonePhase: clonePhaseHost, annCloneType: cloneTypeCopy,
		annRunningCondition: "false", annRunningConditionMsg: MessageClonePending, annRunningConditionReason: ReasonClonePending,
	}); err != nil {
		return err
	}
	return s.reconcile(ctx, ns, name, tr, cdiv1.CloneInProgress, &dvEvent{
		corev1.EventTypeNormal, reasonCloneInProgress, fmt.Sprintf(messageCloneInProgress, srcNS, srcName, ns, name),
	})
}

// createCloneSource creates the VolumeCloneSource the target claim's
// dataSourceRef names (clone-controller-base.go,
// reconcileVolumeCloneSourceCR).
func (s *Sim) createCloneSource(ctx context.Context, dv *cdiv1.DataVolume, srcName string) error {
	vcs := &cdiv1.VolumeCloneSource{
		ObjectMeta: metav1.ObjectMeta{
			Name: fmt.Sprintf(volumeCloneSourcePrefixFmt, dv.UID), Namespace: dv.Namespace,
			OwnerReferences: []metav1.OwnerReference{{
				APIVersion: cdiv1.SchemeGroupVersion.String(), Kind: "DataVolume",
				Name: dv.Name, UID: dv.UID, Controller: new(true), BlockOwnerDeletion: new(true),
			}},
		},
		Spec: cdiv1.VolumeCloneSourceSpec{Source: corev1.TypedLocalObjectReference{Kind: "PersistentVolumeClaim", Name: srcName}},
	}
	if ns := dv.Spec.Source.PVC.Namespace; ns != "" && ns != dv.Namespace {
		// A cross-namespace clone's source lives with the source claim.
		vcs.Namespace, vcs.OwnerReferences = ns, nil
	}
	_, err := s.cdi.CdiV1beta1().VolumeCloneSources(vcs.Namespace).Create(ctx, vcs, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("cdisim: create volume clone source for %s/%s: %w", dv.Namespace, dv.Name, err)
	}
	return nil
}

// SucceedClone ends the clone: the target claim bound to its volume, the
// populator's temporary claim gone, the DataVolume Succeeded with "100.0%",
// Bound=True, Ready=True and Normal CloneSucceeded (clone-controller-base.go,
// setEventForPhase). What Running shows then was not recorded; cdisim
// clears it to False with no reason.
func (s *Sim) SucceedClone(ctx context.Context, ns, name string) error {
	tr, err := s.track(ns, name)
	if err != nil {
		return err
	}
	if !tr.clone {
		return fmt.Errorf("cdisim: data volume %s/%s is not a clone: use Succeed", ns, name)
	}
	dv, err := s.cdi.CdiV1beta1().DataVolumes(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("cdisim: get data volume %s/%s: %w", ns, name, err)
	}
	srcNS, srcName := dv.Spec.Source.PVC.Namespace, dv.Spec.Source.PVC.Name
	if srcNS == "" {
		srcNS = ns
	}
	target, err := s.core.PersistentVolumeClaims(ns).Get(ctx, tr.target, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("cdisim: get claim %s/%s: %w", ns, tr.target, err)
	}
	if err := Bind(ctx, s.core, target, target.Spec.Resources.Requests[corev1.ResourceStorage]); err != nil {
		return fmt.Errorf("cdisim: %w", err)
	}
	anno := map[string]string{
		annRunningCondition: "false", annRunningConditionMsg: "", annRunningConditionReason: "",
	}
	if tr.populator {
		anno[annClonePhase] = clonePhaseSucceeded
		anno[annPopulatorProgress] = "100.0%"
		if err := s.deleteClaim(ctx, srcNS, "tmp-pvc-"+string(target.UID)); err != nil {
			return err
		}
	} else {
		anno[annPodPhase] = string(corev1.PodSucceeded)
		tr.progress = "100.0%"
	}
	if err := s.annotateClaims(ctx, ns, tr, anno); err != nil {
		return err
	}
	return s.reconcile(ctx, ns, name, tr, cdiv1.Succeeded, &dvEvent{
		corev1.EventTypeNormal, reasonCloneSucceeded, fmt.Sprintf(messageCloneSucceeded, srcNS, srcName, ns, name),
	})
}
