// Package cdisim is a stand-in for CDI's DataVolume controller, for tests and
// the sandbox demo only; it is never part of the plugin binary. No CDI runs
// next to the test API server, so this package does from the outside what
// CDI's controller does from the inside, through the same API: it creates a
// DataVolume's claim (named after it, owned by it) and binds it, moves
// status.phase through Pending, ImportScheduled, ImportInProgress and
// Succeeded or Failed, writes status.progress as "%.2f%%" or "N/A", keeps the
// Bound, Running and Ready conditions with CDI's reasons, counts
// status.restartCount, and emits the events CDI, the PV controller and the
// kubelet would. Every DataVolume write goes through the status subresource.
package cdisim

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/retry"
	cdiclient "kubevirt.io/client-go/containerizeddataimporter"
	cdiv1 "kubevirt.io/containerized-data-importer-api/pkg/apis/core/v1beta1"
)

// What the simulated storage looks like: ceph-csi's RBD driver, as in the
// clusters the plugin targets.
const (
	CSIDriver = "rbd.csi.ceph.com"
	ClusterID = "otterscale-testenv"
	Pool      = "rbd"
)

// Condition reasons CDI writes, as far as the tests and the demo need them.
const (
	ReasonBound                = "Bound"
	ReasonPending              = "Pending"
	ReasonWaitForFirstConsumer = "WaitForFirstConsumer"
	ReasonPendingPopulation    = "PendingPopulation"
	ReasonTransferRunning      = "TransferRunning"
	ReasonCompleted            = "Completed"
	ReasonImportFailed         = "ImportFailed"
	ReasonCrashLoopBackOff     = "CrashLoopBackOff"
	ReasonBackOff              = "BackOff"
)

// Sim plays CDI's part for DataVolumes in any namespace. It is safe for
// concurrent use.
type Sim struct {
	core corev1client.CoreV1Interface
	cdi  cdiclient.Interface

	mu sync.Mutex
	// events maps what makes two events the same (object, type, reason,
	// message) to the name of the event recorded for it, so that a repeat
	// counts up as client-go's event recorder does instead of adding one.
	events map[string]string
}

// New returns a Sim acting through the API server cfg points at.
func New(cfg *rest.Config) (*Sim, error) {
	cfg = rest.CopyConfig(cfg)
	if cfg.QPS == 0 {
		cfg.QPS, cfg.Burst = 100, 200
	}
	core, err := corev1client.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("cdisim: %w", err)
	}
	cdi, err := cdiclient.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("cdisim: %w", err)
	}
	return &Sim{core: core, cdi: cdi, events: map[string]string{}}, nil
}

// CreateClaim creates the DataVolume's claim as CDI does: named after the
// DataVolume, owned by it, with its size, access modes and volume mode, in
// storageClass (or the DataVolume's class, or the cluster default when both
// are empty). It records the claim in status.claimName with the Bound
// condition False (Pending) and, with bind, then binds it (BindClaim).
func (s *Sim) CreateClaim(ctx context.Context, ns, name, storageClass string, bind bool) error {
	dv, err := s.cdi.CdiV1beta1().DataVolumes(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("cdisim: create claim for data volume %s/%s: %w", ns, name, err)
	}
	size := resource.MustParse("1Gi")
	modes := []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce}
	var volumeMode *corev1.PersistentVolumeMode
	var class *string
	if st := dv.Spec.Storage; st != nil {
		if q, ok := st.Resources.Requests[corev1.ResourceStorage]; ok {
			size = q
		}
		if len(st.AccessModes) > 0 {
			modes = st.AccessModes
		}
		volumeMode, class = st.VolumeMode, st.StorageClassName
	} else if p := dv.Spec.PVC; p != nil {
		if q, ok := p.Resources.Requests[corev1.ResourceStorage]; ok {
			size = q
		}
		if len(p.AccessModes) > 0 {
			modes = p.AccessModes
		}
		volumeMode, class = p.VolumeMode, p.StorageClassName
	}
	if storageClass != "" {
		class = &storageClass
	}
	pvc := &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{
			Name:      name,
			Namespace: ns,
			Labels:    map[string]string{"app": "containerized-data-importer", "app.kubernetes.io/component": "storage"},
			Annotations: map[string]string{
				"cdi.kubevirt.io/storage.contentType": "kubevirt",
				"cdi.kubevirt.io/storage.pod.phase":   "Pending",
			},
			OwnerReferences: []metav1.OwnerReference{{
				APIVersion:         cdiv1.SchemeGroupVersion.String(),
				Kind:               "DataVolume",
				Name:               dv.Name,
				UID:                dv.UID,
				Controller:         new(true),
				BlockOwnerDeletion: new(true),
			}},
		},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes:      modes,
			VolumeMode:       volumeMode,
			StorageClassName: class,
			Resources: corev1.VolumeResourceRequirements{
				Requests: corev1.ResourceList{corev1.ResourceStorage: size},
			},
		},
	}
	if _, err := s.core.PersistentVolumeClaims(ns).Create(ctx, pvc, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("cdisim: create claim %s/%s: %w", ns, name, err)
	}
	err = s.update(ctx, ns, name, func(dv *cdiv1.DataVolume) {
		dv.Status.ClaimName = name
		if dv.Status.Phase == "" {
			dv.Status.Phase = cdiv1.Pending
		}
		if dv.Status.Progress == "" {
			dv.Status.Progress = "N/A"
		}
		setCondition(dv, cdiv1.DataVolumeBound, corev1.ConditionFalse, ReasonPending, fmt.Sprintf("PVC %s Pending", name))
	})
	if err != nil || !bind {
		return err
	}
	return s.BindClaim(ctx, ns, name)
}

// BindClaim binds the DataVolume's claim the way the external provisioner
// and the PV controller would (a ceph-csi PersistentVolume pre-bound to the
// claim, both marked Bound through their status subresources), then sets the
// DataVolume's Bound condition True as CDI does when it sees that.
func (s *Sim) BindClaim(ctx context.Context, ns, name string) error {
	pvc, err := s.core.PersistentVolumeClaims(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("cdisim: bind claim %s/%s: %w", ns, name, err)
	}
	if err := Bind(ctx, s.core, pvc, pvc.Spec.Resources.Requests[corev1.ResourceStorage]); err != nil {
		return fmt.Errorf("cdisim: %w", err)
	}
	return s.update(ctx, ns, name, func(dv *cdiv1.DataVolume) {
		setCondition(dv, cdiv1.DataVolumeBound, corev1.ConditionTrue, ReasonBound, fmt.Sprintf("PVC %s Bound", name))
	})
}

// Bind binds pvc the way the external provisioner and the PV controller
// would: it creates a ceph-csi PersistentVolume of capacity pre-bound to the
// claim, sets the claim's spec.volumeName and the annotations those
// controllers leave, and marks both Bound through their status
// subresources. Binding again finds the volume already there.
func Bind(ctx context.Context, core corev1client.CoreV1Interface, pvc *corev1.PersistentVolumeClaim, capacity resource.Quantity) error {
	ns, name := pvc.Namespace, pvc.Name
	pv, err := createVolume(ctx, core, pvc, capacity)
	if err != nil {
		return fmt.Errorf("bind claim %s/%s: %w", ns, name, err)
	}
	claims := core.PersistentVolumeClaims(ns)
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
		return fmt.Errorf("bind claim %s/%s: %w", ns, name, err)
	}
	return nil
}

// createVolume creates (or finds, when binding again) the claim's volume and
// marks it Bound. The names and attributes follow ceph-csi's, so code mapping
// a volume to its RBD image can be tested against it.
func createVolume(ctx context.Context, core corev1client.CoreV1Interface, pvc *corev1.PersistentVolumeClaim, capacity resource.Quantity) (*corev1.PersistentVolume, error) {
	volumes := core.PersistentVolumes()
	uid := string(pvc.UID)
	accessModes := pvc.Spec.AccessModes
	if len(accessModes) == 0 {
		accessModes = []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce}
	}
	csi := &corev1.CSIPersistentVolumeSource{
		Driver: CSIDriver,
		// ceph-csi's volume ID: version, cluster ID length and cluster ID,
		// pool ID, image UUID.
		VolumeHandle: fmt.Sprintf("0001-%04x-%s-%016x-%s", len(ClusterID), ClusterID, 1, uid),
		VolumeAttributes: map[string]string{
			"clusterID": ClusterID, "pool": Pool, "imageName": "csi-vol-" + uid, "imageFeatures": "layering",
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
				Kind: "PersistentVolumeClaim", APIVersion: "v1",
				Namespace: pvc.Namespace, Name: pvc.Name, UID: pvc.UID,
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

// SetPhase sets status.phase and status.progress (e.g. ImportScheduled,
// "N/A") and leaves the conditions as they are, adding any of Bound, Running
// and Ready that is missing (CDI always reports all three).
func (s *Sim) SetPhase(ctx context.Context, ns, name string, phase cdiv1.DataVolumePhase, progress string) error {
	return s.update(ctx, ns, name, func(dv *cdiv1.DataVolume) {
		dv.Status.Phase = phase
		dv.Status.Progress = cdiv1.DataVolumeProgress(progress)
	})
}

// Progress reports a running import at percent: phase ImportInProgress,
// progress "%.2f%%", Running True and Ready False, both TransferRunning.
func (s *Sim) Progress(ctx context.Context, ns, name string, percent float64) error {
	return s.update(ctx, ns, name, func(dv *cdiv1.DataVolume) {
		dv.Status.Phase = cdiv1.ImportInProgress
		dv.Status.Progress = cdiv1.DataVolumeProgress(fmt.Sprintf("%.2f%%", percent))
		setCondition(dv, cdiv1.DataVolumeRunning, corev1.ConditionTrue, ReasonTransferRunning, "")
		setCondition(dv, cdiv1.DataVolumeReady, corev1.ConditionFalse, ReasonTransferRunning, "")
	})
}

// Succeed ends the import: phase Succeeded, progress "100.0%", Running
// False (Completed) and Ready True.
func (s *Sim) Succeed(ctx context.Context, ns, name string) error {
	return s.update(ctx, ns, name, func(dv *cdiv1.DataVolume) {
		dv.Status.Phase = cdiv1.Succeeded
		dv.Status.Progress = "100.0%"
		setCondition(dv, cdiv1.DataVolumeRunning, corev1.ConditionFalse, ReasonCompleted, "Import Complete")
		setCondition(dv, cdiv1.DataVolumeReady, corev1.ConditionTrue, "", "")
	})
}

// Fail ends the import in failure: phase Failed, Running and Ready False
// with reason and message (reason defaults to ImportFailed), and a Warning
// event with them on the DataVolume.
func (s *Sim) Fail(ctx context.Context, ns, name, reason, message string) error {
	if reason == "" {
		reason = ReasonImportFailed
	}
	err := s.update(ctx, ns, name, func(dv *cdiv1.DataVolume) {
		dv.Status.Phase = cdiv1.Failed
		setCondition(dv, cdiv1.DataVolumeRunning, corev1.ConditionFalse, reason, message)
		setCondition(dv, cdiv1.DataVolumeReady, corev1.ConditionFalse, reason, message)
	})
	if err != nil {
		return err
	}
	return s.Event(ctx, ns, "DataVolume", name, corev1.EventTypeWarning, reason, message)
}

// Restart reports that the importer pod's container restarted: it counts up
// status.restartCount, sets Running False (CrashLoopBackOff), and has the
// kubelet's Warning BackOff event on pod importer-NAME counted up.
func (s *Sim) Restart(ctx context.Context, ns, name string) error {
	msg := "back-off restarting failed container importer in pod importer-" + name
	err := s.update(ctx, ns, name, func(dv *cdiv1.DataVolume) {
		dv.Status.RestartCount++
		setCondition(dv, cdiv1.DataVolumeRunning, corev1.ConditionFalse, ReasonCrashLoopBackOff, msg)
	})
	if err != nil {
		return err
	}
	return s.Event(ctx, ns, "Pod", "importer-"+name, corev1.EventTypeWarning, ReasonBackOff,
		"Back-off restarting failed container importer in pod importer-"+name+"_"+ns)
}

// WaitForFirstConsumer reports a claim whose class binds late: phase
// WaitForFirstConsumer, progress "N/A", Bound False (WaitForFirstConsumer).
func (s *Sim) WaitForFirstConsumer(ctx context.Context, ns, name string) error {
	return s.update(ctx, ns, name, func(dv *cdiv1.DataVolume) {
		dv.Status.Phase = cdiv1.WaitForFirstConsumer
		dv.Status.Progress = "N/A"
		setCondition(dv, cdiv1.DataVolumeBound, corev1.ConditionFalse, ReasonWaitForFirstConsumer,
			fmt.Sprintf("PVC %s not bound: waiting for first consumer", claimName(dv)))
	})
}

// PendingPopulation reports a populator-backed claim that waits for a
// consumer: phase PendingPopulation, progress "N/A", Bound False
// (PendingPopulation).
func (s *Sim) PendingPopulation(ctx context.Context, ns, name string) error {
	return s.update(ctx, ns, name, func(dv *cdiv1.DataVolume) {
		dv.Status.Phase = cdiv1.PendingPopulation
		dv.Status.Progress = "N/A"
		setCondition(dv, cdiv1.DataVolumeBound, corev1.ConditionFalse, ReasonPendingPopulation,
			fmt.Sprintf("PVC %s Pending: waiting for a consumer to populate it", claimName(dv)))
	})
}

// Event records a core/v1 Event about the object kind/objName in ns
// ("DataVolume", "PersistentVolumeClaim" or "Pod"), as the component that
// reports such events would: CDI for DataVolumes, the PV controller for
// claims, the kubelet for pods. The same event again counts up (count and
// lastTimestamp) instead of adding another, as client-go's recorder does.
func (s *Sim) Event(ctx context.Context, ns, kind, objName, eventType, reason, message string) error {
	ref := corev1.ObjectReference{Kind: kind, Namespace: ns, Name: objName}
	component := "cdisim"
	switch kind {
	case "DataVolume":
		ref.APIVersion = cdiv1.SchemeGroupVersion.String()
		component = "datavolume-import-controller"
		if dv, err := s.cdi.CdiV1beta1().DataVolumes(ns).Get(ctx, objName, metav1.GetOptions{}); err == nil {
			ref.UID, ref.ResourceVersion = dv.UID, dv.ResourceVersion
		}
	case "PersistentVolumeClaim":
		ref.APIVersion = "v1"
		component = "persistentvolume-controller"
		if pvc, err := s.core.PersistentVolumeClaims(ns).Get(ctx, objName, metav1.GetOptions{}); err == nil {
			ref.UID, ref.ResourceVersion = pvc.UID, pvc.ResourceVersion
		}
	case "Pod":
		ref.APIVersion = "v1"
		ref.FieldPath = "spec.containers{importer}"
		component = "kubelet"
	}
	events := s.core.Events(ns)
	key := fmt.Sprintf("%s/%s/%s/%s/%s/%s", ns, kind, objName, eventType, reason, message)
	now := metav1.NewTime(time.Now())

	s.mu.Lock()
	defer s.mu.Unlock()
	if evName, ok := s.events[key]; ok {
		err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
			ev, err := events.Get(ctx, evName, metav1.GetOptions{})
			if err != nil {
				return err
			}
			ev.Count++
			ev.LastTimestamp = now
			_, err = events.Update(ctx, ev, metav1.UpdateOptions{})
			return err
		})
		if err == nil {
			return nil
		}
		if !apierrors.IsNotFound(err) {
			return fmt.Errorf("cdisim: count up event %s/%s: %w", ns, evName, err)
		}
	}
	ev := &corev1.Event{
		// client-go's recorder names events object.timestamp-in-hex.
		ObjectMeta:          metav1.ObjectMeta{Name: fmt.Sprintf("%s.%x%s", objName, now.UnixNano(), randomHex(2)), Namespace: ns},
		InvolvedObject:      ref,
		Type:                eventType,
		Reason:              reason,
		Message:             message,
		Source:              corev1.EventSource{Component: component},
		ReportingController: component,
		FirstTimestamp:      now,
		LastTimestamp:       now,
		Count:               1,
	}
	created, err := events.Create(ctx, ev, metav1.CreateOptions{})
	if err != nil {
		return fmt.Errorf("cdisim: record event %s %s on %s %s/%s: %w", eventType, reason, kind, ns, objName, err)
	}
	s.events[key] = created.Name
	return nil
}

// update applies change to the DataVolume's status and writes it through the
// status subresource, retrying on conflicts.
func (s *Sim) update(ctx context.Context, ns, name string, change func(*cdiv1.DataVolume)) error {
	dvs := s.cdi.CdiV1beta1().DataVolumes(ns)
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		dv, err := dvs.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		change(dv)
		ensureConditions(dv)
		_, err = dvs.UpdateStatus(ctx, dv, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		return fmt.Errorf("cdisim: update status of data volume %s/%s: %w", ns, name, err)
	}
	return nil
}

// setCondition sets a condition as CDI does: the heartbeat always moves, the
// transition time only when the status changes.
func setCondition(dv *cdiv1.DataVolume, typ cdiv1.DataVolumeConditionType, status corev1.ConditionStatus, reason, message string) {
	now := metav1.NewTime(time.Now())
	for i := range dv.Status.Conditions {
		c := &dv.Status.Conditions[i]
		if c.Type != typ {
			continue
		}
		if c.Status != status {
			c.LastTransitionTime = now
		}
		c.Status, c.Reason, c.Message, c.LastHeartbeatTime = status, reason, message, now
		return
	}
	dv.Status.Conditions = append(dv.Status.Conditions, cdiv1.DataVolumeCondition{
		Type: typ, Status: status, Reason: reason, Message: message,
		LastTransitionTime: now, LastHeartbeatTime: now,
	})
}

// ensureConditions adds whichever of Bound, Running and Ready is missing,
// False, in CDI's order.
func ensureConditions(dv *cdiv1.DataVolume) {
	have := map[cdiv1.DataVolumeConditionType]bool{}
	for _, c := range dv.Status.Conditions {
		have[c.Type] = true
	}
	for _, typ := range []cdiv1.DataVolumeConditionType{cdiv1.DataVolumeBound, cdiv1.DataVolumeRunning, cdiv1.DataVolumeReady} {
		if !have[typ] {
			setCondition(dv, typ, corev1.ConditionFalse, "", "")
		}
	}
}

func claimName(dv *cdiv1.DataVolume) string {
	if dv.Status.ClaimName != "" {
		return dv.Status.ClaimName
	}
	return dv.Name
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// ClaimUID returns the UID of a claim, which CDI's populator objects are
// named after (claim prime-UID, importer pod importer-prime-UID).
func (s *Sim) ClaimUID(ctx context.Context, ns, claim string) (types.UID, error) {
	pvc, err := s.core.PersistentVolumeClaims(ns).Get(ctx, claim, metav1.GetOptions{})
	if err != nil {
		return "", fmt.Errorf("cdisim: get claim %s/%s: %w", ns, claim, err)
	}
	return pvc.UID, nil
}
