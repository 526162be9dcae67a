package resource_test

import (
	"context"
	"fmt"
	"runtime"
	"runtime/pprof"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/yaml"

	resourcev1 "github.com/otterscale/kubectl-otterscale/gen/otterscale/resource/v1"
	"github.com/otterscale/kubectl-otterscale/gen/otterscale/resource/v1/resourcev1connect"
	"github.com/otterscale/kubectl-otterscale/internal/testenv"
)

// events reads a Watch stream into a channel, until the stream ends.
type events struct {
	ch   chan *resourcev1.WatchEvent
	done chan error
}

func watchDataVolumes(ctx context.Context, t *testing.T, c resourcev1connect.ResourceServiceClient, ns, rv string) *events {
	t.Helper()
	g, v, r := dataVolumes.Group, dataVolumes.Version, dataVolumes.Resource
	stream, err := c.Watch(ctx, connect.NewRequest(&resourcev1.WatchRequest{
		Group: &g, Version: &v, Resource: &r, Namespace: &ns, ResourceVersion: &rv,
	}))
	if err != nil {
		t.Fatal(err)
	}
	e := &events{ch: make(chan *resourcev1.WatchEvent, 100), done: make(chan error, 1)}
	go func() {
		defer close(e.ch)
		for stream.Receive() {
			e.ch <- stream.Msg()
		}
		e.done <- stream.Err()
		_ = stream.Close()
	}()
	return e
}

// next is the next event that is not a bookmark.
func (e *events) next(t *testing.T) *resourcev1.WatchEvent {
	t.Helper()
	timeout := time.After(30 * time.Second)
	for {
		select {
		case ev, ok := <-e.ch:
			if !ok {
				t.Fatalf("the stream ended: %v", <-e.done)
			}
			if ev.GetType() == resourcev1.WatchEvent_TYPE_BOOKMARK {
				if ev.GetResource() != nil || ev.GetResourceVersion() == "" {
					t.Errorf("bookmark with resource %v, version %q", ev.GetResource(), ev.GetResourceVersion())
				}
				continue
			}
			return ev
		case <-timeout:
			t.Fatal("no event in 30s")
		}
	}
}

func (e *events) want(t *testing.T, typ resourcev1.WatchEvent_Type, name string) *unstructured.Unstructured {
	t.Helper()
	ev := e.next(t)
	u := object(t, ev.GetResource())
	if ev.GetType() != typ || u.GetName() != name {
		t.Fatalf("got %s %s, want %s %s", ev.GetType(), u.GetName(), typ, name)
	}
	if ev.GetResourceVersion() != u.GetResourceVersion() {
		t.Errorf("event version %q, object's %q", ev.GetResourceVersion(), u.GetResourceVersion())
	}
	return u
}

func (f *fixture) createDataVolume(t *testing.T, name string) *unstructured.Unstructured {
	t.Helper()
	u := &unstructured.Unstructured{}
	if err := yaml.Unmarshal(fmt.Appendf(nil, dvManifest, name), &u.Object); err != nil {
		t.Fatal(err)
	}
	created, err := f.env.Dynamic.Resource(dataVolumes).Namespace(f.ns).Create(t.Context(), u, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return created
}

// A watch from "" lists first, then follows ADDED, MODIFIED and DELETED as
// the API server sees them; in each protocol; and ends cleanly when the
// caller goes.
func TestWatch(t *testing.T) {
	f := setup(t)
	f.createDataVolume(t, "before")
	for _, p := range protocols {
		t.Run(p, func(t *testing.T) {
			ctx, cancel := context.WithCancel(t.Context())
			e := watchDataVolumes(ctx, t, f.clients[p], f.ns, "")
			e.want(t, resourcev1.WatchEvent_TYPE_ADDED, "before")
			name := "w-" + testenv.Suffix()
			f.createDataVolume(t, name)
			e.want(t, resourcev1.WatchEvent_TYPE_ADDED, name)
			dvs := f.env.Dynamic.Resource(dataVolumes).Namespace(f.ns)
			if _, err := dvs.Patch(t.Context(), name, types.MergePatchType, []byte(`{"metadata":{"labels":{"x":"y"}}}`), metav1.PatchOptions{}); err != nil {
				t.Fatal(err)
			}
			if u := e.want(t, resourcev1.WatchEvent_TYPE_MODIFIED, name); u.GetLabels()["x"] != "y" {
				t.Errorf("modified labels %v", u.GetLabels())
			}
			if err := dvs.Delete(t.Context(), name, metav1.DeleteOptions{}); err != nil {
				t.Fatal(err)
			}
			e.want(t, resourcev1.WatchEvent_TYPE_DELETED, name)
			cancel()
			select {
			case err := <-e.done:
				if err != nil && connect.CodeOf(err) != connect.CodeCanceled {
					t.Errorf("the stream ended with %v", err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("the stream did not end when the caller left")
			}
		})
	}
}

// A watch from a version the caller gives starts there, without a list.
func TestWatchFromVersion(t *testing.T) {
	f := setup(t)
	old := f.createDataVolume(t, "old")
	e := watchDataVolumes(t.Context(), t, f.clients["grpc"], f.ns, old.GetResourceVersion())
	f.createDataVolume(t, "new")
	e.want(t, resourcev1.WatchEvent_TYPE_ADDED, "new")
}

// A watch survives an API server restart: what happens after it arrives,
// and nothing from before is sent again.
func TestWatchAcrossRestart(t *testing.T) {
	f := setup(t)
	e := watchDataVolumes(t.Context(), t, f.clients["connect+json"], f.ns, "")
	f.createDataVolume(t, "a")
	e.want(t, resourcev1.WatchEvent_TYPE_ADDED, "a")
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	if err := f.env.RestartAPIServer(ctx); err != nil {
		t.Fatal(err)
	}
	f.createDataVolume(t, "b")
	e.want(t, resourcev1.WatchEvent_TYPE_ADDED, "b")
}

// A caller's own version that has expired ends the stream with a
// TYPE_ERROR event carrying the API server's 410 Status, for the caller
// to list again, as a Kubernetes watch does.
func TestWatchExpiredVersion(t *testing.T) {
	f := setup(t)
	for _, p := range protocols {
		t.Run(p, func(t *testing.T) {
			e := watchDataVolumes(t.Context(), t, f.clients[p], f.ns, "1")
			ev := e.next(t)
			if ev.GetType() != resourcev1.WatchEvent_TYPE_ERROR {
				t.Fatalf("got %s, want TYPE_ERROR", ev.GetType())
			}
			st := ev.GetResource().GetObject().AsMap()
			if st["kind"] != "Status" || st["code"] != float64(410) {
				t.Errorf("error event carries %v", st)
			}
			select {
			case _, ok := <-e.ch:
				if ok {
					t.Error("the stream went on after TYPE_ERROR")
				}
			case <-time.After(10 * time.Second):
				t.Error("the stream did not end after TYPE_ERROR")
			}
			if err := <-e.done; err != nil {
				t.Errorf("the stream ended with %v, want OK", err)
			}
		})
	}
}

// Watches that end leave no goroutine behind: the second of two rounds of
// 30 streams ends with as many as the first did (watch.Filter, once used
// here, kept one per watch).
func TestWatchLeavesNoGoroutines(t *testing.T) {
	f := setup(t)
	f.createDataVolume(t, "x")
	g, v, r := dataVolumes.Group, dataVolumes.Version, dataVolumes.Resource
	round := func() int {
		ctx, cancel := context.WithCancel(t.Context())
		var wg sync.WaitGroup
		var opened sync.WaitGroup
		for i := range 30 {
			opened.Add(1)
			wg.Go(func() {
				s, err := f.clients[protocols[i%len(protocols)]].Watch(ctx, connect.NewRequest(&resourcev1.WatchRequest{Group: &g, Version: &v, Resource: &r, Namespace: &f.ns}))
				opened.Done()
				if err != nil {
					t.Error(err)
					return
				}
				for s.Receive() {
				}
				_ = s.Close()
			})
		}
		opened.Wait()
		time.Sleep(time.Second) // every watch under way
		cancel()
		wg.Wait()
		http1.CloseIdleConnections()
		h2c.CloseIdleConnections()
		return settledGoroutines()
	}
	first := round()
	if second := round(); second > first+5 {
		var stacks strings.Builder
		_ = pprof.Lookup("goroutine").WriteTo(&stacks, 1)
		t.Errorf("goroutines grew from %d to %d after the second round:\n%s", first, second, stacks.String())
	}
}

// settledGoroutines waits until the goroutine count holds still for a
// second (at most 10 s) and answers it.
func settledGoroutines() int {
	last, same := runtime.NumGoroutine(), 0
	for deadline := time.Now().Add(10 * time.Second); same < 4 && time.Now().Before(deadline); {
		time.Sleep(250 * time.Millisecond)
		if n := runtime.NumGoroutine(); n == last {
			same++
		} else {
			last, same = n, 0
		}
	}
	return last
}
