package instance

import (
	"slices"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	cdiv1 "kubevirt.io/containerized-data-importer-api/pkg/apis/core/v1beta1"

	instancev1 "github.com/otterscale/kubectl-otterscale/gen/otterscale/instance/v1"
)

// Events can arrive before the DataVolume they concern (separate watches
// are not ordered with each other); they wait this long, up to
// pendingPerVolume per DataVolume and pendingVolumes DataVolumes.
const (
	pendingTTL       = 2 * time.Minute
	pendingPerVolume = 16
	pendingVolumes   = 256
)

// joiner decides what a DataVolume watch sends. It is told what the three
// followed resources (DataVolumes, claims, events) hold and how they
// change, and answers with WatchDataVolumesResponse messages: which claim
// belongs to which DataVolume, which events are about one (the DataVolume,
// its claim, CDI's prime claim or its importer pod), and whether a change
// changed the message a consumer sees. It never reads the cluster and is
// not safe for concurrent use.
//
// Until open, it only keeps state; open sends ADDED for every DataVolume,
// EVENT for the events about them (oldest first), then SYNCED. After that,
// each change sends what differs from what was sent: a state is never sent
// twice.
type joiner struct {
	// names, when not empty, is the set of DataVolumes to follow.
	names  map[string]bool
	opened bool

	dvs map[string]*watched // by namespace/name
	// byClaim maps a claim (namespace/name) to its DataVolume's key.
	byClaim map[string]string
	claims  map[string]*corev1.PersistentVolumeClaim // by namespace/name
	// claimUIDs maps a claim's UID to its key: CDI names the populator's
	// claim prime-UID and its importer pod importer-prime-UID.
	claimUIDs map[types.UID]string
	// seen holds the resourceVersion of every event sent or passed over,
	// so that a relist sends only new or counted-up events.
	seen    map[types.UID]string
	pending map[string][]pendingEvent // by DataVolume key
	// initial holds the events known before open, by UID.
	initial map[types.UID]*corev1.Event

	out []*instancev1.WatchDataVolumesResponse
	now func() time.Time
}

type watched struct {
	dv  *cdiv1.DataVolume
	msg *instancev1.DataVolume // as last sent
}

type pendingEvent struct {
	ev *corev1.Event
	at time.Time
}

// newJoin follows the DataVolumes named (all when names is empty).
func newJoiner(names []string) *joiner {
	j := &joiner{
		dvs:       map[string]*watched{},
		byClaim:   map[string]string{},
		claims:    map[string]*corev1.PersistentVolumeClaim{},
		claimUIDs: map[types.UID]string{},
		seen:      map[types.UID]string{},
		pending:   map[string][]pendingEvent{},
		initial:   map[types.UID]*corev1.Event{},
		now:       time.Now,
	}
	if len(names) > 0 {
		j.names = map[string]bool{}
		for _, n := range names {
			j.names[n] = true
		}
	}
	return j
}

// take returns the messages decided since the last take, oldest first.
func (j *joiner) take() []*instancev1.WatchDataVolumesResponse {
	out := j.out
	j.out = nil
	return out
}

// open decides the opening: ADDED for every DataVolume, EVENT for the
// events about them (oldest first), then SYNCED.
func (j *joiner) open() {
	j.opened = true
	keys := make([]string, 0, len(j.dvs))
	for k := range j.dvs {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		st := j.dvs[k]
		st.msg = j.message(st.dv)
		j.send(instancev1.WatchDataVolumesResponse_ADDED, st.msg, nil)
	}
	events := make([]*corev1.Event, 0, len(j.initial))
	for _, e := range j.initial {
		events = append(events, e)
	}
	j.initial = nil
	// Oldest first; a tie in the order the API server lists them.
	slices.SortFunc(events, func(a, b *corev1.Event) int {
		if c := lastSeen(a).Compare(lastSeen(b)); c != 0 {
			return c
		}
		return strings.Compare(key(a.Namespace, a.Name), key(b.Namespace, b.Name))
	})
	for _, e := range events {
		j.event(e)
	}
	j.send(instancev1.WatchDataVolumesResponse_SYNCED, nil, nil)
}

// dataVolume is a DataVolume added or changed.
func (j *joiner) dataVolume(dv *cdiv1.DataVolume) {
	if !j.wanted(dv) {
		return
	}
	k := key(dv.Namespace, dv.Name)
	st := j.dvs[k]
	if st != nil && claimName(st.dv) != claimName(dv) {
		delete(j.byClaim, key(dv.Namespace, claimName(st.dv)))
	}
	j.byClaim[key(dv.Namespace, claimName(dv))] = k
	if !j.opened {
		j.dvs[k] = &watched{dv: dv}
		return
	}
	msg := j.message(dv)
	if st == nil {
		j.dvs[k] = &watched{dv: dv, msg: msg}
		j.send(instancev1.WatchDataVolumesResponse_ADDED, msg, nil)
		kept := j.pending[k]
		delete(j.pending, k)
		for _, p := range kept {
			if j.now().Sub(p.at) <= pendingTTL {
				j.send(instancev1.WatchDataVolumesResponse_EVENT, nil, toEvent(p.ev, dv.Name))
			}
		}
		return
	}
	st.dv = dv
	if proto.Equal(st.msg, msg) {
		return
	}
	st.msg = msg
	j.send(instancev1.WatchDataVolumesResponse_MODIFIED, msg, nil)
}

// dataVolumeGone is a DataVolume deleted, or no longer selected; dv is its
// last state.
func (j *joiner) dataVolumeGone(dv *cdiv1.DataVolume) {
	k := key(dv.Namespace, dv.Name)
	st := j.dvs[k]
	if st == nil {
		return
	}
	delete(j.dvs, k)
	delete(j.pending, k)
	if ck := key(dv.Namespace, claimName(st.dv)); j.byClaim[ck] == k {
		delete(j.byClaim, ck)
	}
	j.send(instancev1.WatchDataVolumesResponse_DELETED, j.message(dv), nil)
}

// dataVolumeList is the whole list of DataVolumes, listed again: what differs
// from what was sent goes out, gone ones last.
func (j *joiner) dataVolumeList(list []*cdiv1.DataVolume) {
	present := map[string]bool{}
	for _, dv := range list {
		if !j.wanted(dv) {
			continue
		}
		present[key(dv.Namespace, dv.Name)] = true
		j.dataVolume(dv)
	}
	var gone []string
	for k := range j.dvs {
		if !present[k] {
			gone = append(gone, k)
		}
	}
	slices.Sort(gone)
	for _, k := range gone {
		j.dataVolumeGone(j.dvs[k].dv)
	}
}

// claim is a claim added or changed.
func (j *joiner) claim(pvc *corev1.PersistentVolumeClaim) {
	j.putClaim(pvc)
	j.refresh(key(pvc.Namespace, pvc.Name))
}

// claimGone is a claim deleted.
func (j *joiner) claimGone(pvc *corev1.PersistentVolumeClaim) {
	k := key(pvc.Namespace, pvc.Name)
	delete(j.claims, k)
	delete(j.claimUIDs, pvc.UID)
	j.refresh(k)
}

// claimList is the whole list of claims, listed again.
func (j *joiner) claimList(list []*corev1.PersistentVolumeClaim) {
	old := j.claims
	j.claims = map[string]*corev1.PersistentVolumeClaim{}
	j.claimUIDs = map[types.UID]string{}
	for _, pvc := range list {
		j.putClaim(pvc)
	}
	changed := map[string]bool{}
	for k := range old {
		changed[k] = true
	}
	for k := range j.claims {
		changed[k] = true
	}
	keys := make([]string, 0, len(changed))
	for k := range changed {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		j.refresh(k)
	}
}

// event is an event added or changed (counted up). It goes out once per
// resourceVersion if it is about a followed DataVolume; one about a
// DataVolume not seen yet is kept for when it arrives.
func (j *joiner) event(e *corev1.Event) {
	if !j.opened {
		j.initial[e.UID] = e
		return
	}
	if rv, ok := j.seen[e.UID]; ok && rv == e.ResourceVersion {
		return
	}
	j.seen[e.UID] = e.ResourceVersion
	k := j.eventTarget(e)
	if k == "" {
		return
	}
	if st := j.dvs[k]; st != nil {
		j.send(instancev1.WatchDataVolumesResponse_EVENT, nil, toEvent(e, st.dv.Name))
		return
	}
	if _, name, _ := strings.Cut(k, "/"); j.names != nil && !j.names[name] {
		return
	}
	j.keep(k, e)
}

// eventGone is an event deleted (expired).
func (j *joiner) eventGone(e *corev1.Event) {
	if !j.opened {
		delete(j.initial, e.UID)
		return
	}
	delete(j.seen, e.UID)
}

// eventList is the whole list of events, listed again, in the order the
// API server lists them: the new and the counted-up go out, oldest first.
func (j *joiner) eventList(list []*corev1.Event) {
	if !j.opened {
		j.initial = map[types.UID]*corev1.Event{}
		for _, e := range list {
			j.initial[e.UID] = e
		}
		return
	}
	list = slices.Clone(list)
	slices.SortStableFunc(list, func(a, b *corev1.Event) int {
		return lastSeen(a).Compare(lastSeen(b))
	})
	present := map[types.UID]bool{}
	for _, e := range list {
		present[e.UID] = true
		j.event(e)
	}
	for uid := range j.seen {
		if !present[uid] {
			delete(j.seen, uid)
		}
	}
}

// eventTarget is the key of the DataVolume an event is about, or "": the
// DataVolume itself, its claim, CDI's populator claim prime-UID, or the
// importer pod (importer-NAME, or importer-prime-UID for populators).
func (j *joiner) eventTarget(e *corev1.Event) string {
	o := e.InvolvedObject
	ns := o.Namespace
	if ns == "" {
		ns = e.Namespace
	}
	byUID := func(uid string) string {
		if ck, ok := j.claimUIDs[types.UID(uid)]; ok {
			return j.byClaim[ck]
		}
		return ""
	}
	switch o.Kind {
	case "DataVolume":
		return key(ns, o.Name)
	case "PersistentVolumeClaim":
		if uid, ok := strings.CutPrefix(o.Name, "prime-"); ok {
			if k := byUID(uid); k != "" {
				return k
			}
		}
		if k, ok := j.byClaim[key(ns, o.Name)]; ok {
			return k
		}
		return key(ns, o.Name)
	case "Pod":
		if uid, ok := strings.CutPrefix(o.Name, "importer-prime-"); ok {
			if k := byUID(uid); k != "" {
				return k
			}
		}
		if name, ok := strings.CutPrefix(o.Name, "importer-"); ok {
			return key(ns, name)
		}
	}
	return ""
}

// keep holds an event for a DataVolume not seen yet, within bounds.
func (j *joiner) keep(k string, e *corev1.Event) {
	now := j.now()
	if _, ok := j.pending[k]; !ok && len(j.pending) >= pendingVolumes {
		for pk, list := range j.pending {
			if now.Sub(list[len(list)-1].at) > pendingTTL {
				delete(j.pending, pk)
			}
		}
		if len(j.pending) >= pendingVolumes {
			return
		}
	}
	j.pending[k] = append(j.pending[k], pendingEvent{ev: e, at: now})
	if list := j.pending[k]; len(list) > pendingPerVolume {
		j.pending[k] = list[len(list)-pendingPerVolume:]
	}
}

// refresh sends MODIFIED for the DataVolume of claim k if the claim's
// change changed its message.
func (j *joiner) refresh(k string) {
	st := j.dvs[j.byClaim[k]]
	if st == nil || !j.opened {
		return
	}
	msg := j.message(st.dv)
	if proto.Equal(st.msg, msg) {
		return
	}
	st.msg = msg
	j.send(instancev1.WatchDataVolumesResponse_MODIFIED, msg, nil)
}

func (j *joiner) putClaim(pvc *corev1.PersistentVolumeClaim) {
	k := key(pvc.Namespace, pvc.Name)
	j.claims[k] = pvc
	j.claimUIDs[pvc.UID] = k
}

func (j *joiner) wanted(dv *cdiv1.DataVolume) bool {
	return j.names == nil || j.names[dv.Name]
}

// message is the DataVolume with its claim; the claim's storage class is
// named but not read, which would cost a request per class.
func (j *joiner) message(dv *cdiv1.DataVolume) *instancev1.DataVolume {
	return toDataVolume(dv, j.claims[key(dv.Namespace, claimName(dv))], nil)
}

func (j *joiner) send(typ instancev1.WatchDataVolumesResponse_Type, dv *instancev1.DataVolume, ev *instancev1.Event) {
	if j.opened {
		j.out = append(j.out, &instancev1.WatchDataVolumesResponse{Type: typ, DataVolume: dv, Event: ev})
	}
}

func key(ns, name string) string { return ns + "/" + name }

func toEvent(e *corev1.Event, dataVolume string) *instancev1.Event {
	count := e.Count
	if e.Series != nil && e.Series.Count > count {
		count = e.Series.Count
	}
	if count == 0 {
		count = 1
	}
	ns := e.InvolvedObject.Namespace
	if ns == "" {
		ns = e.Namespace
	}
	return &instancev1.Event{
		Type:       e.Type,
		Reason:     e.Reason,
		Message:    e.Message,
		DataVolume: dataVolume,
		Namespace:  ns,
		Object:     e.InvolvedObject.Kind + "/" + e.InvolvedObject.Name,
		Count:      count,
		LastSeenAt: timestamp(metav1.NewTime(lastSeen(e))),
	}
}

// lastSeen is when an event last happened, whichever API wrote it: core/v1
// recorders set lastTimestamp, events.k8s.io/v1 ones eventTime and series.
func lastSeen(e *corev1.Event) time.Time {
	t := e.LastTimestamp.Time
	if e.Series != nil && e.Series.LastObservedTime.After(t) {
		t = e.Series.LastObservedTime.Time
	}
	if t.IsZero() {
		t = e.EventTime.Time
	}
	if t.IsZero() {
		t = e.CreationTimestamp.Time
	}
	return t
}
