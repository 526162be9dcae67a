package follow

import (
	"strings"
	"time"

	instancev1 "github.com/otterscale/kubectl-otterscale/gen/otterscale/instance/v1"
)

// maxEvents bounds the events a Wait keeps: the newest of each kind.
const maxEvents = 32

// Wait follows one DataVolume through a WatchDataVolumes stream and decides,
// with its Rules, when the wait is over. Every front end of a wait (the
// wait view, the plain lines, the CLI's exit code) feeds it the same stream
// and renders what it decides. It is not safe for concurrent use.
type Wait struct {
	// Namespace (empty: any) and Name say which DataVolume is followed;
	// messages about others are ignored.
	Namespace, Name string
	Rules           Rules

	// DV is the latest state seen, or nil.
	DV *instancev1.DataVolume
	// Events are the events seen about it, its claims and its importer
	// pod, oldest first; a count-up replaces the event it counts.
	Events []*instancev1.Event
	// Synced says the watch's first list is complete.
	Synced bool
}

// NewWait returns a Wait on namespace/name with rules.
func NewWait(namespace, name string, rules Rules) *Wait {
	return &Wait{Namespace: namespace, Name: name, Rules: rules}
}

func (w *Wait) mine(ns, name string) bool {
	return name == w.Name && (w.Namespace == "" || ns == w.Namespace)
}

// Apply folds one watch message in and says whether the wait is over at now
// and how. changed says the message concerned the DataVolume.
func (w *Wait) Apply(r *instancev1.WatchDataVolumesResponse, now time.Time) (res Result, done, changed bool) {
	switch r.GetType() {
	case instancev1.WatchDataVolumesResponse_ADDED, instancev1.WatchDataVolumesResponse_MODIFIED:
		if dv := r.GetDataVolume(); dv != nil && w.mine(dv.GetNamespace(), dv.GetName()) {
			w.DV, changed = dv, true
		}
	case instancev1.WatchDataVolumesResponse_DELETED:
		if dv := r.GetDataVolume(); dv != nil && w.mine(dv.GetNamespace(), dv.GetName()) {
			w.DV = dv
			return Result{Outcome: Deleted, Reason: "Deleted", Message: MessageDeleted}, true, true
		}
	case instancev1.WatchDataVolumesResponse_EVENT:
		if ev := r.GetEvent(); ev != nil && w.mine(ev.GetNamespace(), ev.GetDataVolume()) {
			w.Events, changed = AppendEvent(w.Events, ev, maxEvents), true
		}
	case instancev1.WatchDataVolumesResponse_SYNCED:
		w.Synced = true
		if w.DV == nil {
			return Result{Outcome: Deleted, Reason: "NotFound", Message: MessageNotFound}, true, false
		}
	}
	if !changed {
		return Result{}, false, false
	}
	res, done = w.Check(now)
	return res, done, true
}

// Check decides at now on what has been seen; a front end calls it on a
// clock too, since a grace period can run out without a new message.
func (w *Wait) Check(now time.Time) (Result, bool) {
	done, res := w.Rules.Decide(w.DV, w.Events, now)
	return res, done
}

// TimedOut is how the wait ends when its time runs out: where the
// DataVolume was (phase, progress, restarts).
func (w *Wait) TimedOut() Result {
	if w.DV == nil {
		return Result{Outcome: TimedOut}
	}
	return Result{Outcome: TimedOut, Reason: Phase(w.DV.GetPhase()), Message: w.DV.GetProgress(), Restarts: w.DV.GetRestartCount()}
}

// AppendEvent adds ev to list, oldest first, keeping at most max: an event
// that repeats one in the list (a count-up: the same EventKey) replaces it
// and moves to the end, where the rules look for the newest.
func AppendEvent(list []*instancev1.Event, ev *instancev1.Event, max int) []*instancev1.Event {
	key := EventKey(ev)
	for i, old := range list {
		if EventKey(old) == key {
			list = append(list[:i], list[i+1:]...)
			break
		}
	}
	list = append(list, ev)
	if len(list) > max {
		list = append(list[:0], list[len(list)-max:]...)
	}
	return list
}

// EventKey identifies an event across its repeats. Kubernetes records a
// repeat by counting up the Event it already has (count, last_seen_at), so
// a watch sends the same event again each time: same DataVolume, object,
// type, reason and message. Every view shows it once, with its latest
// count.
func EventKey(ev *instancev1.Event) string {
	return strings.Join([]string{
		ev.GetNamespace(), ev.GetDataVolume(), ev.GetObject(), ev.GetType(), ev.GetReason(), ev.GetMessage(),
	}, "\x00")
}
