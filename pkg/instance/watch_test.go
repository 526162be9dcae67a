package instance_test

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	storagev1client "k8s.io/client-go/kubernetes/typed/storage/v1"
	"k8s.io/client-go/rest"
	cdiclient "kubevirt.io/client-go/containerizeddataimporter"
	cdiv1 "kubevirt.io/containerized-data-importer-api/pkg/apis/core/v1beta1"

	instancev1 "github.com/otterscale/kubectl-otterscale/gen/otterscale/instance/v1"
	"github.com/otterscale/kubectl-otterscale/gen/otterscale/instance/v1/instancev1connect"
	"github.com/otterscale/kubectl-otterscale/internal/cdisim"
	"github.com/otterscale/kubectl-otterscale/internal/testenv"
	"github.com/otterscale/kubectl-otterscale/pkg/cluster"
	"github.com/otterscale/kubectl-otterscale/pkg/instance"
	"github.com/otterscale/kubectl-otterscale/pkg/proxy"
)

const (
	added    = instancev1.WatchDataVolumesResponse_ADDED
	modified = instancev1.WatchDataVolumesResponse_MODIFIED
	deleted  = instancev1.WatchDataVolumesResponse_DELETED
	event    = instancev1.WatchDataVolumesResponse_EVENT
	synced   = instancev1.WatchDataVolumesResponse_SYNCED
)

// requests counts the requests a Watch makes, by verb and resource:
// "list datavolumes", "watch events", "get persistentvolumeclaims".
type requests struct {
	mu sync.Mutex
	n  map[string]int
}

func (r *requests) wrap(rt http.RoundTripper) http.RoundTripper {
	return roundTripFunc(func(req *http.Request) (*http.Response, error) {
		r.count(req)
		return rt.RoundTrip(req)
	})
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(req *http.Request) (*http.Response, error) { return f(req) }

func (r *requests) count(req *http.Request) {
	segs := strings.Split(strings.Trim(req.URL.Path, "/"), "/")
	verb := strings.ToLower(req.Method)
	res := segs[len(segs)-1]
	if req.Method == http.MethodGet {
		switch q := req.URL.Query().Get("watch"); {
		case q == "true" || q == "1":
			verb = "watch"
		case len(segs) >= 2 && isResource(segs[len(segs)-2]):
			res = segs[len(segs)-2]
		default:
			verb = "list"
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.n[verb+" "+res]++
}

func isResource(s string) bool {
	switch s {
	case "datavolumes", "persistentvolumeclaims", "events", "storageclasses", "pods":
		return true
	}
	return false
}

func (r *requests) snapshot() map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return maps.Clone(r.n)
}

// counted is a Provider whose clients count their requests.
type counted struct {
	clients *cluster.Clients
	reqs    *requests
}

func (c *counted) Clients(context.Context, string) (*cluster.Clients, error) { return c.clients, nil }

func newCounted(t *testing.T, env *testenv.Env) *counted {
	t.Helper()
	reqs := &requests{n: map[string]int{}}
	cfg := rest.CopyConfig(env.Config)
	cfg.Wrap(reqs.wrap)
	core, err := corev1client.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	storage, err := storagev1client.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	cdi, err := cdiclient.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &counted{
		clients: &cluster.Clients{Namespace: testenv.DefaultNamespace, Config: cfg, Core: core, Storage: storage, CDI: cdi},
		reqs:    reqs,
	}
}

// stream reads a Watch's channel for a test, keeping everything it read.
type stream struct {
	t   *testing.T
	ch  <-chan *instancev1.WatchDataVolumesResponse
	all []*instancev1.WatchDataVolumesResponse
}

func watchFor(t *testing.T, svc *instance.Service, req *instancev1.WatchDataVolumesRequest) *stream {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	ch, err := svc.Watch(ctx, req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	s := &stream{t: t, ch: ch}
	t.Cleanup(func() {
		cancel()
		// The channel closes once ctx ends.
		for range ch {
		}
	})
	return s
}

// until reads until a message satisfies pred and returns what it read,
// that message included.
func (s *stream) until(what string, pred func(*instancev1.WatchDataVolumesResponse) bool) []*instancev1.WatchDataVolumesResponse {
	s.t.Helper()
	timeout := time.After(60 * time.Second)
	var read []*instancev1.WatchDataVolumesResponse
	for {
		select {
		case m, ok := <-s.ch:
			if !ok {
				s.t.Fatalf("watch closed waiting for %s; read %s", what, describe(read))
			}
			read = append(read, m)
			s.all = append(s.all, m)
			if pred(m) {
				return read
			}
		case <-timeout:
			s.t.Fatalf("no %s after 60 s; read %s", what, describe(read))
		}
	}
}

// await is until unless such a message has been read already.
func (s *stream) await(what string, pred func(*instancev1.WatchDataVolumesResponse) bool) {
	s.t.Helper()
	if slices.ContainsFunc(s.all, pred) {
		return
	}
	s.until(what, pred)
}

func is(typ instancev1.WatchDataVolumesResponse_Type, name string) func(*instancev1.WatchDataVolumesResponse) bool {
	return func(m *instancev1.WatchDataVolumesResponse) bool {
		return m.GetType() == typ && (name == "" || m.GetDataVolume().GetName() == name)
	}
}

func phaseIs(name string, phase cdiv1.DataVolumePhase) func(*instancev1.WatchDataVolumesResponse) bool {
	return func(m *instancev1.WatchDataVolumesResponse) bool {
		return m.GetType() == modified && m.GetDataVolume().GetName() == name && m.GetDataVolume().GetPhase() == string(phase)
	}
}

func eventIs(reason string) func(*instancev1.WatchDataVolumesResponse) bool {
	return func(m *instancev1.WatchDataVolumesResponse) bool {
		return m.GetType() == event && m.GetEvent().GetReason() == reason
	}
}

func describe(msgs []*instancev1.WatchDataVolumesResponse) string {
	var b strings.Builder
	b.WriteString("[")
	for i, m := range msgs {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(m.GetType().String())
		if dv := m.GetDataVolume(); dv != nil {
			fmt.Fprintf(&b, " %s/%s %q %q", dv.GetNamespace(), dv.GetName(), dv.GetPhase(), dv.GetProgress())
		}
		if ev := m.GetEvent(); ev != nil {
			fmt.Fprintf(&b, " %s %s %s", ev.GetDataVolume(), ev.GetObject(), ev.GetReason())
		}
	}
	b.WriteString("]")
	return b.String()
}

// states compresses the DataVolume messages about name into the distinct
// phase/progress pairs in the order they arrived.
func states(msgs []*instancev1.WatchDataVolumesResponse, name string) []string {
	var out []string
	for _, m := range msgs {
		dv := m.GetDataVolume()
		if dv.GetName() != name {
			continue
		}
		s := dv.GetPhase() + " " + dv.GetProgress()
		if len(out) == 0 || out[len(out)-1] != s {
			out = append(out, s)
		}
	}
	return out
}

// subsequence tells whether got is want with some elements left out.
func subsequence(got, want []string) bool {
	i := 0
	for _, g := range got {
		for i < len(want) && want[i] != g {
			i++
		}
		if i == len(want) {
			return false
		}
		i++
	}
	return true
}

func count(msgs []*instancev1.WatchDataVolumesResponse, pred func(*instancev1.WatchDataVolumesResponse) bool) int {
	n := 0
	for _, m := range msgs {
		if pred(m) {
			n++
		}
	}
	return n
}

// createDV creates a DataVolume as a user would, through the service.
func (f *fixture) createDV(t *testing.T, ns, name string, boot bool) {
	t.Helper()
	_, err := f.svc.CreateDataVolume(t.Context(), connect.NewRequest(&instancev1.CreateDataVolumeRequest{
		Name: name, Namespace: ns, SizeBytes: 1 << 30, BootImage: boot,
		Source: &instancev1.DataVolume_Source{Type: instancev1.DataVolume_Source_HTTP_URL, Data: "https://example.com/disk.img"},
	}))
	if err != nil {
		t.Fatal(err)
	}
}

// newSim plays CDI in set-up C (an OtterScale cluster: ceph-csi's CSIDriver,
// CDI's populators).
func newSim(t *testing.T, env *testenv.Env) *cdisim.Sim {
	t.Helper()
	return newSimWith(t, env, cdisim.SetupC)
}

// newSimWith plays CDI in another set-up; set-up A (no CSIDriver) binds the
// DataVolume's own claim when the import is scheduled.
func newSimWith(t *testing.T, env *testenv.Env, setup cdisim.Setup) *cdisim.Sim {
	t.Helper()
	sim, err := cdisim.NewWith(env.Config, cdisim.Options{Setup: setup})
	if err != nil {
		t.Fatal(err)
	}
	return sim
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// An import followed from start to end through one list and one watch per
// resource: the phases and progress in order, the claim, the events that
// explain a stall, the deletion.
func TestWatchImport(t *testing.T) {
	testWatchImport(t, false)
}

// The same import followed with streaming lists (client-go's WatchList,
// which kube-apiserver 1.32 serves): the first list of each resource is a
// watch that sends the current state first and goes on, so each resource
// costs one request.
func TestWatchImportStreamingList(t *testing.T) {
	testWatchImport(t, true)
}

func testWatchImport(t *testing.T, streaming bool) {
	f := setup(t)
	ctx := t.Context()
	f.createDV(t, f.ns, "web", false)
	sim := newSim(t, f.env)
	prov := newCounted(t, f.env)
	svc := instance.New(prov)
	if streaming {
		instance.SetWatchList(svc, true)
	}

	s := watchFor(t, svc, &instancev1.WatchDataVolumesRequest{Namespace: f.ns})
	opening := s.until("SYNCED", is(synced, ""))
	if got := describe(opening); got != fmt.Sprintf(`[ADDED %s/web "" "", SYNCED]`, f.ns) {
		t.Fatalf("opening = %s", got)
	}

	// An event about something else in the namespace never reaches the
	// consumer; the ones that explain the stall do.
	must(t, sim.Event(ctx, f.ns, "Pod", "unrelated", corev1.EventTypeWarning, "BackOff", "not ours"))
	must(t, sim.Start(ctx, f.ns, "web"))
	uid, err := sim.ClaimUID(ctx, f.ns, "web")
	must(t, err)
	prime := "prime-" + string(uid)
	// The external provisioner failing once on the prime claim, which
	// the importer writes to.
	must(t, sim.Event(ctx, f.ns, "PersistentVolumeClaim", prime, corev1.EventTypeWarning, "ProvisioningFailed",
		`failed to provision volume with StorageClass "ceph-block": rpc error: code = Internal`))
	s.until("ProvisioningFailed", eventIs("ProvisioningFailed"))
	must(t, sim.Schedule(ctx, f.ns, "web"))
	must(t, sim.Run(ctx, f.ns, "web"))
	must(t, sim.Progress(ctx, f.ns, "web", 10))
	s.until("10%", func(m *instancev1.WatchDataVolumesResponse) bool { return m.GetDataVolume().GetProgress() == "10.00%" })
	// The importer crashes once and is restarted (CDI.md, failing import).
	must(t, sim.Crash(ctx, f.ns, "web", "Unable to connect to http data source: expected status code 200, got 404. Status: 404 Not Found"))
	s.until("Error", eventIs("Error"))
	must(t, sim.Run(ctx, f.ns, "web"))
	must(t, sim.Progress(ctx, f.ns, "web", 45.67))
	must(t, sim.Succeed(ctx, f.ns, "web"))
	s.until("Succeeded", phaseIs("web", cdiv1.Succeeded))
	// The populator binds the target claim after CDI marks the DataVolume
	// Succeeded.
	s.await("web's claim bound", func(m *instancev1.WatchDataVolumesResponse) bool {
		return m.GetDataVolume().GetName() == "web" && m.GetDataVolume().GetPersistentVolumeClaim().GetStatus() == "Bound"
	})

	// On the populator path the phase is empty until the prime claim is
	// bound (CDI.md, populator path).
	want := []string{" ", " N/A", "ImportScheduled N/A", "ImportInProgress N/A", "ImportInProgress 10.00%", "ImportInProgress 45.67%", "Succeeded 100.0%"}
	if got := states(s.all, "web"); !slices.Equal(got, want) {
		t.Errorf("states = %q\nwant     %q\nmessages %s", got, want, describe(s.all))
	}
	// The warnings that explain a stall, in order, each once; never the
	// unrelated pod's.
	var events []string
	for _, m := range s.all {
		if ev := m.GetEvent(); ev != nil {
			if ev.GetType() == corev1.EventTypeWarning {
				events = append(events, fmt.Sprintf("%s %s %s %s %s %d", ev.GetType(), ev.GetReason(), ev.GetDataVolume(), ev.GetNamespace(), ev.GetObject(), ev.GetCount()))
			}
			if ev.GetLastSeenAt() == nil {
				t.Errorf("event %s has no last_seen_at", ev.GetReason())
			}
			if ev.GetObject() == "Pod/unrelated" {
				t.Errorf("the unrelated pod's event reached the consumer: %v", ev)
			}
		}
	}
	wantEvents := []string{
		"Warning ProvisioningFailed web " + f.ns + " PersistentVolumeClaim/" + prime + " 1",
		"Warning ErrImportFailed web " + f.ns + " PersistentVolumeClaim/" + prime + " 1",
		"Warning Error web " + f.ns + " DataVolume/web 1",
	}
	if !slices.Equal(events, wantEvents) {
		t.Errorf("events = %q, want %q", events, wantEvents)
	}
	if n := count(s.all, func(m *instancev1.WatchDataVolumesResponse) bool { return m.GetDataVolume().GetRestartCount() == 1 }); n == 0 {
		t.Errorf("no message with restart_count 1: %s", describe(s.all))
	}

	// The last message is the DataVolume as stored, claim joined.
	var last *instancev1.DataVolume
	for _, m := range s.all {
		if m.GetDataVolume().GetName() == "web" {
			last = m.GetDataVolume()
		}
	}
	if pvc := last.GetPersistentVolumeClaim(); pvc.GetName() != "web" || pvc.GetStatus() != "Bound" || pvc.GetStorageClass().GetName() != "ceph-block" {
		t.Errorf("claim = %v, want web Bound in ceph-block", pvc)
	}
	stored, err := f.svc.GetDataVolume(ctx, connect.NewRequest(&instancev1.GetDataVolumeRequest{Namespace: f.ns, Name: "web"}))
	if err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(&instancev1.DataVolume{Conditions: last.GetConditions()}, &instancev1.DataVolume{Conditions: stored.Msg.GetConditions()}) ||
		last.GetPhase() != stored.Msg.GetPhase() || last.GetRestartCount() != stored.Msg.GetRestartCount() {
		t.Errorf("last message %v\ndiffers from the stored %v", last, stored.Msg)
	}
	for _, c := range last.GetConditions() {
		if c.GetType() == "Running" && (c.GetStatus() != "False" || c.GetReason() != "Completed") ||
			c.GetType() == "Ready" && c.GetStatus() != "True" {
			t.Errorf("condition %v after Succeeded", c)
		}
	}

	// Another event counted up (the provisioner failing again) is news.
	must(t, sim.Event(ctx, f.ns, "PersistentVolumeClaim", prime, corev1.EventTypeWarning, "ProvisioningFailed",
		`failed to provision volume with StorageClass "ceph-block": rpc error: code = Internal`))
	got := s.until("ProvisioningFailed again", func(m *instancev1.WatchDataVolumesResponse) bool {
		return eventIs("ProvisioningFailed")(m) && m.GetEvent().GetCount() == 2
	})
	if ev := got[len(got)-1].GetEvent(); ev.GetCount() != 2 {
		t.Errorf("repeated ProvisioningFailed count = %d, want 2", ev.GetCount())
	}

	if _, err := f.svc.DeleteDataVolume(ctx, connect.NewRequest(&instancev1.DeleteDataVolumeRequest{Namespace: f.ns, Name: "web"})); err != nil {
		t.Fatal(err)
	}
	gone := s.until("DELETED", is(deleted, "web"))
	if dv := gone[len(gone)-1].GetDataVolume(); dv.GetPhase() != "Succeeded" || dv.GetRestartCount() != 1 {
		t.Errorf("DELETED carries %v, want the last state", dv)
	}
	if n := count(s.all, is(added, "web")); n != 1 {
		t.Errorf("ADDED web %d times", n)
	}

	wantReqs := map[string]int{
		"list datavolumes": 1, "watch datavolumes": 1,
		"list persistentvolumeclaims": 1, "watch persistentvolumeclaims": 1,
		"list events": 1, "watch events": 1,
	}
	if streaming {
		wantReqs = map[string]int{"watch datavolumes": 1, "watch persistentvolumeclaims": 1, "watch events": 1}
	}
	got2 := prov.reqs.snapshot()
	t.Logf("requests over the whole watch: %v", got2)
	if !maps.Equal(got2, wantReqs) {
		t.Errorf("requests = %v, want %v", got2, wantReqs)
	}
}

func TestWatchNames(t *testing.T) {
	f := setup(t)
	ctx := t.Context()
	// Set-up A: the phase is Pending from the start.
	sim := newSimWith(t, f.env, cdisim.SetupA)
	for _, n := range []string{"a", "b", "c"} {
		f.createDV(t, f.ns, n, false)
	}
	t.Run("several", func(t *testing.T) {
		s := watchFor(t, f.svc, &instancev1.WatchDataVolumesRequest{Namespace: f.ns, Names: []string{"c", "a"}})
		if got, want := describe(s.until("SYNCED", is(synced, ""))), fmt.Sprintf(`[ADDED %[1]s/a "" "", ADDED %[1]s/c "" "", SYNCED]`, f.ns); got != want {
			t.Fatalf("opening = %s, want %s", got, want)
		}
		// CDI starting b and c: it marks each for its populators, writes
		// its status and reports its Bound condition.
		must(t, sim.Start(ctx, f.ns, "b"))
		must(t, sim.Start(ctx, f.ns, "c"))
		got := s.until("c Pending", phaseIs("c", cdiv1.Pending))
		for _, m := range got {
			if m.GetDataVolume().GetName() != "c" && m.GetEvent().GetDataVolume() != "c" {
				t.Errorf("after changing b and c: %s", describe(got))
				break
			}
		}
	})
	t.Run("one", func(t *testing.T) {
		s := watchFor(t, f.svc, &instancev1.WatchDataVolumesRequest{Namespace: f.ns, Names: []string{"b"}})
		if got, want := describe(s.until("SYNCED", is(synced, ""))), fmt.Sprintf(`[ADDED %s/b "Pending" "N/A", EVENT b DataVolume/b Pending, SYNCED]`, f.ns); got != want {
			t.Fatalf("opening = %s, want %s", got, want)
		}
		must(t, sim.Start(ctx, f.ns, "a"))
		must(t, sim.Progress(ctx, f.ns, "a", 1))
		must(t, sim.Progress(ctx, f.ns, "b", 2))
		got := s.until("b at 2%", func(m *instancev1.WatchDataVolumesResponse) bool {
			return is(modified, "b")(m) && m.GetDataVolume().GetProgress() == "2.00%"
		})
		for _, m := range got {
			if m.GetDataVolume().GetName() != "b" && m.GetEvent().GetDataVolume() != "b" {
				t.Errorf("after changing a and b: %s", describe(got))
				break
			}
		}
	})
}

func TestWatchLabelSelector(t *testing.T) {
	f := setup(t)
	ctx := t.Context()
	sim := newSim(t, f.env)
	f.createDV(t, f.ns, "boot", true)
	f.createDV(t, f.ns, "data", false)
	s := watchFor(t, f.svc, &instancev1.WatchDataVolumesRequest{Namespace: f.ns, LabelSelector: instance.BootImageLabel + "=true"})
	if got, want := describe(s.until("SYNCED", is(synced, ""))), fmt.Sprintf(`[ADDED %s/boot "" "", SYNCED]`, f.ns); got != want {
		t.Fatalf("opening = %s, want %s", got, want)
	}
	must(t, sim.Start(ctx, f.ns, "data"))
	must(t, sim.Start(ctx, f.ns, "boot"))
	must(t, sim.Progress(ctx, f.ns, "data", 5))
	must(t, sim.Progress(ctx, f.ns, "boot", 6))
	got := s.until("boot at 6%", func(m *instancev1.WatchDataVolumesResponse) bool {
		return is(modified, "boot")(m) && m.GetDataVolume().GetProgress() == "6.00%"
	})
	for _, m := range got {
		if m.GetDataVolume().GetName() != "boot" && m.GetEvent().GetDataVolume() != "boot" {
			t.Errorf("after changing data and boot: %s", describe(got))
			break
		}
	}
	// A DataVolume that stops matching leaves the watch.
	dv, err := f.cdi.CdiV1beta1().DataVolumes(f.ns).Get(ctx, "boot", metav1.GetOptions{})
	must(t, err)
	dv.Labels[instance.BootImageLabel] = "false"
	_, err = f.cdi.CdiV1beta1().DataVolumes(f.ns).Update(ctx, dv, metav1.UpdateOptions{})
	must(t, err)
	s.until("DELETED boot", is(deleted, "boot"))
}

func TestWatchAllNamespaces(t *testing.T) {
	f := setup(t)
	ctx := t.Context()
	// Set-up A: the DataVolume's own claim binds when the import is
	// scheduled.
	sim := newSimWith(t, f.env, cdisim.SetupA)
	ns2 := f.ns + "-2"
	_, err := f.env.Kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns2}}, metav1.CreateOptions{})
	must(t, err)
	f.createDV(t, f.ns, "one", false)
	f.createDV(t, ns2, "two", false)
	s := watchFor(t, f.svc, &instancev1.WatchDataVolumesRequest{})
	opening := s.until("SYNCED", is(synced, ""))
	var ours []string
	for _, m := range opening {
		if ns := m.GetDataVolume().GetNamespace(); ns == f.ns || ns == ns2 {
			ours = append(ours, m.GetType().String()+" "+ns+"/"+m.GetDataVolume().GetName())
		}
	}
	want := []string{"ADDED " + f.ns + "/one", "ADDED " + ns2 + "/two"}
	slices.Sort(ours)
	slices.Sort(want)
	if !slices.Equal(ours, want) {
		t.Errorf("opening has %q, want %q", ours, want)
	}
	must(t, sim.Start(ctx, ns2, "two"))
	must(t, sim.Schedule(ctx, ns2, "two"))
	got := s.until("ImportScheduled", eventIs("ImportScheduled"))
	if ev := got[len(got)-1].GetEvent(); ev.GetNamespace() != ns2 || ev.GetDataVolume() != "two" {
		t.Errorf("event = %v", ev)
	}
	if n := count(s.all, func(m *instancev1.WatchDataVolumesResponse) bool {
		return m.GetType() == modified && m.GetDataVolume().GetNamespace() == ns2 && m.GetDataVolume().GetPersistentVolumeClaim().GetStatus() == "Bound"
	}); n == 0 {
		s.until("two's claim bound", func(m *instancev1.WatchDataVolumesResponse) bool {
			return m.GetType() == modified && m.GetDataVolume().GetNamespace() == ns2 && m.GetDataVolume().GetPersistentVolumeClaim().GetStatus() == "Bound"
		})
	}
}

// The events CDI's populators report: on the claim prime-UID and on the pod
// importer-prime-UID.
func TestWatchPopulatorEvents(t *testing.T) {
	f := setup(t)
	ctx := t.Context()
	sim := newSim(t, f.env)
	f.createDV(t, f.ns, "pop", false)
	s := watchFor(t, f.svc, &instancev1.WatchDataVolumesRequest{Namespace: f.ns})
	s.until("SYNCED", is(synced, ""))
	must(t, sim.Start(ctx, f.ns, "pop"))
	uid, err := sim.ClaimUID(ctx, f.ns, "pop")
	must(t, err)
	must(t, sim.Event(ctx, f.ns, "PersistentVolumeClaim", "prime-"+string(uid), corev1.EventTypeWarning, "ProvisioningFailed",
		`failed to provision volume with StorageClass "ceph-block": rpc error: code = ResourceExhausted`))
	must(t, sim.Unschedulable(ctx, f.ns, "pop", "0/1 nodes are available: pod has unbound immediate PersistentVolumeClaims."))
	got := s.until("FailedScheduling", eventIs("FailedScheduling"))
	var evs []string
	for _, m := range got {
		if ev := m.GetEvent(); ev != nil && ev.GetType() == corev1.EventTypeWarning {
			evs = append(evs, ev.GetDataVolume()+" "+ev.GetObject()+" "+ev.GetReason())
		}
	}
	want := []string{
		"pop PersistentVolumeClaim/prime-" + string(uid) + " ProvisioningFailed",
		"pop Pod/importer-prime-" + string(uid) + " FailedScheduling",
	}
	if !slices.Equal(evs, want) {
		t.Errorf("events = %q, want %q (all: %s)", evs, want, describe(got))
	}
	// The same state written again is not news: CDI's unschedulable
	// importer, reported once.
	must(t, sim.Unschedulable(ctx, f.ns, "pop", "0/1 nodes are available: pod has unbound immediate PersistentVolumeClaims."))
	f.createDV(t, f.ns, "marker", false)
	s.until("ADDED marker", is(added, "marker"))
	unschedulable := func(m *instancev1.WatchDataVolumesResponse) bool {
		if m.GetType() != modified || m.GetDataVolume().GetName() != "pop" {
			return false
		}
		for _, c := range m.GetDataVolume().GetConditions() {
			if c.GetType() == "Running" && c.GetReason() == "Unschedulable" {
				return true
			}
		}
		return false
	}
	if n := count(s.all, unschedulable); n != 1 {
		t.Errorf("the unschedulable importer sent %d times: %s", n, describe(s.all))
	}
}

func TestWatchRefusesBadInput(t *testing.T) {
	f := setup(t)
	tests := []struct {
		name string
		req  *instancev1.WatchDataVolumesRequest
		want string
	}{
		{"namespace", &instancev1.WatchDataVolumesRequest{Namespace: "Bad_NS"}, "namespace: "},
		{"name", &instancev1.WatchDataVolumesRequest{Namespace: f.ns, Names: []string{"ok", "Not OK"}}, "names: "},
		{"empty name", &instancev1.WatchDataVolumesRequest{Names: []string{""}}, "names: is required"},
		{"selector", &instancev1.WatchDataVolumesRequest{LabelSelector: "app in (web"}, "label_selector: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := f.svc.Watch(t.Context(), tt.req)
			wantCode(t, err, connect.CodeInvalidArgument)
			if !strings.HasPrefix(message(err), tt.want) {
				t.Errorf("message %q, want it to start with %q", message(err), tt.want)
			}
		})
	}
	_, err := f.svc.Watch(t.Context(), &instancev1.WatchDataVolumesRequest{Scope: "no-such-context"})
	wantCode(t, err, connect.CodeNotFound)
	_, err = f.svc.Watch(t.Context(), &instancev1.WatchDataVolumesRequest{Scope: testenv.ContextNobody, Namespace: f.ns})
	wantCode(t, err, connect.CodePermissionDenied)
}

// The server-streaming RPC, as a Connect client sees it through the proxy.
func TestWatchOverConnect(t *testing.T) {
	f := setup(t)
	f.createDV(t, f.ns, "rpc", false)
	srv := httptest.NewUnstartedServer(proxy.NewMux(proxy.Services{Instance: f.svc}))
	srv.EnableHTTP2 = true
	srv.StartTLS()
	defer srv.Close()
	for _, opt := range []connect.ClientOption{connect.WithGRPC(), connect.WithProtoJSON()} {
		client := instancev1connect.NewInstanceServiceClient(srv.Client(), srv.URL, opt)
		ctx, cancel := context.WithCancel(t.Context())
		st, err := client.WatchDataVolumes(ctx, connect.NewRequest(&instancev1.WatchDataVolumesRequest{Namespace: f.ns}))
		if err != nil {
			t.Fatal(err)
		}
		var got []*instancev1.WatchDataVolumesResponse
		for st.Receive() {
			got = append(got, st.Msg())
			if st.Msg().GetType() == synced {
				break
			}
		}
		if want := fmt.Sprintf(`[ADDED %s/rpc "" "", SYNCED]`, f.ns); describe(got) != want {
			t.Errorf("stream = %s, want %s (err %v)", describe(got), want, st.Err())
		}
		cancel()
		_ = st.Close()
	}
	st, err := instancev1connect.NewInstanceServiceClient(srv.Client(), srv.URL).WatchDataVolumes(t.Context(),
		connect.NewRequest(&instancev1.WatchDataVolumesRequest{Namespace: "Bad_NS"}))
	if err == nil {
		// A stream's error arrives with its end.
		for st.Receive() {
		}
		err = st.Err()
	}
	wantCode(t, err, connect.CodeInvalidArgument)
}

// eventually retries op until it succeeds, for writes racing the API
// server's restart.
func eventually(t *testing.T, what string, op func() error) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		err := op()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// The API server restarts mid-watch: the watch resumes by itself, what
// changed meanwhile arrives, and the final state arrives exactly once.
func TestWatchSurvivesAPIServerRestart(t *testing.T) {
	f := setup(t)
	ctx := t.Context()
	sim := newSim(t, f.env)
	f.createDV(t, f.ns, "web", false)
	f.createDV(t, f.ns, "gone", false)
	must(t, sim.Start(ctx, f.ns, "web"))
	must(t, sim.Progress(ctx, f.ns, "web", 10))
	prov := newCounted(t, f.env)
	s := watchFor(t, instance.New(prov), &instancev1.WatchDataVolumesRequest{Namespace: f.ns})
	s.until("SYNCED", is(synced, ""))

	restarted := make(chan error, 1)
	go func() { restarted <- f.env.RestartAPIServer(context.WithoutCancel(ctx)) }()
	// Racing the restart: lands before it stops the server or after it is
	// back, whichever comes first.
	eventually(t, "progress 45.67%", func() error { return sim.Progress(ctx, f.ns, "web", 45.67) })
	if err := <-restarted; err != nil {
		t.Fatal(err)
	}
	// Right after the restart, likely before the watch is back.
	eventually(t, "delete gone", func() error {
		return f.cdi.CdiV1beta1().DataVolumes(f.ns).Delete(ctx, "gone", metav1.DeleteOptions{})
	})
	eventually(t, "crash", func() error {
		return sim.Crash(ctx, f.ns, "web", "Unable to connect to http data source: expected status code 200, got 404. Status: 404 Not Found")
	})
	eventually(t, "run again", func() error { return sim.Run(ctx, f.ns, "web") })
	eventually(t, "succeed", func() error { return sim.Succeed(ctx, f.ns, "web") })
	s.await("Succeeded", phaseIs("web", cdiv1.Succeeded))
	s.await("Error", eventIs("Error"))

	// Anything repeated would come before a change made after the final
	// state: wait for one.
	f.createDV(t, f.ns, "marker", false)
	s.until("ADDED marker", is(added, "marker"))

	// Changes made while the watch was down arrive as one relist's
	// difference, so states in between may be skipped; none may come out of
	// order or twice, and the final one must come.
	chain := []string{"ImportInProgress 10.00%", "ImportInProgress 45.67%", "Succeeded 100.0%"}
	got := states(s.all, "web")
	if !subsequence(got, chain) || got[0] != chain[0] || got[len(got)-1] != chain[len(chain)-1] {
		t.Errorf("states = %q, want in order from %q, first and last included\nmessages %s", got, chain, describe(s.all))
	}
	t.Logf("web's states as received: %q", got)
	for what, pred := range map[string]func(*instancev1.WatchDataVolumesResponse) bool{
		"Succeeded":  phaseIs("web", cdiv1.Succeeded),
		"DELETED":    is(deleted, "gone"),
		"ADDED web":  is(added, "web"),
		"ADDED gone": is(added, "gone"),
		"Error":      eventIs("Error"),
	} {
		if n := count(s.all, pred); n != 1 {
			t.Errorf("%s sent %d times, want once: %s", what, n, describe(s.all))
		}
	}
	if n := count(s.all, func(m *instancev1.WatchDataVolumesResponse) bool {
		if m.GetType() != modified || m.GetDataVolume().GetRestartCount() != 1 || m.GetDataVolume().GetPhase() != "ImportInProgress" {
			return false
		}
		for _, c := range m.GetDataVolume().GetConditions() {
			if c.GetType() == "Running" && c.GetReason() == "Error" {
				return true
			}
		}
		return false
	}); n > 1 {
		t.Errorf("the restarted import sent %d times: %s", n, describe(s.all))
	}
	// Consecutive identical messages would be duplicates.
	for i := 1; i < len(s.all); i++ {
		if proto.Equal(s.all[i-1], s.all[i]) {
			t.Errorf("message %d repeats the one before: %s", i, describe(s.all[i-1:i+1]))
		}
	}
	stored, err := f.svc.GetDataVolume(ctx, connect.NewRequest(&instancev1.GetDataVolumeRequest{Namespace: f.ns, Name: "web"}))
	must(t, err)
	var last *instancev1.DataVolume
	for _, m := range s.all {
		if m.GetDataVolume().GetName() == "web" {
			last = m.GetDataVolume()
		}
	}
	if !proto.Equal(&instancev1.DataVolume{Conditions: last.GetConditions()}, &instancev1.DataVolume{Conditions: stored.Msg.GetConditions()}) ||
		last.GetPhase() != stored.Msg.GetPhase() || last.GetProgress() != stored.Msg.GetProgress() || last.GetRestartCount() != stored.Msg.GetRestartCount() {
		t.Errorf("last message %v\ndiffers from the stored %v", last, stored.Msg)
	}
	t.Logf("requests across the restart: %v", prov.reqs.snapshot())
}

// The channel closes once the caller's context ends, whether or not anything
// is being read.
func TestWatchClosesWithContext(t *testing.T) {
	f := setup(t)
	f.createDV(t, f.ns, "one", false)
	ctx, cancel := context.WithCancel(t.Context())
	ch, err := f.svc.Watch(ctx, &instancev1.WatchDataVolumesRequest{Namespace: f.ns})
	must(t, err)
	if m := <-ch; m.GetType() != added {
		t.Fatalf("first message %v", m)
	}
	cancel()
	timeout := time.After(30 * time.Second)
	for {
		select {
		case _, ok := <-ch:
			if !ok {
				return
			}
		case <-timeout:
			t.Fatal("the channel is still open 30 s after the context ended")
		}
	}
}

// Nothing of a watch outlives it: once its channel has closed, or Watch has
// returned an error, no reflector, list or watcher goroutine is left.
func TestWatchLeavesNoGoroutine(t *testing.T) {
	f := setup(t)
	f.createDV(t, f.ns, "one", false)
	ctx, cancel := context.WithCancel(t.Context())
	ch, err := f.svc.Watch(ctx, &instancev1.WatchDataVolumesRequest{Namespace: f.ns})
	must(t, err)
	for m := range ch {
		if m.GetType() == synced {
			break
		}
	}
	if n := len(watchGoroutines()); n == 0 {
		t.Fatal("no watch goroutine found while watching: the check below would prove nothing")
	}
	cancel()
	for range ch {
	}
	noWatchGoroutines(t, "after the channel closed")

	_, err = f.svc.Watch(t.Context(), &instancev1.WatchDataVolumesRequest{Scope: testenv.ContextNobody, Namespace: f.ns})
	wantCode(t, err, connect.CodePermissionDenied)
	noWatchGoroutines(t, "after a refused Watch")
}

// watchGoroutines are the stacks of the goroutines that run a watch: the
// reflectors (and their lists) and the watcher.
func watchGoroutines() []string {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var found []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "client-go/tools/cache.(*Reflector)") || strings.Contains(g, "pkg/instance.(*watcher)") {
			found = append(found, g)
		}
	}
	return found
}

func noWatchGoroutines(t *testing.T, when string) {
	t.Helper()
	// A goroutine that has done its last work may still be on its way
	// out; give it a moment.
	deadline := time.Now().Add(5 * time.Second)
	for {
		left := watchGoroutines()
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s, %d watch goroutines left:\n%s", when, len(left), strings.Join(left, "\n\n"))
		}
		time.Sleep(50 * time.Millisecond)
	}
}
