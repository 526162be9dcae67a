package resource

import (
	"context"
	"fmt"
	"sync"

	"connectrpc.com/connect"
	"github.com/go-logr/logr"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/dynamic"
	watchtools "k8s.io/client-go/tools/watch"
	"k8s.io/klog/v2"

	resourcev1 "github.com/otterscale/kubectl-otterscale/gen/otterscale/resource/v1"
)

// listPage is how many objects one list request of a watch asks for.
const listPage = 500

// Watch streams the changes of one resource type. Without a resource
// version it first lists (an ADDED per object), as a Kubernetes watch from
// "" does; then it sends a TYPE_BOOKMARK with the version it follows from,
// and follows from there with client-go's RetryWatcher, which
// resumes after a dropped connection or an API server restart without
// losing or repeating events, and passes the API server's bookmarks on.
// When the version it follows has expired (410 Gone) it lists again and
// sends the difference; a caller's own version that has expired ends the
// stream with a TYPE_ERROR event carrying the API server's Status, as a
// Kubernetes watch does, for the caller to list again. The stream ends
// cleanly when the caller goes.
func (s *Service) Watch(ctx context.Context, req *connect.Request[resourcev1.WatchRequest], stream *connect.ServerStream[resourcev1.WatchEvent]) error {
	m := req.Msg
	t, err := s.target(ctx, m.GetCluster(), m.GetGroup(), m.GetVersion(), m.GetResource())
	if err != nil {
		return err
	}
	w := &watcher{
		client: t.client(m.GetNamespace()),
		what:   t.what() + inNamespace(m.GetNamespace()),
		label:  m.GetLabelSelector(),
		field:  m.GetFieldSelector(),
		send:   stream.Send,
	}
	err = w.run(ctx, m.GetResourceVersion())
	if ctx.Err() != nil {
		return nil // the caller left, or the proxy is shutting down
	}
	return err
}

type watcher struct {
	client       dynamic.ResourceInterface
	what         string
	label, field string
	send         func(*resourcev1.WatchEvent) error

	// known is every object sent and not deleted, when the watch began
	// with a list of its own: what a relist is compared with.
	known map[types.UID]*unstructured.Unstructured
}

// bookmark carries a bookmark through the RetryWatcher, which swallows
// bookmarks: as a MODIFIED of this type it keeps its place among the
// events, and the RetryWatcher still takes its resource version.
type bookmark struct{ *unstructured.Unstructured }

func (w *watcher) WatchWithContext(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
	opts.LabelSelector, opts.FieldSelector = w.label, w.field
	wi, err := w.client.Watch(ctx, opts)
	if err != nil {
		return nil, err
	}
	b := &bookmarks{in: wi, out: make(chan watch.Event), stop: make(chan struct{})}
	go b.loop()
	return b, nil
}

// bookmarks wraps bookmarks as a bookmark MODIFIED. Not watch.Filter: its
// goroutine blocks for ever on an event it holds when the reader stops
// (a goroutine leaked per watch, seen in the proxy's soak).
type bookmarks struct {
	in   watch.Interface
	out  chan watch.Event
	stop chan struct{}
	once sync.Once
}

func (b *bookmarks) ResultChan() <-chan watch.Event { return b.out }

func (b *bookmarks) Stop() {
	b.once.Do(func() { close(b.stop) })
	b.in.Stop()
}

func (b *bookmarks) loop() {
	defer close(b.out)
	for ev := range b.in.ResultChan() {
		if u, ok := ev.Object.(*unstructured.Unstructured); ok && ev.Type == watch.Bookmark {
			ev = watch.Event{Type: watch.Modified, Object: &bookmark{u}}
		}
		select {
		case b.out <- ev:
		case <-b.stop:
			return
		}
	}
}

func (w *watcher) run(ctx context.Context, rv string) error {
	if rv == "" || rv == "0" {
		w.known = map[types.UID]*unstructured.Unstructured{}
		var err error
		if rv, err = w.list(ctx); err != nil {
			return err
		}
	}
	// A bookmark at the version the watch follows from, as a Kubernetes
	// watch with initial events ends its list: it says where a caller
	// resumes from, and it sends the stream's headers, which clients wait
	// for before they return the stream (an empty list sends nothing).
	if err := w.send(&resourcev1.WatchEvent{
		Type:            resourcev1.WatchEvent_TYPE_BOOKMARK.Enum(),
		ResourceVersion: &rv,
	}); err != nil {
		return err
	}
	// The RetryWatcher logs each failed attempt; the stream's outcome is
	// what the proxy logs.
	wctx := klog.NewContext(ctx, logr.Discard())
	for {
		rw, err := watchtools.NewRetryWatcherWithContext(wctx, rv, w)
		if err != nil {
			return connect.NewError(connect.CodeInvalidArgument, fmt.Errorf("watch %s: %w", w.what, err))
		}
		next, err := w.follow(ctx, rw)
		rw.Stop()
		<-rw.Done()
		if err != nil || next == "" {
			return err
		}
		rv = next
	}
}

// follow sends what rw delivers until ctx ends or the version expires;
// then it answers the version to follow on from ("" to end).
func (w *watcher) follow(ctx context.Context, rw *watchtools.RetryWatcher) (string, error) {
	for {
		var ev watch.Event
		var ok bool
		select {
		case <-ctx.Done():
			return "", nil
		case ev, ok = <-rw.ResultChan():
		}
		if !ok {
			return "", ctx.Err()
		}
		switch o := ev.Object.(type) {
		case *bookmark:
			if err := w.send(&resourcev1.WatchEvent{
				Type:            resourcev1.WatchEvent_TYPE_BOOKMARK.Enum(),
				ResourceVersion: new(o.GetResourceVersion()),
			}); err != nil {
				return "", err
			}
			continue
		case *unstructured.Unstructured:
			if err := w.sendObject(ev.Type, o); err != nil {
				return "", err
			}
			continue
		}
		if ev.Type != watch.Error {
			continue
		}
		err := apierrors.FromObject(ev.Object)
		gone := apierrors.IsResourceExpired(err) || apierrors.IsGone(err)
		switch {
		case gone && w.known != nil:
			return w.relist(ctx)
		case gone:
			return "", w.sendError(err)
		}
		return "", apiError(err, "watch "+w.what)
	}
}

var eventTypes = map[watch.EventType]resourcev1.WatchEvent_Type{
	watch.Added:    resourcev1.WatchEvent_TYPE_ADDED,
	watch.Modified: resourcev1.WatchEvent_TYPE_MODIFIED,
	watch.Deleted:  resourcev1.WatchEvent_TYPE_DELETED,
}

func (w *watcher) sendObject(typ watch.EventType, u *unstructured.Unstructured) error {
	if w.known != nil {
		if typ == watch.Deleted {
			delete(w.known, u.GetUID())
		} else {
			w.known[u.GetUID()] = u
		}
	}
	rv := u.GetResourceVersion()
	r, err := toResource(u.DeepCopy())
	if err != nil {
		return err
	}
	return w.send(&resourcev1.WatchEvent{Type: eventTypes[typ].Enum(), Resource: r, ResourceVersion: &rv})
}

// sendError passes the API server's Status on as a TYPE_ERROR event.
func (w *watcher) sendError(err error) error {
	st, ok := err.(apierrors.APIStatus)
	if !ok {
		return apiError(err, "watch "+w.what)
	}
	status := st.Status()
	raw, cerr := runtime.DefaultUnstructuredConverter.ToUnstructured(&status)
	if cerr != nil {
		return apiError(err, "watch "+w.what)
	}
	u := &unstructured.Unstructured{Object: raw}
	u.SetAPIVersion("v1")
	u.SetKind("Status")
	r, cerr := toResource(u)
	if cerr != nil {
		return cerr
	}
	return w.send(&resourcev1.WatchEvent{Type: resourcev1.WatchEvent_TYPE_ERROR.Enum(), Resource: r, ResourceVersion: new("")})
}

// listAll lists every page and answers the list's resource version.
func (w *watcher) listAll(ctx context.Context, each func(*unstructured.Unstructured) error) (string, error) {
	opts := metav1.ListOptions{LabelSelector: w.label, FieldSelector: w.field, Limit: listPage}
	for {
		l, err := w.client.List(ctx, opts)
		if err != nil {
			return "", apiError(err, "list "+w.what)
		}
		for i := range l.Items {
			if err := each(&l.Items[i]); err != nil {
				return "", err
			}
		}
		if l.GetContinue() == "" {
			return l.GetResourceVersion(), nil
		}
		opts.Continue = l.GetContinue()
	}
}

// list sends an ADDED per object.
func (w *watcher) list(ctx context.Context) (string, error) {
	return w.listAll(ctx, func(u *unstructured.Unstructured) error { return w.sendObject(watch.Added, u) })
}

// relist lists again after the watch's version expired and sends only the
// difference from what was sent: ADDED, MODIFIED (a new resource version)
// and DELETED for what is gone.
func (w *watcher) relist(ctx context.Context) (string, error) {
	seen := map[types.UID]bool{}
	rv, err := w.listAll(ctx, func(u *unstructured.Unstructured) error {
		seen[u.GetUID()] = true
		old, ok := w.known[u.GetUID()]
		switch {
		case !ok:
			return w.sendObject(watch.Added, u)
		case old.GetResourceVersion() != u.GetResourceVersion():
			return w.sendObject(watch.Modified, u)
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	for uid, u := range w.known {
		if !seen[uid] {
			if err := w.sendObject(watch.Deleted, u); err != nil {
				return "", err
			}
		}
	}
	return rv, nil
}
