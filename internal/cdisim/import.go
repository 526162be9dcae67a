package cdisim

import (
	"context"
	"fmt"
	"maps"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	cdiv1 "kubevirt.io/containerized-data-importer-api/pkg/apis/core/v1beta1"
)

// Event reasons and messages of an import.
const (
	// pkg/controller/datavolume/import-controller.go: the DataVolume's
	// phase events.
	reasonImportScheduled   = "ImportScheduled"
	messageImportScheduled  = "Import into %s scheduled"
	reasonImportInProgress  = "ImportInProgress"
	messageImportInProgress = "Import into %s in progress"
	reasonImportSucceeded   = "ImportSucceeded"
	messageImportSucceeded  = "Successfully imported into PVC %s"
	// pkg/controller/import-controller.go: on the claim the importer
	// writes to.
	reasonErrImportFailed     = "ErrImportFailed"
	reasonImportSucceededPVC  = "ImportSucceeded"
	messageImportSucceededPVC = "Import Successful"
	// pkg/controller/populators/import-populator.go: on the target claim.
	reasonPopulatorSucceeded  = "importSucceeded"
	messagePopulatorSucceeded = "Successfully imported into %s"
	// pkg/controller/datavolume/controller-base.go: a lost claim.
	reasonErrClaimLost  = "ErrClaimLost"
	messageErrClaimLost = "PVC %s lost"
	// The PV controller (pkg/controller/volume/persistentvolume).
	reasonProvisioningFailed = "ProvisioningFailed"
	reasonClaimLostPV        = "ClaimLost"
	messageClaimLostPV       = "Bound claim has lost its PersistentVolume. Data on the volume is lost!"
	// The scheduler and the kubelet.
	reasonScheduled        = "Scheduled"
	reasonFailedScheduling = "FailedScheduling"
	reasonStarted          = "Started"
)

// Start does what CDI does when it first sees the DataVolume ns/name: it
// marks the DataVolume for its populators or not (annotation
// cdi.kubevirt.io/storage.usePopulator), creates the target claim, and,
// unless the claim waits for its first consumer, the claim the importer
// writes to and the importer pod: on the populator path the prime claim
// prime-<target UID> and pod importer-prime-<target UID>, on the older path
// pod importer-<name>. The DataVolume shows Bound=False/Pending and phase
// "" (populator path, recC.log 21:41:22 c-url), Pending (older path,
// recA.log 21:40:32 a-url), PendingPopulation (C, first consumer, recC.log
// 21:41:25 c-wffc) or WaitForFirstConsumer (AGate, recD.log 21:47:35
// l-wffc). A class that does not exist leaves the DataVolume Pending and
// only the PV controller says why (recC.log 21:41:25 c-nosc, CDI.md).
func (s *Sim) Start(ctx context.Context, ns, name string) error {
	dv, err := s.cdi.CdiV1beta1().DataVolumes(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("cdisim: get data volume %s/%s: %w", ns, name, err)
	}
	if dv.Spec.Source != nil && dv.Spec.Source.PVC != nil {
		return fmt.Errorf("cdisim: data volume %s/%s clones a claim: use StartClone", ns, name)
	}
	spec, sc, err := s.claimSpec(ctx, dv)
	if err != nil {
		return err
	}
	tr := &track{target: name, noClass: sc == nil && spec.StorageClassName != nil}
	if spec.StorageClassName != nil {
		tr.class = *spec.StorageClassName
	}
	tr.late = sc != nil && sc.VolumeBindingMode != nil && *sc.VolumeBindingMode == storagev1.VolumeBindingWaitForFirstConsumer
	immediate := dv.Annotations[annImmediateBinding] == "true"
	// controller-base.go, shouldUseCDIPopulator: the user's annotation, or a
	// class whose CSIDriver exists.
	tr.populator = s.setup.csiDriver() && sc != nil && sc.Provisioner == CSIDriver
	if v, ok := dv.Annotations[annUsePopulator]; ok {
		tr.populator, _ = strconv.ParseBool(v)
	}
	if err := s.markUsePopulator(ctx, ns, name, tr.populator, ""); err != nil {
		return err
	}

	pvc := targetClaim(dv, spec, tr.populator)
	phase := cdiv1.Pending
	createPod := true
	if tr.populator {
		apiGroup := "cdi.kubevirt.io"
		pvc.Spec.DataSourceRef = &corev1.TypedObjectReference{
			APIGroup: &apiGroup, Kind: cdiv1.VolumeImportSourceRef, Name: "volume-import-source-" + string(dv.UID),
		}
		if !s.setup.honorWFFC() {
			// common/util.go, AddImmediateBindingAnnotationIfWFFCDisabled.
			pvc.Annotations[annImmediateBinding] = ""
		}
		phase = cdiv1.PhaseUnset
		if tr.late && s.setup.honorWFFC() && !immediate {
			// controller-base.go, shouldBeMarkedPendingPopulation.
			phase, createPod, tr.waiting = cdiv1.PendingPopulation, false, true
		}
		if err := s.createImportSource(ctx, dv); err != nil {
			return err
		}
	} else {
		sourceAnnotations(dv, pvc.Annotations)
		switch {
		case tr.noClass && s.setup.honorWFFC():
			// With the gate CDI looks the class up to honour its binding
			// mode and stops there (recC.log 21:41:25 c-nosc: no pod).
			createPod = false
		case tr.late && s.setup.honorWFFC() && !immediate:
			// controller-base.go, shouldBeMarkedWaitForFirstConsumer.
			phase, createPod, tr.waiting = cdiv1.WaitForFirstConsumer, false, true
		}
	}
	if createPod {
		pvc.Annotations[annPodPhase] = string(corev1.PodPending)
		pvc.Annotations[annPodSchedulable] = "true"
		if !tr.populator {
			tr.pod = "importer-" + name
			pvc.Annotations["cdi.kubevirt.io/storage.import.importPodName"] = tr.pod
		}
	}
	created, err := s.createClaim(ctx, pvc)
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.dvs[key(ns, name)] = tr
	s.mu.Unlock()
	if tr.noClass {
		// The PV controller cannot provision for a class it cannot find.
		msg := fmt.Sprintf("storageclass.storage.k8s.io %q not found", tr.class)
		if err := s.event(ctx, ns, "PersistentVolumeClaim", name, componentPVController, corev1.EventTypeWarning, reasonProvisioningFailed, msg); err != nil {
			return err
		}
	}
	if createPod {
		if err := s.createImporter(ctx, dv, tr, created); err != nil {
			return err
		}
	}
	return s.reconcile(ctx, ns, name, tr, phase, nil)
}

// markUsePopulator writes CDI's decision on the DataVolume's metadata
// (controller-base.go, updateDataVolumeUseCDIPopulator), with the clone
// type on clones.
func (s *Sim) markUsePopulator(ctx context.Context, ns, name string, use bool, cloneType string) error {
	dvs := s.cdi.CdiV1beta1().DataVolumes(ns)
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		dv, err := dvs.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if dv.Annotations == nil {
			dv.Annotations = map[string]string{}
		}
		dv.Annotations[annUsePopulator] = strconv.FormatBool(use)
		if cloneType != "" {
			dv.Annotations[annCloneType] = cloneType
		}
		_, err = dvs.Update(ctx, dv, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		return fmt.Errorf("cdisim: annotate data volume %s/%s: %w", ns, name, err)
	}
	return nil
}

// createImportSource creates the VolumeImportSource the target claim's
// dataSourceRef names (import-controller.go, createVolumeImportSourceCR).
func (s *Sim) createImportSource(ctx context.Context, dv *cdiv1.DataVolume) error {
	src := cdiv1.ImportSourceType{Blank: &cdiv1.DataVolumeBlankImage{}}
	if dv.Spec.Source != nil && dv.Spec.Source.HTTP != nil {
		src = cdiv1.ImportSourceType{HTTP: dv.Spec.Source.HTTP.DeepCopy()}
	}
	vis := &cdiv1.VolumeImportSource{
		ObjectMeta: metav1.ObjectMeta{
			Name: "volume-import-source-" + string(dv.UID), Namespace: dv.Namespace,
			OwnerReferences: []metav1.OwnerReference{{
				APIVersion: cdiv1.SchemeGroupVersion.String(), Kind: "DataVolume",
				Name: dv.Name, UID: dv.UID, Controller: new(true), BlockOwnerDeletion: new(true),
			}},
		},
		Spec: cdiv1.VolumeImportSourceSpec{Source: &src, ContentType: cdiv1.DataVolumeKubeVirt},
	}
	_, err := s.cdi.CdiV1beta1().VolumeImportSources(dv.Namespace).Create(ctx, vis, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("cdisim: create volume import source for %s/%s: %w", dv.Namespace, dv.Name, err)
	}
	return nil
}

// createImporter creates, on the populator path, the prime claim (owned by
// the target claim) and its importer pod, on the older path the importer
// pod of the target claim (recC.log 21:41:22 prime-... and
// importer-prime-...; recA.log 21:40:32 importer-a-url).
func (s *Sim) createImporter(ctx context.Context, dv *cdiv1.DataVolume, tr *track, target *corev1.PersistentVolumeClaim) error {
	claim := target
	if tr.populator {
		tr.prime = "prime-" + string(target.UID)
		tr.pod = "importer-" + tr.prime
		labels := map[string]string{labelVeleroExclude: "true"}
		maps.Copy(labels, target.Labels)
		anno := map[string]string{
			annImmediateBinding:                            "",
			"cdi.kubevirt.io/storage.contentType":          "kubevirt",
			"cdi.kubevirt.io/storage.import.importPodName": tr.pod,
			annPodPhase:                              string(corev1.PodPending),
			annPodSchedulable:                        "true",
			"cdi.kubevirt.io/storage.populator.kind": cdiv1.VolumeImportSourceRef,
			"cdi.kubevirt.io/storage.preallocation.requested": "false",
			"linkerd.io/inject":       "disabled",
			"sidecar.istio.io/inject": "false",
		}
		sourceAnnotations(dv, anno)
		if n := target.Annotations[annSelectedNode]; n != "" {
			anno[annSelectedNode] = n
		}
		spec := *target.Spec.DeepCopy()
		spec.DataSourceRef, spec.DataSource = nil, nil
		prime := &corev1.PersistentVolumeClaim{
			ObjectMeta: metav1.ObjectMeta{
				Name: tr.prime, Namespace: target.Namespace, Labels: labels, Annotations: anno,
				OwnerReferences: []metav1.OwnerReference{{
					APIVersion: "v1", Kind: "PersistentVolumeClaim", Name: target.Name, UID: target.UID,
					Controller: new(true), BlockOwnerDeletion: new(true),
				}},
			},
			Spec: spec,
		}
		var err error
		if claim, err = s.createClaim(ctx, prime); err != nil {
			return err
		}
	}
	tr.writeClaim = claim.Name
	return s.createPod(ctx, importerPod(tr.pod, claim))
}

// Schedule has the provisioner bind the claim the importer writes to (the
// prime claim on the populator path, the target claim on the older path)
// and the scheduler place the importer pod. A claim waiting for its first
// consumer gets one first: the claim is marked with the node it was
// scheduled to and CDI creates the importer then. The DataVolume goes
// ImportScheduled, with Bound=True/Bound on the older path (recA.log
// 21:43:03 a-blank) and still Bound=False/Pending on the populator path
// (recC.log 21:43:23 c-blank).
func (s *Sim) Schedule(ctx context.Context, ns, name string) error {
	tr, err := s.track(ns, name)
	if err != nil {
		return err
	}
	if tr.noClass {
		return fmt.Errorf("cdisim: schedule %s/%s: storage class %q does not exist, no provisioner can bind the claim", ns, name, tr.class)
	}
	if tr.node != "" && tr.phase != cdiv1.PhaseUnset && tr.phase != cdiv1.Pending {
		// Already placed and past scheduling: nothing moves back.
		return nil
	}
	if tr.waiting || tr.late {
		if err := s.updateClaim(ctx, ns, tr.target, func(pvc *corev1.PersistentVolumeClaim) {
			pvc.Annotations[annSelectedNode] = defaultNode
		}); err != nil {
			return err
		}
	}
	if tr.waiting {
		tr.waiting = false
		dv, err := s.cdi.CdiV1beta1().DataVolumes(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return fmt.Errorf("cdisim: get data volume %s/%s: %w", ns, name, err)
		}
		target, err := s.core.PersistentVolumeClaims(ns).Get(ctx, tr.target, metav1.GetOptions{})
		if err != nil {
			return fmt.Errorf("cdisim: get claim %s/%s: %w", ns, tr.target, err)
		}
		anno := map[string]string{annPodPhase: string(corev1.PodPending), annPodSchedulable: "true"}
		if !tr.populator {
			tr.pod = "importer-" + name
			anno["cdi.kubevirt.io/storage.import.importPodName"] = tr.pod
		}
		if err := s.updateClaim(ctx, ns, tr.target, func(pvc *corev1.PersistentVolumeClaim) { maps.Copy(pvc.Annotations, anno) }); err != nil {
			return err
		}
		if err := s.createImporter(ctx, dv, tr, target); err != nil {
			return err
		}
	}
	claim, err := s.core.PersistentVolumeClaims(ns).Get(ctx, tr.writeClaim, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("cdisim: get claim %s/%s: %w", ns, tr.writeClaim, err)
	}
	if claim.Status.Phase != corev1.ClaimBound {
		if err := Bind(ctx, s.core, claim, claim.Spec.Resources.Requests[corev1.ResourceStorage]); err != nil {
			return fmt.Errorf("cdisim: %w", err)
		}
	}
	if err := s.schedulePod(ctx, ns, tr); err != nil {
		return err
	}
	if err := s.annotateClaims(ctx, ns, tr, map[string]string{annPodSchedulable: "true"}); err != nil {
		return err
	}
	return s.reconcile(ctx, ns, name, tr, cdiv1.ImportScheduled, &dvEvent{
		corev1.EventTypeNormal, reasonImportScheduled, fmt.Sprintf(messageImportScheduled, tr.target),
	})
}

// schedulePod binds the importer pod to the node as the scheduler does and
// reports it.
func (s *Sim) schedulePod(ctx context.Context, ns string, tr *track) error {
	if tr.node != "" {
		return nil
	}
	binding := &corev1.Binding{
		ObjectMeta: metav1.ObjectMeta{Name: tr.pod, Namespace: ns},
		Target:     corev1.ObjectReference{Kind: "Node", Name: defaultNode},
	}
	if err := s.core.Pods(ns).Bind(ctx, binding, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("cdisim: bind pod %s/%s to %s: %w", ns, tr.pod, defaultNode, err)
	}
	tr.node = defaultNode
	now := metav1.NewTime(s.now())
	if err := s.podStatus(ctx, ns, tr.pod, func(pod *corev1.Pod) {
		setPodCondition(pod, now, corev1.PodScheduled, corev1.ConditionTrue, "", "")
	}); err != nil {
		return err
	}
	return s.event(ctx, ns, "Pod", tr.pod, componentScheduler, corev1.EventTypeNormal, reasonScheduled,
		fmt.Sprintf("Successfully assigned %s/%s to %s", ns, tr.pod, defaultNode))
}

// Run has the kubelet start the importer container (scheduling it first if
// Schedule was not called): the pod Running, and CDI reporting
// ImportInProgress with Running=True/"Pod is running" and
// Ready=False/TransferRunning, progress "N/A" until the importer reports
// (recC.log 21:43:57 c-url).
func (s *Sim) Run(ctx context.Context, ns, name string) error {
	tr, err := s.track(ns, name)
	if err != nil {
		return err
	}
	if tr.node == "" {
		if err := s.Schedule(ctx, ns, name); err != nil {
			return err
		}
	}
	now := metav1.NewTime(s.now())
	err = s.podStatus(ctx, ns, tr.pod, func(pod *corev1.Pod) {
		pod.Status.Phase = corev1.PodRunning
		if pod.Status.StartTime == nil {
			pod.Status.StartTime = &now
		}
		for _, t := range []corev1.PodConditionType{corev1.PodInitialized, corev1.PodReady, corev1.ContainersReady, corev1.PodScheduled} {
			setPodCondition(pod, now, t, corev1.ConditionTrue, "", "")
		}
		st := container(pod)
		st.Ready, st.Started = true, new(true)
		st.State = corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: now}}
	})
	if err != nil {
		return err
	}
	if err := s.event(ctx, ns, "Pod", tr.pod, componentKubelet, corev1.EventTypeNormal, reasonStarted, "Started container importer"); err != nil {
		return err
	}
	if err := s.annotateClaims(ctx, ns, tr, map[string]string{
		annPodPhase:               string(corev1.PodRunning),
		annPodRestarts:            strconv.Itoa(tr.restarts),
		annRunningCondition:       "true",
		annRunningConditionMsg:    "",
		annRunningConditionReason: ReasonPodRunning,
	}); err != nil {
		return err
	}
	return s.reconcile(ctx, ns, name, tr, cdiv1.ImportInProgress, &dvEvent{
		corev1.EventTypeNormal, reasonImportInProgress, fmt.Sprintf(messageImportInProgress, tr.target),
	})
}

// container returns the importer's container status, adding it.
func container(pod *corev1.Pod) *corev1.ContainerStatus {
	if len(pod.Status.ContainerStatuses) == 0 {
		pod.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "importer", Image: importerImage, ImageID: importerImage}}
	}
	return &pod.Status.ContainerStatuses[0]
}

// Progress reports what the importer's metrics say, as CDI writes it
// ("%.2f%%", controller-base.go updateProgressUsingPod and
// import-populator.go updateImportProgress; the populator holds back
// anything starting with 100 until the pod succeeds). On the populator path
// it goes through the target claim's progress annotation. The importer is
// started first if Run was not called.
func (s *Sim) Progress(ctx context.Context, ns, name string, percent float64) error {
	tr, err := s.track(ns, name)
	if err != nil {
		return err
	}
	if tr.phase != cdiv1.ImportInProgress {
		if err := s.Run(ctx, ns, name); err != nil {
			return err
		}
	}
	p := fmt.Sprintf("%.2f%%", percent)
	if tr.populator {
		if strings.HasPrefix(p, "100") {
			return nil
		}
		if err := s.updateClaim(ctx, ns, tr.target, func(pvc *corev1.PersistentVolumeClaim) {
			pvc.Annotations[annPopulatorProgress] = p
		}); err != nil {
			return err
		}
	} else {
		tr.progress = p
	}
	return s.reconcile(ctx, ns, name, tr, cdiv1.ImportInProgress, nil)
}

// Succeed has the importer exit 0 ("Import Complete"), CDI's claim
// controller report it (Normal ImportSucceeded "Import Successful" on the
// claim it wrote to) and delete the pod, and the DataVolume go Succeeded,
// "100.0%", Ready=True, Running=False/Completed/"Import Complete" (recC.log
// 21:44:25 c-blank) with its Normal ImportSucceeded event. On the populator
// path the DataVolume is marked Succeeded while the target claim is still
// Pending, so Bound stays False/Pending as recorded; then the populator
// rebinds the prime claim's volume to the target claim, reports
// importSucceeded on it, and the prime claim goes.
func (s *Sim) Succeed(ctx context.Context, ns, name string) error {
	tr, err := s.track(ns, name)
	if err != nil {
		return err
	}
	if tr.phase != cdiv1.ImportInProgress {
		if err := s.Run(ctx, ns, name); err != nil {
			return err
		}
	}
	now := metav1.NewTime(s.now())
	err = s.podStatus(ctx, ns, tr.pod, func(pod *corev1.Pod) {
		pod.Status.Phase = corev1.PodSucceeded
		setPodCondition(pod, now, corev1.PodReady, corev1.ConditionFalse, "PodCompleted", "")
		setPodCondition(pod, now, corev1.ContainersReady, corev1.ConditionFalse, "PodCompleted", "")
		st := container(pod)
		st.Ready = false
		st.State = corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
			ExitCode: 0, Reason: ReasonCompleted, Message: MessageImportComplete, FinishedAt: now,
		}}
	})
	if err != nil {
		return err
	}
	anno := map[string]string{
		annPodPhase:               string(corev1.PodSucceeded),
		annRunningCondition:       "false",
		annRunningConditionMsg:    MessageImportComplete,
		annRunningConditionReason: ReasonCompleted,
	}
	if tr.populator {
		anno[annPopulatorProgress] = "100.0%"
	}
	if err := s.annotateClaims(ctx, ns, tr, anno); err != nil {
		return err
	}
	if err := s.event(ctx, ns, "PersistentVolumeClaim", tr.writeClaim, componentImport, corev1.EventTypeNormal, reasonImportSucceededPVC, messageImportSucceededPVC); err != nil {
		return err
	}
	if err := s.deletePod(ctx, ns, tr.pod); err != nil {
		return err
	}
	err = s.reconcile(ctx, ns, name, tr, cdiv1.Succeeded, &dvEvent{
		corev1.EventTypeNormal, reasonImportSucceeded, fmt.Sprintf(messageImportSucceeded, tr.target),
	})
	if err != nil || !tr.populator {
		return err
	}
	if err := s.rebind(ctx, ns, tr.prime, tr.target); err != nil {
		return err
	}
	if err := s.event(ctx, ns, "PersistentVolumeClaim", tr.target, componentImportPopulator, corev1.EventTypeNormal,
		reasonPopulatorSucceeded, fmt.Sprintf(messagePopulatorSucceeded, tr.target)); err != nil {
		return err
	}
	if err := s.deleteClaim(ctx, ns, tr.prime); err != nil {
		return err
	}
	tr.prime = ""
	return nil
}

// rebind moves the prime claim's volume to the target claim, as CDI's
// populators do once population is done (common/util.go, Rebind), and has
// the PV controller bind the target claim to it.
func (s *Sim) rebind(ctx context.Context, ns, prime, target string) error {
	from, err := s.core.PersistentVolumeClaims(ns).Get(ctx, prime, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("cdisim: get claim %s/%s: %w", ns, prime, err)
	}
	to, err := s.core.PersistentVolumeClaims(ns).Get(ctx, target, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("cdisim: get claim %s/%s: %w", ns, target, err)
	}
	volumes := s.core.PersistentVolumes()
	var pv *corev1.PersistentVolume
	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		v, err := volumes.Get(ctx, from.Spec.VolumeName, metav1.GetOptions{})
		if err != nil {
			return err
		}
		v.Spec.ClaimRef = &corev1.ObjectReference{
			Kind: "PersistentVolumeClaim", APIVersion: "v1", Namespace: ns, Name: to.Name, UID: to.UID,
		}
		pv, err = volumes.Update(ctx, v, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		return fmt.Errorf("cdisim: rebind volume of %s/%s to %s: %w", ns, prime, target, err)
	}
	if err := bindClaim(ctx, s.core, ns, target, pv); err != nil {
		return fmt.Errorf("cdisim: bind claim %s/%s: %w", ns, target, err)
	}
	return nil
}

// Crash has the importer container exit non-zero with message as its
// termination message and the kubelet restart it: the pod's restartCount
// goes up with lastState terminated. CDI then writes twice (recC.log
// 21:44:10 and 21:44:36 c-url): restartCount+1 with Running=False and the
// stale reason "Pod is running", then Running=False/Error/message; the
// phase stays ImportInProgress. Events: Warning Error with the message on
// the DataVolume (controller-base.go, emitFailureConditionEvent), Warning
// ErrImportFailed on the claim the importer writes to
// (import-controller.go), both counting up over repeated calls.
func (s *Sim) Crash(ctx context.Context, ns, name, message string) error {
	tr, err := s.track(ns, name)
	if err != nil {
		return err
	}
	if tr.phase != cdiv1.ImportInProgress {
		if err := s.Run(ctx, ns, name); err != nil {
			return err
		}
	}
	tr.restarts++
	now := metav1.NewTime(s.now())
	err = s.podStatus(ctx, ns, tr.pod, func(pod *corev1.Pod) {
		setPodCondition(pod, now, corev1.PodReady, corev1.ConditionFalse, "ContainersNotReady", "containers with unready status: [importer]")
		setPodCondition(pod, now, corev1.ContainersReady, corev1.ConditionFalse, "ContainersNotReady", "containers with unready status: [importer]")
		st := container(pod)
		term := &corev1.ContainerStateTerminated{ExitCode: 1, Reason: ReasonError, Message: message, FinishedAt: now}
		st.Ready = false
		st.RestartCount = int32(tr.restarts)
		st.LastTerminationState = corev1.ContainerState{Terminated: term}
		st.State = corev1.ContainerState{Terminated: term.DeepCopy()}
	})
	if err != nil {
		return err
	}
	// First the restart count with Running flipped false, the reason not
	// yet updated.
	if err := s.annotateClaims(ctx, ns, tr, map[string]string{
		annPodRestarts:            strconv.Itoa(tr.restarts),
		annRunningCondition:       "false",
		annRunningConditionMsg:    "",
		annRunningConditionReason: ReasonPodRunning,
	}); err != nil {
		return err
	}
	if err := s.reconcile(ctx, ns, name, tr, cdiv1.ImportInProgress, nil); err != nil {
		return err
	}
	if err := s.event(ctx, ns, "PersistentVolumeClaim", tr.writeClaim, componentImport, corev1.EventTypeWarning, reasonErrImportFailed, message); err != nil {
		return err
	}
	if err := s.annotateClaims(ctx, ns, tr, map[string]string{
		annRunningConditionMsg:    message,
		annRunningConditionReason: ReasonError,
	}); err != nil {
		return err
	}
	return s.reconcile(ctx, ns, name, tr, cdiv1.ImportInProgress, nil)
}

// Unschedulable has the scheduler fail to place the importer pod:
// PodScheduled=False/Unschedulable with schedulerMessage and its Warning
// FailedScheduling event on the pod, counting up; CDI marks the claims
// unschedulable and the DataVolume Running=False/Unschedulable/"Importer pod
// cannot be scheduled" (conditions.go; recD.log 21:47:38 c-block, 21:51:00
// k-blank), its phase unchanged.
func (s *Sim) Unschedulable(ctx context.Context, ns, name, schedulerMessage string) error {
	tr, err := s.track(ns, name)
	if err != nil {
		return err
	}
	if tr.pod == "" {
		return fmt.Errorf("cdisim: data volume %s/%s has no importer pod to schedule", ns, name)
	}
	now := metav1.NewTime(s.now())
	if err := s.podStatus(ctx, ns, tr.pod, func(pod *corev1.Pod) {
		setPodCondition(pod, now, corev1.PodScheduled, corev1.ConditionFalse, corev1.PodReasonUnschedulable, schedulerMessage)
	}); err != nil {
		return err
	}
	if err := s.event(ctx, ns, "Pod", tr.pod, componentScheduler, corev1.EventTypeWarning, reasonFailedScheduling, schedulerMessage); err != nil {
		return err
	}
	if !tr.populator {
		// On the older path CDI's import controller leaves a claim alone
		// until it is bound, so it never sees the pod unschedulable
		// (recE.log 21:47:35 a-sc: pod Unschedulable, Running=False//).
		pvc, err := s.core.PersistentVolumeClaims(ns).Get(ctx, tr.writeClaim, metav1.GetOptions{})
		if err != nil {
			return fmt.Errorf("cdisim: get claim %s/%s: %w", ns, tr.writeClaim, err)
		}
		if pvc.Status.Phase != corev1.ClaimBound {
			return nil
		}
	}
	if err := s.annotateClaims(ctx, ns, tr, map[string]string{annPodSchedulable: "false"}); err != nil {
		return err
	}
	return s.reconcile(ctx, ns, name, tr, tr.phase, nil)
}

// LoseClaim has the target claim lose its volume (phase Lost, with the PV
// controller's Warning ClaimLost) and CDI fail the DataVolume: phase Failed,
// Bound=False/ClaimLost/"Claim Lost", Warning ErrClaimLost "PVC <name>
// lost" (controller-base.go updateStatus, conditions.go).
func (s *Sim) LoseClaim(ctx context.Context, ns, name string) error {
	tr, err := s.track(ns, name)
	if err != nil {
		return err
	}
	claims := s.core.PersistentVolumeClaims(ns)
	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		pvc, err := claims.Get(ctx, tr.target, metav1.GetOptions{})
		if err != nil {
			return err
		}
		pvc.Status.Phase = corev1.ClaimLost
		_, err = claims.UpdateStatus(ctx, pvc, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		return fmt.Errorf("cdisim: mark claim %s/%s lost: %w", ns, tr.target, err)
	}
	if err := s.event(ctx, ns, "PersistentVolumeClaim", tr.target, componentPVController, corev1.EventTypeWarning, reasonClaimLostPV, messageClaimLostPV); err != nil {
		return err
	}
	return s.reconcile(ctx, ns, name, tr, cdiv1.Failed, &dvEvent{
		corev1.EventTypeWarning, reasonErrClaimLost, fmt.Sprintf(messageErrClaimLost, tr.target),
	})
}
