package cdisim

import (
	"context"
	"fmt"
	"reflect"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	cdiv1 "kubevirt.io/containerized-data-importer-api/pkg/apis/core/v1beta1"
)

// The annotations through which CDI's claim controllers (the import
// controller, the populators) report to its DataVolume controller, which
// reads them from the target claim (pkg/controller/common/util.go).
const (
	annPodPhase               = "cdi.kubevirt.io/storage.pod.phase"
	annPodRestarts            = "cdi.kubevirt.io/storage.pod.restarts"
	annPodSchedulable         = "cdi.kubevirt.io/storage.pod.schedulable"
	annRunningCondition       = "cdi.kubevirt.io/storage.condition.running"
	annRunningConditionReason = "cdi.kubevirt.io/storage.condition.running.reason"
	annRunningConditionMsg    = "cdi.kubevirt.io/storage.condition.running.message"
	annPopulatorProgress      = "cdi.kubevirt.io/storage.populator.progress"
	annUsePopulator           = "cdi.kubevirt.io/storage.usePopulator"
	annImmediateBinding       = "cdi.kubevirt.io/storage.bind.immediate.requested"
	annSelectedNode           = "volume.kubernetes.io/selected-node"
	annCloneType              = "cdi.kubevirt.io/cloneType"
)

// track is what the Sim knows about one DataVolume between steps.
type track struct {
	clone     bool
	populator bool
	target    string // the target claim, named after the DataVolume
	prime     string // prime-<target UID> on the populator path, once created
	pod       string // the importer pod, once created
	// writeClaim is the claim the importer writes to: the prime claim on
	// the populator path, the target claim on the older path.
	writeClaim string
	// waiting is a claim of a late-binding class that CDI leaves for its
	// first consumer (PendingPopulation, WaitForFirstConsumer).
	waiting  bool
	late     bool // the class binds on first consumer
	noClass  bool // the class does not exist
	class    string
	node     string
	progress string // status.progress on the older path
	restarts int
	phase    cdiv1.DataVolumePhase
}

func key(ns, name string) string { return ns + "/" + name }

func (s *Sim) track(ns, name string) (*track, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	tr, ok := s.dvs[key(ns, name)]
	if !ok {
		return nil, fmt.Errorf("cdisim: data volume %s/%s was not started: call Start or StartClone first", ns, name)
	}
	return tr, nil
}

// dvEvent is the event CDI emits with a phase change (controller-base.go,
// emitEvent: "Emit the event only on status phase change").
type dvEvent struct {
	eventType, reason, message string
}

// reconcile writes the DataVolume's status as CDI's DataVolume controller
// does from the target claim (controller-base.go, updateStatus): phase as the
// step says, claimName, restartCount from the claim's restart annotation,
// progress, and the Bound, Ready and Running conditions from the claim and
// its annotations (conditions.go). It writes only when the status changed,
// then emits the phase event and the condition events CDI would.
func (s *Sim) reconcile(ctx context.Context, ns, name string, tr *track, phase cdiv1.DataVolumePhase, ev *dvEvent) error {
	pvc, err := s.core.PersistentVolumeClaims(ns).Get(ctx, tr.target, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		pvc, err = nil, nil
	}
	if err != nil {
		return fmt.Errorf("cdisim: get claim %s/%s: %w", ns, tr.target, err)
	}
	tr.phase = phase
	dvs := s.cdi.CdiV1beta1().DataVolumes(ns)
	var before, after *cdiv1.DataVolume
	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		dv, err := dvs.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		before = dv.DeepCopy()
		dv.Status.Phase = phase
		var anno map[string]string
		if pvc != nil {
			anno = pvc.Annotations
			dv.Status.ClaimName = pvc.Name
			if i, err := strconv.Atoi(anno[annPodRestarts]); err == nil && i >= 0 {
				dv.Status.RestartCount = int32(i)
			}
			switch {
			case phase == cdiv1.Succeeded && !tr.clone:
				dv.Status.Progress = "100.0%"
			case tr.populator:
				// The populator's progress, copied to the target claim
				// (controller-base.go, reconcileProgressUpdate).
				if p, ok := anno[annPopulatorProgress]; ok {
					dv.Status.Progress = cdiv1.DataVolumeProgress(p)
				} else {
					dv.Status.Progress = "N/A"
				}
			case tr.progress != "":
				dv.Status.Progress = cdiv1.DataVolumeProgress(tr.progress)
			case dv.Status.Progress == "":
				dv.Status.Progress = "N/A"
			}
		}
		s.updateConditions(dv, pvc, anno)
		if reflect.DeepEqual(before.Status, dv.Status) {
			after = dv
			return nil
		}
		after, err = dvs.UpdateStatus(ctx, dv, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		return fmt.Errorf("cdisim: update status of data volume %s/%s: %w", ns, name, err)
	}
	if reflect.DeepEqual(before.Status, after.Status) {
		return nil
	}
	component := componentDVImport
	if tr.clone {
		component = componentDVClone
	}
	if ev != nil && before.Status.Phase != after.Status.Phase {
		if err := s.event(ctx, ns, "DataVolume", name, component, ev.eventType, ev.reason, ev.message); err != nil {
			return err
		}
	}
	return s.conditionEvents(ctx, ns, name, component, tr, after, before.Status.Conditions)
}

// conditionEvents emits what controller-base.go's emitConditionEvent does:
// a Normal event with the Bound condition's reason and message whenever it
// changes, and a Warning with Running's reason and message when the
// DataVolume is bound or populating, neither ready nor running, and
// Running's message changed to something.
func (s *Sim) conditionEvents(ctx context.Context, ns, name, component string, tr *track, dv *cdiv1.DataVolume, before []cdiv1.DataVolumeCondition) error {
	bound, oldBound := findCondition(dv.Status.Conditions, cdiv1.DataVolumeBound), findCondition(before, cdiv1.DataVolumeBound)
	if bound != nil && (oldBound == nil || bound.Status != oldBound.Status || bound.Reason != oldBound.Reason || bound.Message != oldBound.Message) {
		if err := s.event(ctx, ns, "DataVolume", name, component, corev1.EventTypeNormal, bound.Reason, bound.Message); err != nil {
			return err
		}
	}
	ready := findCondition(dv.Status.Conditions, cdiv1.DataVolumeReady)
	running, oldRunning := findCondition(dv.Status.Conditions, cdiv1.DataVolumeRunning), findCondition(before, cdiv1.DataVolumeRunning)
	if ready == nil || bound == nil || running == nil {
		return nil
	}
	// util.go, dvBoundOrPopulationInProgress.
	inProgress := bound.Status == corev1.ConditionTrue ||
		(tr.populator && dv.Status.Phase != cdiv1.Pending && dv.Status.Phase != cdiv1.PendingPopulation)
	if ready.Status == corev1.ConditionFalse && running.Status == corev1.ConditionFalse && inProgress &&
		running.Message != "" && (oldRunning == nil || oldRunning.Message != running.Message) {
		return s.event(ctx, ns, "DataVolume", name, component, corev1.EventTypeWarning, running.Reason, running.Message)
	}
	return nil
}

func findCondition(conds []cdiv1.DataVolumeCondition, typ cdiv1.DataVolumeConditionType) *cdiv1.DataVolumeCondition {
	for i := range conds {
		if conds[i].Type == typ {
			return &conds[i]
		}
	}
	return nil
}

// updateConditions computes the three conditions in CDI's order and way
// (controller-base.go updateConditions, conditions.go): Bound from the
// claim's phase (which also resets Ready), Ready from the phase, Running
// from the claim's annotations (which sets Ready TransferRunning while the
// importer runs).
func (s *Sim) updateConditions(dv *cdiv1.DataVolume, pvc *corev1.PersistentVolumeClaim, anno map[string]string) {
	if dv.Status.Conditions == nil {
		dv.Status.Conditions = []cdiv1.DataVolumeCondition{}
	}
	notReady := func() { s.updateCondition(dv, cdiv1.DataVolumeReady, corev1.ConditionFalse, "", "") }
	switch {
	case pvc == nil:
		s.updateCondition(dv, cdiv1.DataVolumeBound, corev1.ConditionFalse, ReasonNotFound, "No PVC found")
		notReady()
	case pvc.Status.Phase == corev1.ClaimBound:
		s.updateCondition(dv, cdiv1.DataVolumeBound, corev1.ConditionTrue, ReasonBound, fmt.Sprintf("PVC %s Bound", pvc.Name))
	case pvc.Status.Phase == corev1.ClaimPending:
		s.updateCondition(dv, cdiv1.DataVolumeBound, corev1.ConditionFalse, ReasonPending, fmt.Sprintf("PVC %s Pending", pvc.Name))
		notReady()
	case pvc.Status.Phase == corev1.ClaimLost:
		s.updateCondition(dv, cdiv1.DataVolumeBound, corev1.ConditionFalse, ReasonClaimLost, MessageClaimLost)
		notReady()
	default:
		s.updateCondition(dv, cdiv1.DataVolumeBound, corev1.ConditionFalse, "", "")
		notReady()
	}
	readyStatus := corev1.ConditionFalse
	switch dv.Status.Phase {
	case cdiv1.Succeeded:
		readyStatus = corev1.ConditionTrue
	case cdiv1.Unknown:
		readyStatus = corev1.ConditionUnknown
	}
	s.updateCondition(dv, cdiv1.DataVolumeReady, readyStatus, "", "")

	running, hasRunning := anno[annRunningCondition]
	switch {
	case anno[annPodSchedulable] == "false":
		s.updateCondition(dv, cdiv1.DataVolumeRunning, corev1.ConditionFalse, ReasonUnschedulable, MessageUnschedulable)
	case hasRunning && strings.EqualFold(running, "true"):
		s.updateCondition(dv, cdiv1.DataVolumeRunning, corev1.ConditionTrue, anno[annRunningConditionReason], anno[annRunningConditionMsg])
		s.updateCondition(dv, cdiv1.DataVolumeReady, corev1.ConditionFalse, ReasonTransferRunning, "")
	case hasRunning && strings.EqualFold(running, "false"):
		s.updateCondition(dv, cdiv1.DataVolumeRunning, corev1.ConditionFalse, anno[annRunningConditionReason], anno[annRunningConditionMsg])
	case hasRunning:
		s.updateCondition(dv, cdiv1.DataVolumeRunning, corev1.ConditionUnknown, anno[annRunningConditionReason], anno[annRunningConditionMsg])
	default:
		s.updateCondition(dv, cdiv1.DataVolumeRunning, corev1.ConditionFalse, anno[annRunningConditionReason], anno[annRunningConditionMsg])
	}
}

// updateCondition moves a condition as conditions.go's updateCondition
// does: a new status moves both the transition and the heartbeat time; a
// new reason or message under the same status moves only the heartbeat; an
// unchanged condition keeps both.
func (s *Sim) updateCondition(dv *cdiv1.DataVolume, typ cdiv1.DataVolumeConditionType, status corev1.ConditionStatus, reason, message string) {
	c := findCondition(dv.Status.Conditions, typ)
	if c == nil {
		dv.Status.Conditions = append(dv.Status.Conditions, cdiv1.DataVolumeCondition{Type: typ})
		c = &dv.Status.Conditions[len(dv.Status.Conditions)-1]
	}
	now := metav1.NewTime(s.now())
	switch {
	case c.Status != status:
		c.LastTransitionTime, c.LastHeartbeatTime = now, now
		c.Reason, c.Message = reason, message
	case c.Reason != reason || c.Message != message:
		c.Reason, c.Message = reason, message
		c.LastHeartbeatTime = now
	}
	c.Status = status
}
