package instance

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"connectrpc.com/connect"
	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	utilnet "k8s.io/apimachinery/pkg/util/net"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/tools/cache"
	"k8s.io/klog/v2"
	cdiv1 "kubevirt.io/containerized-data-importer-api/pkg/apis/core/v1beta1"

	instancev1 "github.com/otterscale/kubectl-otterscale/gen/otterscale/instance/v1"
	"github.com/otterscale/kubectl-otterscale/pkg/cluster"
)

const (
	// watchBuffer lets a burst of changes through while the consumer
	// renders; beyond it the watch waits for the consumer.
	watchBuffer = 64
	// watchTimeout is the shortest a watch request lasts before it is
	// opened again from where it was: kube-apiserver's own default
	// (--min-request-timeout, 30 to 60 min) rather than the reflector's
	// 5 to 10 min, which would make a long `dv watch` open each watch
	// six times as often for nothing.
	watchTimeout = 30 * time.Minute
	// watchRetry is how often a watch is tried again while the API
	// server refuses connections.
	watchRetry = time.Second
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
// importer pod. Nothing is polled. What goes out is the join's to decide
// (join.go); this file keeps the three resources' copies current.
//
// Each resource is followed by client-go's reflector: it resumes from the
// last resourceVersion after the connection drops or the API server
// restarts, and lists again when that version has expired (410 Gone); the
// join then sends only what differs from what was sent: a state is never
// sent twice. Errors after the start are retried with backoff, never
// returned. The channel closes when ctx ends, once every request the watch
// made has ended.
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
	ctx, cancel := context.WithCancel(ctx)
	w.start(ctx, c, s.watchList)
	if err := w.await(ctx); err != nil {
		cancel()
		w.wg.Wait()
		w.lists.wait()
		return nil, err
	}
	out := make(chan *instancev1.WatchDataVolumesResponse, watchBuffer)
	go w.run(ctx, cancel, out)
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

// Which resource a change is about.
const (
	dataVolumes = iota
	claims
	events
)

// watcher is one Watch: a reflector per resource, each writing into a feed
// that hands its changes, in order, to the one goroutine that owns the join.
type watcher struct {
	ns string
	// The selectors of each resource's list and watch.
	dvLabels, dvFields, claimFields string

	j       *joiner
	res     [3]*followed
	changes chan change
	// wg counts the reflectors' goroutines, lists their lists; listing
	// lets one list run at a time.
	wg      sync.WaitGroup
	lists   calls
	listing chan struct{}
}

// followed is one of the three resources followed.
type followed struct {
	what   string // for errors: "data volumes", "claims", "events"
	cancel context.CancelFunc
	// listed is set once its first list has reached the join; off once
	// it may not be read (only claims and events may be off).
	listed, off atomic.Bool
	// failed receives the first list's error, if it fails.
	failed   chan error
	reported atomic.Bool
}

// change is what a reflector wrote into its store.
type change struct {
	res  int
	op   changeOp
	obj  any
	list []any
}

type changeOp int

const (
	opSet changeOp = iota
	opDelete
	opReplace
)

func newWatcher(req *instancev1.WatchDataVolumesRequest) (*watcher, error) {
	sel, err := validateWatch(req)
	if err != nil {
		return nil, err
	}
	w := &watcher{
		ns:       req.GetNamespace(),
		dvLabels: sel.String(),
		j:        newJoiner(req.GetNames()),
		changes:  make(chan change),
		listing:  make(chan struct{}, 1),
	}
	if names := req.GetNames(); len(slices.Compact(slices.Sorted(slices.Values(names)))) == 1 {
		// The API server filters one name; several are filtered by the
		// join, as field selectors have no set operator. The claim is
		// named after its DataVolume.
		w.dvFields = fields.OneTermEqualSelector("metadata.name", names[0]).String()
		w.claimFields = w.dvFields
	}
	for i, what := range []string{"data volumes", "claims", "events"} {
		w.res[i] = &followed{what: what, failed: make(chan error, 1)}
	}
	return w, nil
}

func (w *watcher) where() string {
	if w.ns == "" {
		return "in all namespaces"
	}
	return fmt.Sprintf("in namespace %q", w.ns)
}

// start runs a reflector for each resource. watchList, when set, says
// whether the first list is a streaming one (a watch that sends the
// current state first); nil leaves it to client-go's WatchListClient
// feature gate.
func (w *watcher) start(ctx context.Context, c *cluster.Clients, watchList *bool) {
	type lister struct {
		typ   runtime.Object
		list  func(context.Context, metav1.ListOptions) (runtime.Object, error)
		watch func(context.Context, metav1.ListOptions) (watch.Interface, error)
	}
	dvs, pvcs, evs := c.CDI.CdiV1beta1().DataVolumes(w.ns), c.Core.PersistentVolumeClaims(w.ns), c.Core.Events(w.ns)
	listers := [3]lister{
		dataVolumes: {
			typ: &cdiv1.DataVolume{},
			list: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
				o.LabelSelector, o.FieldSelector = w.dvLabels, w.dvFields
				return dvs.List(ctx, o)
			},
			watch: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
				o.LabelSelector, o.FieldSelector = w.dvLabels, w.dvFields
				return dvs.Watch(ctx, o)
			},
		},
		claims: {
			typ: &corev1.PersistentVolumeClaim{},
			list: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
				o.FieldSelector = w.claimFields
				return pvcs.List(ctx, o)
			},
			watch: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
				o.FieldSelector = w.claimFields
				return pvcs.Watch(ctx, o)
			},
		},
		events: {
			typ: &corev1.Event{},
			list: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
				return evs.List(ctx, o)
			},
			watch: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
				return evs.Watch(ctx, o)
			},
		},
	}
	for i, l := range listers {
		r := w.res[i]
		rctx, cancel := context.WithCancel(ctx)
		r.cancel = cancel
		// The reflectors log through the context's logger; a watch
		// that fails because it was stopped is no news.
		// logr.New initialises the sink it is given, and the
		// context's is shared: wrap a copy (WithValues makes one).
		if sink := klog.FromContext(rctx).GetSink(); sink != nil {
			rctx = klog.NewContext(rctx, logr.New(quietWhenDone{ctx: rctx, LogSink: sink.WithValues()}))
		}
		lw := &cache.ListWatch{
			ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
				// The reflector lists in a goroutine of its own that
				// it does not wait for; run does.
				if !w.lists.begin() {
					return nil, ctx.Err()
				}
				defer w.lists.end()
				// The reflector's first list asks for any version the
				// API server's cache holds ("0"), which may be older
				// than a DataVolume just created: `dv create --wait`
				// would find it missing. Ask for the latest, in one
				// request, as kubectl get does.
				if o.ResourceVersion == "0" {
					o.ResourceVersion = ""
				}
				o.Limit = 0
				// One list at a time, as before: the three decoded at
				// once would raise the peak memory of a watch over
				// many DataVolumes (by a sixth at 1,000).
				select {
				case w.listing <- struct{}{}:
				case <-ctx.Done():
					return nil, ctx.Err()
				}
				obj, err := l.list(ctx, o)
				<-w.listing
				r.report(ctx, err)
				return obj, err
			},
			WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
				wi, err := l.watch(ctx, o)
				// While the API server is down, the reflector would
				// back off up to 30 s, each resource on its own, so
				// the first changes after a restart could come late
				// and a DataVolume's before its claim's. Retry each
				// second, as the RetryWatcher this replaced did.
				for o.SendInitialEvents == nil && utilnet.IsConnectionRefused(err) {
					t := time.NewTimer(watchRetry)
					select {
					case <-ctx.Done():
						t.Stop()
						return nil, err
					case <-t.C:
					}
					wi, err = l.watch(ctx, o)
				}
				// A streaming list's error is the first list's too,
				// unless the API server does not stream lists (it
				// refuses sendInitialEvents as invalid): the
				// reflector then lists as usual.
				if o.SendInitialEvents != nil && *o.SendInitialEvents && !apierrors.IsInvalid(err) && !apierrors.IsBadRequest(err) {
					r.report(ctx, err)
				}
				return wi, err
			},
		}
		refl := cache.NewReflectorWithOptions(lw, l.typ, feed{ctx: rctx, res: i, ch: w.changes}, cache.ReflectorOptions{
			Name:            "instance.Watch " + r.what,
			TypeDescription: r.what,
			MinWatchTimeout: watchTimeout,
		})
		if watchList != nil {
			refl.UseWatchList = watchList
		}
		w.wg.Go(func() { refl.RunWithContext(rctx) })
	}
}

// report passes on the first list's error, once, to await, which fails
// the Watch or drops the resource, and either way stops its reflector. It
// waits for that: the reflector would log the error and retry.
func (r *followed) report(ctx context.Context, err error) {
	if err != nil && !r.listed.Load() && r.reported.CompareAndSwap(false, true) {
		r.failed <- err
		<-ctx.Done()
	}
}

// await waits for every resource's first list, so that a cluster that
// cannot be read fails the call rather than the stream. A resource the
// user may not read is dropped, unless it is the DataVolumes.
func (w *watcher) await(ctx context.Context) error {
	for waiting := len(w.res); waiting > 0; {
		select {
		case <-ctx.Done():
			return cluster.Error(ctx.Err(), "watch data volumes "+w.where())
		case ch := <-w.changes:
			r := w.res[ch.res]
			w.apply(ch)
			if ch.op == opReplace && !r.off.Load() && !r.listed.Swap(true) {
				waiting--
			}
		case err := <-w.res[dataVolumes].failed:
			return cluster.Error(err, "watch data volumes: list data volumes "+w.where())
		case err := <-w.res[claims].failed:
			if err := w.drop(claims, err); err != nil {
				return err
			}
			waiting--
		case err := <-w.res[events].failed:
			if err := w.drop(events, err); err != nil {
				return err
			}
			waiting--
		}
	}
	return nil
}

// drop stops following a resource whose first list was refused.
func (w *watcher) drop(res int, err error) error {
	r := w.res[res]
	if !apierrors.IsForbidden(err) {
		return cluster.Error(err, "watch data volumes: list "+r.what+" "+w.where())
	}
	r.off.Store(true)
	r.cancel()
	return nil
}

// run sends the opening, then what each change makes the join decide,
// until ctx ends; then it stops the reflectors, waits for them and closes
// out.
func (w *watcher) run(ctx context.Context, cancel context.CancelFunc, out chan<- *instancev1.WatchDataVolumesResponse) {
	defer close(out)
	defer w.lists.wait()
	defer w.wg.Wait()
	defer cancel()
	w.j.open()
	for {
		for _, msg := range w.j.take() {
			select {
			case out <- msg:
			case <-ctx.Done():
				return
			}
		}
		select {
		case <-ctx.Done():
			return
		case ch := <-w.changes:
			w.apply(ch)
		}
	}
}

// apply tells the join what a reflector wrote.
func (w *watcher) apply(ch change) {
	if w.res[ch.res].off.Load() {
		return
	}
	j, gone := w.j, ch.op == opDelete
	switch o := ch.obj.(type) {
	case *cdiv1.DataVolume:
		if gone {
			j.dataVolumeGone(o)
		} else {
			j.dataVolume(o)
		}
	case *corev1.PersistentVolumeClaim:
		if gone {
			j.claimGone(o)
		} else {
			j.claim(o)
		}
	case *corev1.Event:
		if gone {
			j.eventGone(o)
		} else {
			j.event(o)
		}
	}
	if ch.op != opReplace {
		return
	}
	// In the order the API server lists (a streaming list's arrives
	// unordered).
	slices.SortFunc(ch.list, func(a, b any) int { return strings.Compare(objectKey(a), objectKey(b)) })
	switch ch.res {
	case dataVolumes:
		j.dataVolumeList(typed[*cdiv1.DataVolume](ch.list))
	case claims:
		j.claimList(typed[*corev1.PersistentVolumeClaim](ch.list))
	case events:
		j.eventList(typed[*corev1.Event](ch.list))
	}
}

func objectKey(obj any) string {
	m, err := meta.Accessor(obj)
	if err != nil {
		return ""
	}
	return key(m.GetNamespace(), m.GetName())
}

func typed[T any](list []any) []T {
	out := make([]T, 0, len(list))
	for _, o := range list {
		if t, ok := o.(T); ok {
			out = append(out, t)
		}
	}
	return out
}

// calls counts the requests under way; once wait has begun, no new one
// starts.
type calls struct {
	mu     sync.Mutex
	n      int
	closed bool
	idle   *sync.Cond
}

func (c *calls) begin() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return false
	}
	c.n++
	return true
}

func (c *calls) end() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n--; c.n == 0 && c.idle != nil {
		c.idle.Broadcast()
	}
}

func (c *calls) wait() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	c.idle = sync.NewCond(&c.mu)
	for c.n > 0 {
		c.idle.Wait()
	}
}

// feed is the store a reflector writes to: it hands each change to the
// watcher's goroutine and keeps nothing itself (the join keeps what it
// needs). A change waits for that goroutine, so a consumer that reads
// slowly slows the watches down rather than filling memory.
type feed struct {
	ctx context.Context
	res int
	ch  chan<- change
}

func (f feed) push(ch change) error {
	ch.res = f.res
	select {
	case f.ch <- ch:
	case <-f.ctx.Done():
	}
	return nil
}

func (f feed) Add(obj any) error    { return f.push(change{op: opSet, obj: obj}) }
func (f feed) Update(obj any) error { return f.push(change{op: opSet, obj: obj}) }
func (f feed) Delete(obj any) error { return f.push(change{op: opDelete, obj: obj}) }
func (f feed) Replace(list []any, _ string) error {
	return f.push(change{op: opReplace, list: list})
}
func (f feed) Resync() error { return nil }

// quietWhenDone drops what is logged once ctx has ended: a reflector may
// report its watch failing when it is stopped on purpose (the command or
// the stream ending, the proxy shutting down).
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
