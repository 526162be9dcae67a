// Package cdisim plays CDI v1.63.1's DataVolume controllers, and the cluster
// parts around them, for tests, the sandbox demo and the benchmarks; it is
// never part of the plugin binary. No CDI runs next to the test API server,
// so this package does from the outside what CDI does from the inside,
// through the same API, step by step as a caller asks: Start, Schedule, Run,
// Progress, Succeed, Crash, Unschedulable, LoseClaim, StartClone,
// SucceedClone.
//
// What each step writes was recorded from the real cdi-controller v1.63.1
// (the CDI.md notes and the cdi-observed recordings next to them): the
// claims CDI creates (the target claim, on the populator path the prime
// claim prime-<UID> and pod importer-prime-<UID>), the annotations through
// which CDI's claim controllers report to its DataVolume controller, the
// DataVolume's status (written through the status subresource, conditions
// ordered Bound, Ready, Running and moved as CDI's conditions.go moves them),
// and core/v1 Events with the reasons, messages and source components of
// CDI, the PV controller, the scheduler and the kubelet. Every string comes
// from one of them; the comment next to it names the CDI source file.
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
	storagev1client "k8s.io/client-go/kubernetes/typed/storage/v1"
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

// Setup says which CDI set-up to play (CDI.md, first section).
type Setup int

const (
	// SetupC is a CSIDriver rbd.csi.ceph.com and the gates a release enables
	// (HonorWaitForFirstConsumer): the populator path, what an OtterScale
	// cluster with ceph-csi looks like. The default.
	SetupC Setup = iota
	// SetupB is a CSIDriver and no gates: the populator path.
	SetupB
	// SetupA is no CSIDriver and no gates: CDI's older, non-populator path.
	SetupA
	// SetupAGate is no CSIDriver with HonorWaitForFirstConsumer: the older
	// path with the gate (the l-* runs).
	SetupAGate
)

// String names the set-up as CDI.md does.
func (s Setup) String() string {
	switch s {
	case SetupC:
		return "C"
	case SetupB:
		return "B"
	case SetupA:
		return "A"
	case SetupAGate:
		return "AGate"
	}
	return fmt.Sprintf("Setup(%d)", int(s))
}

// csiDriver says whether the CSIDriver object CDI looks for exists, which
// makes CDI use its volume populators (controller-base.go,
// shouldUseCDIPopulator).
func (s Setup) csiDriver() bool { return s == SetupC || s == SetupB }

// honorWFFC says whether the HonorWaitForFirstConsumer gate is on.
func (s Setup) honorWFFC() bool { return s == SetupC || s == SetupAGate }

// Options configure a Sim.
type Options struct {
	// Setup is the CDI set-up to play; the zero value is SetupC.
	Setup Setup
	// Now is the clock for every time cdisim writes (condition heartbeats
	// and transitions, event timestamps); nil means time.Now. Tests use it
	// to produce the state real CDI would show after some minutes.
	Now func() time.Time
}

// Condition reasons and messages CDI writes on DataVolumes.
const (
	// ReasonBound and ReasonPending are the Bound condition's reasons
	// (pkg/controller/datavolume/conditions.go, pvcBound and pvcPending).
	ReasonBound   = "Bound"
	ReasonPending = "Pending"
	// ReasonClaimLost is the Bound reason of a lost claim, with message
	// MessageClaimLost (pkg/controller/common/util.go ClaimLost,
	// conditions.go).
	ReasonClaimLost  = "ClaimLost"
	MessageClaimLost = "Claim Lost"
	// ReasonNotFound is the Bound reason before the claim exists, with
	// "No PVC found" (conditions.go, common NotFound).
	ReasonNotFound = "NotFound"
	// ReasonTransferRunning is the Ready condition's reason while the
	// importer runs (conditions.go, transferRunning); never a Running reason.
	ReasonTransferRunning = "TransferRunning"
	// ReasonPodRunning is the Running reason CDI's claim controller copies
	// from a running importer container (pkg/controller/common/util.go,
	// podRunningReason; recorded "Pod is running").
	ReasonPodRunning = "Pod is running"
	// ReasonCompleted and MessageImportComplete are the Running reason and
	// message once the importer exited 0 (the importer's termination
	// message, copied by pkg/controller/import-controller.go).
	ReasonCompleted       = "Completed"
	MessageImportComplete = "Import Complete"
	// ReasonError is the kubelet's reason for a container that exited
	// non-zero, which CDI copies into Running with the termination message
	// (import-controller.go, setConditionFromPodWithPrefix in util.go).
	ReasonError = "Error"
	// ReasonUnschedulable and MessageUnschedulable are Running's reason and
	// message when the importer pod cannot be scheduled (conditions.go,
	// updateRunningCondition).
	ReasonUnschedulable  = "Unschedulable"
	MessageUnschedulable = "Importer pod cannot be scheduled"
	// ReasonPopulatorRunning is Running's reason during a CSI clone, and
	// ReasonClonePending with MessageClonePending during a host-assisted
	// clone waiting to start (pkg/controller/populators/clone-populator.go,
	// recorded recC.log 21:41:25 c-cloneblk and c-clone).
	ReasonPopulatorRunning = "Populator is running"
	ReasonClonePending     = "Pending"
	MessageClonePending    = "Clone Pending"
)

// The components that report events, as their event recorders are named.
const (
	// pkg/controller/datavolume/import-controller.go, importControllerName.
	componentDVImport = "datavolume-import-controller"
	// pkg/controller/datavolume/pvc-clone-controller.go, pvcCloneControllerName.
	componentDVClone = "datavolume-pvc-clone-controller"
	// pkg/controller/import-controller.go (the claim import controller).
	componentImport = "import-controller"
	// pkg/controller/populators/import-populator.go, importPopulatorName.
	componentImportPopulator = "import-populator"
	// pkg/controller/populators/clone-populator.go.
	componentClonePopulator = "clone-populator"
	componentPVController   = "persistentvolume-controller"
	componentScheduler      = "default-scheduler"
	componentKubelet        = "kubelet"
)

// Sim plays CDI's part for DataVolumes in any namespace. It is safe for
// concurrent use.
type Sim struct {
	core    corev1client.CoreV1Interface
	storage storagev1client.StorageV1Interface
	cdi     cdiclient.Interface
	setup   Setup
	now     func() time.Time

	mu sync.Mutex
	// events maps what makes two events the same (object, source, type,
	// reason, message) to the name of the event recorded for it, so that a
	// repeat counts up as client-go's event recorder does.
	events map[string]string
	// dvs is what Start learnt about each DataVolume (ns/name).
	dvs map[string]*track
}

// New returns a Sim playing set-up C through the API server cfg points at.
func New(cfg *rest.Config) (*Sim, error) {
	return NewWith(cfg, Options{})
}

// NewWith returns a Sim playing o.Setup with clock o.Now.
func NewWith(cfg *rest.Config, o Options) (*Sim, error) {
	cfg = rest.CopyConfig(cfg)
	if cfg.QPS == 0 {
		cfg.QPS, cfg.Burst = 100, 200
	}
	core, err := corev1client.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("cdisim: %w", err)
	}
	storage, err := storagev1client.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("cdisim: %w", err)
	}
	cdi, err := cdiclient.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("cdisim: %w", err)
	}
	now := o.Now
	if now == nil {
		now = time.Now
	}
	return &Sim{
		core: core, storage: storage, cdi: cdi, setup: o.Setup, now: now,
		events: map[string]string{}, dvs: map[string]*track{},
	}, nil
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
	if err := bindClaim(ctx, core, ns, name, pv); err != nil {
		return fmt.Errorf("bind claim %s/%s: %w", ns, name, err)
	}
	return nil
}

// bindClaim points claim ns/name at pv and marks it Bound, as the PV
// controller does once a volume's claimRef names the claim.
func bindClaim(ctx context.Context, core corev1client.CoreV1Interface, ns, name string, pv *corev1.PersistentVolume) error {
	claims := core.PersistentVolumeClaims(ns)
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
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
		pvc.Status.Capacity = corev1.ResourceList{corev1.ResourceStorage: pv.Spec.Capacity[corev1.ResourceStorage]}
		_, err = claims.UpdateStatus(ctx, pvc, metav1.UpdateOptions{})
		return err
	})
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

// Event records a core/v1 Event about the object kind/objName in ns
// ("DataVolume", "PersistentVolumeClaim" or "Pod"), as the component that
// reports such events would: CDI's DataVolume import controller for
// DataVolumes, the PV controller for claims, the kubelet for pods. The same
// event again counts up (count and lastTimestamp) instead of adding another,
// as client-go's recorder does.
func (s *Sim) Event(ctx context.Context, ns, kind, objName, eventType, reason, message string) error {
	component := componentKubelet
	switch kind {
	case "DataVolume":
		component = componentDVImport
	case "PersistentVolumeClaim":
		component = componentPVController
	}
	return s.event(ctx, ns, kind, objName, component, eventType, reason, message)
}

// event records an event from component, counting up a repeat.
func (s *Sim) event(ctx context.Context, ns, kind, objName, component, eventType, reason, message string) error {
	ref := corev1.ObjectReference{Kind: kind, Namespace: ns, Name: objName}
	switch kind {
	case "DataVolume":
		ref.APIVersion = cdiv1.SchemeGroupVersion.String()
		if dv, err := s.cdi.CdiV1beta1().DataVolumes(ns).Get(ctx, objName, metav1.GetOptions{}); err == nil {
			ref.UID, ref.ResourceVersion = dv.UID, dv.ResourceVersion
		}
	case "PersistentVolumeClaim":
		ref.APIVersion = "v1"
		if pvc, err := s.core.PersistentVolumeClaims(ns).Get(ctx, objName, metav1.GetOptions{}); err == nil {
			ref.UID, ref.ResourceVersion = pvc.UID, pvc.ResourceVersion
		}
	case "Pod":
		ref.APIVersion = "v1"
		if pod, err := s.core.Pods(ns).Get(ctx, objName, metav1.GetOptions{}); err == nil {
			ref.UID, ref.ResourceVersion = pod.UID, pod.ResourceVersion
		}
		if component == componentKubelet {
			ref.FieldPath = "spec.containers{importer}"
		}
	}
	events := s.core.Events(ns)
	key := fmt.Sprintf("%s/%s/%s/%s/%s/%s/%s", ns, kind, objName, component, eventType, reason, message)
	now := metav1.NewTime(s.now())

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
