package instance

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"connectrpc.com/connect"
	"github.com/go-logr/logr"
	"google.golang.org/protobuf/proto"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	watchtools "k8s.io/client-go/tools/watch"
	"k8s.io/klog/v2"
	cdiv1 "kubevirt.io/containerized-data-importer-api/pkg/apis/core/v1beta1"

	instancev1 "github.com/otterscale/kubectl-otterscale/gen/otterscale/instance/v1"
	"github.com/otterscale/kubectl-otterscale/pkg/cluster"
)

// How the watch behaves when a resource's watch ends in something other than
// an expired resourceVersion (which relists at once): relist after a delay
// that doubles from watchRetryMin up to watchRetryMax.
const (
	watchRetryMin = time.Second
	watchRetryMax = 30 * time.Second
	// watchBuffer lets a burst of changes through while the consumer
	// renders; beyond it the watch waits for the consumer.
	watchBuffer = 64
	// Events can arrive before the DataVolume they concern (separate
	// watches are not ordered with each other); they wait this long, up to
	// pendingPerVolume per DataVolume and pendingVolumes DataVolumes.
	pendingTTL       = 2 * time.Minute
	pendingPerVolume = 16
	pendingVolumes   = 256
)

// WatchDataVolumes streams Watch's messages to the client until it goes
// away.
func (s *Service) WatchDataVolumes(ctx context.Context, req *connect.Request[instancev1.WatchDataVolumesRequest], stream *connect.ServerStream[instancev1.WatchDataVolumesResponse]) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ch, err := s.Watch(ctx, req.Msg)
	if err != nil {
		return err
	}
	for msg := range ch {
		if err := stream.Send(msg); err != nil {
			return err
		}
	}
	return nil
}

// Watch follows the DataVolumes req selects. It lists DataVolumes, claims and
// events once, sends ADDED for every DataVolume (claim joined, storage class
// named but not read, to spare a request), EVENT for the recent events about
// them, then SYNCED; after that one watch per resource (DataVolumes, claims,
// events) sends MODIFIED when a DataVolume or its claim changes, DELETED when
// one goes, and EVENT for events about a DataVolume, its claim or its
// importer pod. Nothing is polled.
//
// The watches resume by themselves: from the last resourceVersion after the
// connection drops or the API server restarts (client-go's RetryWatcher),
// and by listing again when that version has expired (410 Gone), sending
// only what differs from what was sent: a state is never sent twice. Errors
// after the start are retried with backoff, never returned. The channel
// closes when ctx ends.
//
// A user who may read DataVolumes but not claims or events still gets the
// DataVolumes: without claims, and without events.
func (s *Service) Watch(ctx context.Context, req *instancev1.WatchDataVolumesRequest) (<-chan *instancev1.WatchDataVolumesResponse, error) {
	w, err := newWatcher(req)
	if err != nil {
		return nil, err
	}
	c, err := s.clusters.Clients(ctx, req.GetScope())
	if err != nil {
		return nil, err
	}
	w.c = c
	res, err := w.start(ctx)
	if err != nil {
		return nil, err
	}
	out := make(chan *instancev1.WatchDataVolumesResponse, watchBuffer)
	go w.run(ctx, out, res)
	return out, nil
}

func validateWatch(req *instancev1.WatchDataVolumesRequest) (labels.Selector, error) {
	if ns := req.GetNamespace(); ns != "" {
		if err := validateNamespace("namespace", ns); err != nil {
			return nil, err
		}
	}
	for _, n := range req.GetNames() {
		if err := validateName("names", n); err != nil {
			return nil, err
		}
	}
	sel, err := labels.Parse(req.GetLabelSelector())
	if err != nil {
		return nil, invalid("label_selector", "%q is not a label selector: %v", req.GetLabelSelector(), err)
	}
	return sel, nil
}

// watcher is the state of one Watch. Only its run goroutine touches it after
// start.
type watcher struct {
	c  *cluster.Clients
	ns string
	// names, when not empty, is the set of DataVolumes to follow.
	names map[string]bool
	// The selectors of each resource's list and watch.
	dvLabels, dvFields, claimFields string

	dvs map[string]*watched // by namespace/name
	// byClaim maps a claim (namespace/name) to its DataVolume's key.
	byClaim map[string]string
	claims  map[string]*corev1.PersistentVolumeClaim // by namespace/name
	// claimUIDs maps a claim's UID to its key: CDI names the populator's
	// claim prime-UID and its importer pod importer-prime-UID.
	claimUIDs map[types.UID]string
	// seen holds the resourceVersion of every event sent or passed over, so
	// that a relist sends only new or counted-up events.
	seen    map[types.UID]string
	pending map[string][]pendingEvent // by DataVolume key
	// initialEvents are the events listed at the start, until sent.
	initialEvents []corev1.Event

	out chan<- *instancev1.WatchDataVolumesResponse
}

type watched struct {
	dv  *cdiv1.DataVolume
	msg *instancev1.DataVolume // as last sent
}

type pendingEvent struct {
	ev *corev1.Event
	at time.Time
}

func newWatcher(req *instancev1.WatchDataVolumesRequest) (*watcher, error) {
	sel, err := validateWatch(req)
	if err != nil {
		return nil, err
	}
	w := &watcher{
		ns:        req.GetNamespace(),
		dvLabels:  sel.String(),
		dvs:       map[string]*watched{},
		byClaim:   map[string]string{},
		claims:    map[string]*corev1.PersistentVolumeClaim{},
		claimUIDs: map[types.UID]string{},
		seen:      map[types.UID]string{},
		pending:   map[string][]pendingEvent{},
	}
	if names := req.GetNames(); len(names) > 0 {
		w.names = map[string]bool{}
		for _, n := range names {
			w.names[n] = true
		}
	}
	if len(w.names) == 1 {
		// The API server filters one name; several are filtered here, as
		// field selectors have no set operator. The claim is named after
		// its DataVolume.
		w.dvFields = fields.OneTermEqualSelector("metadata.name", req.GetNames()[0]).String()
		w.claimFields = w.dvFields
	}
	return w, nil
}

func (w *watcher) where() string {
	if w.ns == "" {
		return "in all namespaces"
	}
	return fmt.Sprintf("in namespace %q", w.ns)
}

// followed is one of the three resources followed: how to list it (and diff
// against what was sent), watch it and handle its events.
type followed struct {
	off    bool   // not ours to read
	rv     string // where the next watch starts
	relist func(ctx context.Context) (string, error)
	watch  func(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error)
	handle func(ctx context.Context, ev watch.Event) error

	rw       *watchtools.RetryWatcher
	failures int // consecutive watches that ended in an error
}

// quietWhenDone drops what is logged once ctx has ended: the RetryWatcher
// reports "Watch failed ... context canceled" when its watch is stopped on
// purpose (the command or the stream ending, the proxy shutting down).
type quietWhenDone struct {
	ctx context.Context
	logr.LogSink
}

func (q quietWhenDone) Enabled(level int) bool { return q.ctx.Err() == nil && q.LogSink.Enabled(level) }

func (q quietWhenDone) Error(err error, msg string, kv ...any) {
	if q.ctx.Err() == nil {
		q.LogSink.Error(err, msg, kv...)
	}
}

func (q quietWhenDone) WithValues(kv ...any) logr.LogSink {
	return quietWhenDone{ctx: q.ctx, LogSink: q.LogSink.WithValues(kv...)}
}

func (q quietWhenDone) WithName(name string) logr.LogSink {
	return quietWhenDone{ctx: q.ctx, LogSink: q.LogSink.WithName(name)}
}

// watchFunc adapts a typed client's Watch to the RetryWatcher.
type watchFunc func(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error)

func (f watchFunc) WatchWithContext(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
	return f(ctx, opts)
}

func (r *followed) results() <-chan watch.Event {
	if r.off || r.rw == nil {
		return nil
	}
	return r.rw.ResultChan()
}

func (r *followed) begin(ctx context.Context) error {
	// The RetryWatcher logs through the context's logger; a watch that
	// fails because its caller left is no news.
	if sink := klog.FromContext(ctx).GetSink(); sink != nil {
		ctx = klog.NewContext(ctx, logr.New(quietWhenDone{ctx: ctx, LogSink: sink}))
	}
	rw, err := watchtools.NewRetryWatcherWithContext(ctx, r.rv, watchFunc(r.watch))
	if err != nil {
		return err
	}
	r.rw = rw
	return nil
}

func (r *followed) stop() {
	if r.rw != nil {
		r.rw.Stop()
		<-r.rw.Done()
		r.rw = nil
	}
}

// start lists the three resources, so that a cluster that cannot be read
// fails the call rather than the stream.
func (w *watcher) start(ctx context.Context) ([]*followed, error) {
	res := w.resources()
	dvs, err := w.listDataVolumes(ctx)
	if err != nil {
		return nil, cluster.Error(err, "watch data volumes: list data volumes "+w.where())
	}
	res[0].rv = dvs.ResourceVersion
	for i := range dvs.Items {
		if dv := &dvs.Items[i]; w.wanted(dv) {
			k := key(dv.Namespace, dv.Name)
			w.dvs[k] = &watched{dv: dv}
			w.byClaim[key(dv.Namespace, claimName(dv))] = k
		}
	}
	switch claims, err := w.listClaims(ctx); {
	case err == nil:
		res[1].rv = claims.ResourceVersion
		for i := range claims.Items {
			w.putClaim(&claims.Items[i])
		}
	case apierrors.IsForbidden(err):
		res[1].off = true
	default:
		return nil, cluster.Error(err, "watch data volumes: list claims "+w.where())
	}
	switch events, err := w.listEvents(ctx); {
	case err == nil:
		res[2].rv = events.ResourceVersion
		w.initialEvents = events.Items
	case apierrors.IsForbidden(err):
		res[2].off = true
	default:
		return nil, cluster.Error(err, "watch data volumes: list events "+w.where())
	}
	return res, nil
}

func (w *watcher) resources() []*followed {
	return []*followed{
		{
			relist: w.relistDataVolumes,
			watch: func(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
				opts.LabelSelector, opts.FieldSelector = w.dvLabels, w.dvFields
				return w.c.CDI.CdiV1beta1().DataVolumes(w.ns).Watch(ctx, opts)
			},
			handle: w.onDataVolume,
		},
		{
			relist: w.relistClaims,
			watch: func(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
				opts.FieldSelector = w.claimFields
				return w.c.Core.PersistentVolumeClaims(w.ns).Watch(ctx, opts)
			},
			handle: w.onClaim,
		},
		{
			relist: w.relistEvents,
			watch: func(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
				return w.c.Core.Events(w.ns).Watch(ctx, opts)
			},
			handle: w.onEvent,
		},
	}
}

func (w *watcher) listDataVolumes(ctx context.Context) (*cdiv1.DataVolumeList, error) {
	return w.c.CDI.CdiV1beta1().DataVolumes(w.ns).List(ctx, metav1.ListOptions{LabelSelector: w.dvLabels, FieldSelector: w.dvFields})
}

func (w *watcher) listClaims(ctx context.Context) (*corev1.PersistentVolumeClaimList, error) {
	return w.c.Core.PersistentVolumeClaims(w.ns).List(ctx, metav1.ListOptions{FieldSelector: w.claimFields})
}

func (w *watcher) listEvents(ctx context.Context) (*corev1.EventList, error) {
	return w.c.Core.Events(w.ns).List(ctx, metav1.ListOptions{})
}

// run sends the opening messages, then follows the watches until ctx ends.
func (w *watcher) run(ctx context.Context, out chan<- *instancev1.WatchDataVolumesResponse, res []*followed) {
	defer close(out)
	w.out = out
	defer func() {
		for _, r := range res {
			r.stop()
		}
	}()
	if w.sendInitial(ctx) != nil {
		return
	}
	for _, r := range res {
		if r.off {
			continue
		}
		if err := r.begin(ctx); err != nil && w.resync(ctx, r, false) != nil {
			return
		}
	}
	for {
		var err error
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-res[0].results():
			err = w.dispatch(ctx, res[0], ev, ok)
		case ev, ok := <-res[1].results():
			err = w.dispatch(ctx, res[1], ev, ok)
		case ev, ok := <-res[2].results():
			err = w.dispatch(ctx, res[2], ev, ok)
		}
		if err != nil {
			return
		}
	}
}

// sendInitial sends ADDED for every DataVolume listed, EVENT for the events
// about them (oldest first), then SYNCED.
func (w *watcher) sendInitial(ctx context.Context) error {
	keys := make([]string, 0, len(w.dvs))
	for k := range w.dvs {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		st := w.dvs[k]
		st.msg = w.message(st.dv)
		if err := w.send(ctx, instancev1.WatchDataVolumesResponse_ADDED, st.msg, nil); err != nil {
			return err
		}
	}
	events := w.initialEvents
	w.initialEvents = nil
	slices.SortStableFunc(events, func(a, b corev1.Event) int {
		return lastSeen(&a).Compare(lastSeen(&b))
	})
	for i := range events {
		if err := w.onEventObject(ctx, &events[i]); err != nil {
			return err
		}
	}
	return w.send(ctx, instancev1.WatchDataVolumesResponse_SYNCED, nil, nil)
}

// dispatch handles what one resource's watch delivered. The RetryWatcher
// itself resumes after dropped connections and restarts; what ends it (an
// expired resourceVersion, or an error it will not retry, such as Forbidden)
// is handled here by listing again.
func (w *watcher) dispatch(ctx context.Context, r *followed, ev watch.Event, ok bool) error {
	if !ok {
		return w.resync(ctx, r, false)
	}
	if ev.Type == watch.Error {
		err := apierrors.FromObject(ev.Object)
		gone := apierrors.IsResourceExpired(err) || apierrors.IsGone(err) || statusCode(err) == http.StatusGone
		return w.resync(ctx, r, gone)
	}
	r.failures = 0
	return r.handle(ctx, ev)
}

func statusCode(err error) int32 {
	var status apierrors.APIStatus
	if errors.As(err, &status) {
		return status.Status().Code
	}
	return 0
}

// resync lists r again, sends what changed, and watches from there. An
// expired resourceVersion relists at once; anything else waits, longer each
// time, so that a watch the user may not make does not spin.
func (w *watcher) resync(ctx context.Context, r *followed, now bool) error {
	r.stop()
	for {
		if !now {
			delay := watchRetryMax
			if r.failures < 8 {
				delay = min(watchRetryMin<<r.failures, watchRetryMax)
			}
			r.failures++
			t := time.NewTimer(delay)
			select {
			case <-ctx.Done():
				t.Stop()
				return ctx.Err()
			case <-t.C:
			}
		}
		now = false
		rv, err := r.relist(ctx)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err != nil {
			continue
		}
		r.rv = rv
		if err := r.begin(ctx); err == nil {
			return nil
		}
	}
}

func (w *watcher) relistDataVolumes(ctx context.Context) (string, error) {
	list, err := w.listDataVolumes(ctx)
	if err != nil {
		return "", err
	}
	present := map[string]bool{}
	for i := range list.Items {
		dv := &list.Items[i]
		if !w.wanted(dv) {
			continue
		}
		present[key(dv.Namespace, dv.Name)] = true
		if err := w.upsert(ctx, dv); err != nil {
			return "", err
		}
	}
	var gone []string
	for k := range w.dvs {
		if !present[k] {
			gone = append(gone, k)
		}
	}
	slices.Sort(gone)
	for _, k := range gone {
		if err := w.remove(ctx, w.dvs[k].dv); err != nil {
			return "", err
		}
	}
	return list.ResourceVersion, nil
}

func (w *watcher) relistClaims(ctx context.Context) (string, error) {
	list, err := w.listClaims(ctx)
	if err != nil {
		return "", err
	}
	old := w.claims
	w.claims = map[string]*corev1.PersistentVolumeClaim{}
	w.claimUIDs = map[types.UID]string{}
	for i := range list.Items {
		w.putClaim(&list.Items[i])
	}
	changed := map[string]bool{}
	for k := range old {
		changed[k] = true
	}
	for k := range w.claims {
		changed[k] = true
	}
	keys := make([]string, 0, len(changed))
	for k := range changed {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if err := w.refresh(ctx, k); err != nil {
			return "", err
		}
	}
	return list.ResourceVersion, nil
}

func (w *watcher) relistEvents(ctx context.Context) (string, error) {
	list, err := w.listEvents(ctx)
	if err != nil {
		return "", err
	}
	slices.SortStableFunc(list.Items, func(a, b corev1.Event) int {
		return lastSeen(&a).Compare(lastSeen(&b))
	})
	present := map[types.UID]bool{}
	for i := range list.Items {
		present[list.Items[i].UID] = true
		if err := w.onEventObject(ctx, &list.Items[i]); err != nil {
			return "", err
		}
	}
	for uid := range w.seen {
		if !present[uid] {
			delete(w.seen, uid)
		}
	}
	return list.ResourceVersion, nil
}

func (w *watcher) onDataVolume(ctx context.Context, ev watch.Event) error {
	dv, ok := ev.Object.(*cdiv1.DataVolume)
	if !ok || !w.wanted(dv) {
		return nil
	}
	if ev.Type == watch.Deleted {
		return w.remove(ctx, dv)
	}
	return w.upsert(ctx, dv)
}

func (w *watcher) onClaim(ctx context.Context, ev watch.Event) error {
	pvc, ok := ev.Object.(*corev1.PersistentVolumeClaim)
	if !ok {
		return nil
	}
	k := key(pvc.Namespace, pvc.Name)
	if ev.Type == watch.Deleted {
		delete(w.claims, k)
		delete(w.claimUIDs, pvc.UID)
	} else {
		w.putClaim(pvc)
	}
	return w.refresh(ctx, k)
}

func (w *watcher) onEvent(ctx context.Context, ev watch.Event) error {
	e, ok := ev.Object.(*corev1.Event)
	if !ok {
		return nil
	}
	if ev.Type == watch.Deleted {
		delete(w.seen, e.UID)
		return nil
	}
	return w.onEventObject(ctx, e)
}

// onEventObject sends an event about a followed DataVolume, once per
// resourceVersion (a repeat counts up and is news), and keeps one about a
// DataVolume not seen yet for when it arrives.
func (w *watcher) onEventObject(ctx context.Context, e *corev1.Event) error {
	if rv, ok := w.seen[e.UID]; ok && rv == e.ResourceVersion {
		return nil
	}
	w.seen[e.UID] = e.ResourceVersion
	k := w.eventTarget(e)
	if k == "" {
		return nil
	}
	if st := w.dvs[k]; st != nil {
		return w.send(ctx, instancev1.WatchDataVolumesResponse_EVENT, nil, toEvent(e, st.dv.Name))
	}
	if _, name, _ := strings.Cut(k, "/"); w.names != nil && !w.names[name] {
		return nil
	}
	w.keep(k, e)
	return nil
}

// eventTarget is the key of the DataVolume an event is about, or "": the
// DataVolume itself, its claim, CDI's populator claim prime-UID, or the
// importer pod (importer-NAME, or importer-prime-UID for populators).
func (w *watcher) eventTarget(e *corev1.Event) string {
	o := e.InvolvedObject
	ns := o.Namespace
	if ns == "" {
		ns = e.Namespace
	}
	byUID := func(uid string) string {
		if ck, ok := w.claimUIDs[types.UID(uid)]; ok {
			return w.byClaim[ck]
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
		if k, ok := w.byClaim[key(ns, o.Name)]; ok {
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
func (w *watcher) keep(k string, e *corev1.Event) {
	now := time.Now()
	if _, ok := w.pending[k]; !ok && len(w.pending) >= pendingVolumes {
		for pk, list := range w.pending {
			if now.Sub(list[len(list)-1].at) > pendingTTL {
				delete(w.pending, pk)
			}
		}
		if len(w.pending) >= pendingVolumes {
			return
		}
	}
	w.pending[k] = append(w.pending[k], pendingEvent{ev: e, at: now})
	if list := w.pending[k]; len(list) > pendingPerVolume {
		w.pending[k] = list[len(list)-pendingPerVolume:]
	}
}

func (w *watcher) upsert(ctx context.Context, dv *cdiv1.DataVolume) error {
	k := key(dv.Namespace, dv.Name)
	st := w.dvs[k]
	if st != nil && claimName(st.dv) != claimName(dv) {
		delete(w.byClaim, key(dv.Namespace, claimName(st.dv)))
	}
	w.byClaim[key(dv.Namespace, claimName(dv))] = k
	msg := w.message(dv)
	if st == nil {
		w.dvs[k] = &watched{dv: dv, msg: msg}
		if err := w.send(ctx, instancev1.WatchDataVolumesResponse_ADDED, msg, nil); err != nil {
			return err
		}
		kept := w.pending[k]
		delete(w.pending, k)
		for _, p := range kept {
			if time.Since(p.at) <= pendingTTL {
				if err := w.send(ctx, instancev1.WatchDataVolumesResponse_EVENT, nil, toEvent(p.ev, dv.Name)); err != nil {
					return err
				}
			}
		}
		return nil
	}
	st.dv = dv
	if proto.Equal(st.msg, msg) {
		return nil
	}
	st.msg = msg
	return w.send(ctx, instancev1.WatchDataVolumesResponse_MODIFIED, msg, nil)
}

func (w *watcher) remove(ctx context.Context, dv *cdiv1.DataVolume) error {
	k := key(dv.Namespace, dv.Name)
	st := w.dvs[k]
	if st == nil {
		return nil
	}
	delete(w.dvs, k)
	delete(w.pending, k)
	if ck := key(dv.Namespace, claimName(st.dv)); w.byClaim[ck] == k {
		delete(w.byClaim, ck)
	}
	return w.send(ctx, instancev1.WatchDataVolumesResponse_DELETED, w.message(dv), nil)
}

// refresh sends MODIFIED for the DataVolume of claim k if the claim's change
// changed its message.
func (w *watcher) refresh(ctx context.Context, k string) error {
	st := w.dvs[w.byClaim[k]]
	if st == nil {
		return nil
	}
	msg := w.message(st.dv)
	if proto.Equal(st.msg, msg) {
		return nil
	}
	st.msg = msg
	return w.send(ctx, instancev1.WatchDataVolumesResponse_MODIFIED, msg, nil)
}

func (w *watcher) putClaim(pvc *corev1.PersistentVolumeClaim) {
	k := key(pvc.Namespace, pvc.Name)
	w.claims[k] = pvc
	w.claimUIDs[pvc.UID] = k
}

func (w *watcher) wanted(dv *cdiv1.DataVolume) bool {
	return w.names == nil || w.names[dv.Name]
}

// message is the DataVolume with its claim; the claim's storage class is
// named but not read, which would cost a request per class.
func (w *watcher) message(dv *cdiv1.DataVolume) *instancev1.DataVolume {
	return toDataVolume(dv, w.claims[key(dv.Namespace, claimName(dv))], nil)
}

func (w *watcher) send(ctx context.Context, typ instancev1.WatchDataVolumesResponse_Type, dv *instancev1.DataVolume, ev *instancev1.Event) error {
	msg := &instancev1.WatchDataVolumesResponse{Type: typ, DataVolume: dv, Event: ev}
	select {
	case w.out <- msg:
		return nil
	case <-ctx.Done():
		return ctx.Err()
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
