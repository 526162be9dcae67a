package browser_test

import (
	"context"
	"encoding/json"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	cdiclient "kubevirt.io/client-go/containerizeddataimporter"

	instancev1 "github.com/otterscale/kubectl-otterscale/gen/otterscale/instance/v1"
	"github.com/otterscale/kubectl-otterscale/gen/otterscale/link/v1/linkv1connect"
	"github.com/otterscale/kubectl-otterscale/gen/otterscale/resource/v1/resourcev1connect"
	"github.com/otterscale/kubectl-otterscale/internal/cdisim"
)

// listedObject is what resource.ts shows of an object ResourceService.List
// answered.
type listedObject struct {
	Namespace       string `json:"namespace"`
	Name            string `json:"name"`
	UID             string `json:"uid"`
	ResourceVersion string `json:"resourceVersion"`
	Kind            string `json:"kind"`
	APIVersion      string `json:"apiVersion"`
}

// The generated files resource.ts imports.
var resourceGenerated = []string{"gen/otterscale/resource/v1/resource_pb.ts", "gen/otterscale/link/v1/link_pb.ts"}

var dataVolumesGVR = schema.GroupVersionResource{Group: "cdi.kubevirt.io", Version: "v1beta1", Resource: "datavolumes"}

// watched is one event of a watch, as the page or the API server showed it.
type watched struct {
	Type, Version, Phase string
}

// OtterScale's web UI's way to a cluster's DataVolumes, replayed in
// Chromium with the client generated from our proto/: the clusters
// (LinkService.ListLinks) are the kubeconfig's contexts, the DataVolumes
// (ResourceService.List) those in the API server, and one DataVolume
// followed through ResourceService.Watch, a Connect server stream over
// fetch, shows each change the test makes as it is made, up to its
// deletion; the stream the page then aborts ends cleanly in the proxy, and
// a watch of a resource the cluster does not serve fails with not_found.
func TestResourcePageFollowsDataVolume(t *testing.T) {
	tl := requireBrowser(t, resourceGenerated...)
	f := setup(t)
	origin := servePage(t, bundle(t, "resource.ts"))
	px := serveProxy(t, f.services, origin)
	ctx := t.Context()
	cdi, err := cdiclient.NewForConfig(f.env.Config)
	if err != nil {
		t.Fatal(err)
	}

	// Three DataVolumes in the test's namespace, and one of the same name
	// as the followed one elsewhere, which neither the list nor the watch
	// may show.
	const follow = "web-disk"
	elsewhere := f.ns + "-else"
	if _, err := f.env.Kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: elsewhere}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, dv := range []struct{ ns, name string }{{f.ns, "data-a"}, {f.ns, "data-b"}, {f.ns, follow}, {elsewhere, follow}} {
		if _, err := f.services.Instance.CreateDataVolume(ctx, connect.NewRequest(&instancev1.CreateDataVolumeRequest{
			Namespace: dv.ns, Name: dv.name, SizeBytes: 1 << 30,
			Source: &instancev1.DataVolume_Source{Type: instancev1.DataVolume_Source_TYPE_HTTP_URL, Data: importURL},
		})); err != nil {
			t.Fatal(err)
		}
	}
	sim, err := cdisim.NewWith(f.env.Config, cdisim.Options{Setup: cdisim.SetupA})
	if err != nil {
		t.Fatal(err)
	}

	const missing = "nosuchvolumes"
	q := url.Values{"proxy": {px.url}, "namespace": {f.ns}, "follow": {follow}, "missing": {missing}}
	p := openPage(t, tl, origin+"/?"+q.Encode())

	// The cluster picker: the kubeconfig's contexts, the current first.
	links := p.ok(t, "ListLinks")
	if want := kubeconfigContexts(t, f.env.Kubeconfig); !slices.Equal(links.Clusters, want) {
		t.Errorf("ListLinks showed clusters %q, want the kubeconfig's contexts %q", links.Clusters, want)
	}

	// The table: the namespace's DataVolumes, each at the version the API
	// server has.
	listed := p.ok(t, "List")
	inServer, err := cdi.CdiV1beta1().DataVolumes(f.ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var want []listedObject
	for _, dv := range inServer.Items {
		want = append(want, listedObject{
			Namespace: f.ns, Name: dv.Name, UID: string(dv.UID), ResourceVersion: dv.ResourceVersion,
			Kind: "DataVolume", APIVersion: "cdi.kubevirt.io/v1beta1",
		})
	}
	got := slices.Clone(listed.Objects)
	byName := func(a, b listedObject) int { return strings.Compare(a.Name, b.Name) }
	slices.SortFunc(got, byName)
	slices.SortFunc(want, byName)
	if len(want) != 3 || !slices.Equal(got, want) {
		t.Errorf("List showed %+v\nthe API server has %+v", got, want)
	}
	listVersion := parseVersion(t, "List's resource version", listed.ResourceVersion)
	var followed listedObject
	for _, o := range want {
		if parseVersion(t, o.Name+"'s resource version", o.ResourceVersion) > listVersion {
			t.Errorf("List's resource version %d is older than %s's %s", listVersion, o.Name, o.ResourceVersion)
		}
		if o.Name == follow {
			followed = o
		}
	}

	// The watch: first what exists, then a bookmark at the version it
	// follows from.
	event := func(what string, match func(step) bool) step {
		t.Helper()
		return p.until(t, what, false, func(s step) bool { return s.Step == "event" && match(s) })
	}
	added := event("the watch's ADDED", func(step) bool { return true })
	if added.Type != "ADDED" || added.Name != follow || added.ObjectVersion != followed.ResourceVersion || added.ResourceVersion != added.ObjectVersion {
		t.Errorf("the watch began with %s, want ADDED %s at version %s", added, follow, followed.ResourceVersion)
	}
	bookmark := event("the watch's BOOKMARK", func(step) bool { return true })
	if bookmark.Type != "BOOKMARK" || bookmark.Name != "" ||
		parseVersion(t, "the bookmark's version", bookmark.ResourceVersion) < parseVersion(t, "ADDED's version", added.ResourceVersion) {
		t.Fatalf("after ADDED %s the watch sent %s, want a BOOKMARK at a version no older", added.ResourceVersion, bookmark)
	}

	// What the API server itself sends from there, to compare the page's
	// events with.
	reference := watchAPIServer(t, f.env.Config, f.ns, follow, bookmark.ResourceVersion)

	// CDI's import, step by step, and after each the page sees the
	// DataVolume as the API server has it now.
	for _, s := range []struct {
		step  string
		do    func(context.Context, string, string) error
		phase string
	}{
		{"start", sim.Start, "Pending"},
		{"schedule", sim.Schedule, "ImportScheduled"},
		{"progress", func(ctx context.Context, ns, name string) error { return sim.Progress(ctx, ns, name, 42.5) }, "ImportInProgress"},
		{"succeed", sim.Succeed, "Succeeded"},
	} {
		if err := s.do(ctx, f.ns, follow); err != nil {
			t.Fatalf("cdisim %s: %v", s.step, err)
		}
		dv, err := cdi.CdiV1beta1().DataVolumes(f.ns).Get(ctx, follow, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if string(dv.Status.Phase) != s.phase {
			t.Fatalf("after cdisim %s the DataVolume is %q, want %q", s.step, dv.Status.Phase, s.phase)
		}
		seen := event("the DataVolume "+s.phase+" at version "+dv.ResourceVersion, func(e step) bool {
			return e.ObjectVersion == dv.ResourceVersion
		})
		if seen.Type != "MODIFIED" || seen.Phase != s.phase || seen.ResourceVersion != dv.ResourceVersion {
			t.Errorf("after cdisim %s the page saw %s, want MODIFIED %s at version %s", s.step, seen, s.phase, dv.ResourceVersion)
		}
	}

	// Changes to the other DataVolumes, which the followed one's watch
	// must not show; then its deletion.
	for _, dv := range []struct{ ns, name string }{{f.ns, "data-a"}, {elsewhere, follow}} {
		if _, err := cdi.CdiV1beta1().DataVolumes(dv.ns).Patch(ctx, dv.name, types.MergePatchType,
			[]byte(`{"metadata":{"labels":{"touched":"yes"}}}`), metav1.PatchOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := cdi.CdiV1beta1().DataVolumes(f.ns).Delete(ctx, follow, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	deleted := event("the DataVolume's DELETED", func(e step) bool { return e.Type == "DELETED" })
	if deleted.Name != follow || deleted.Phase != "Succeeded" {
		t.Errorf("the watch ended with %s, want DELETED %s in phase Succeeded", deleted, follow)
	}
	aborted := p.ok(t, "Watch")
	missingWatch := p.until(t, "the watch of "+missing, true, func(s step) bool { return s.Call == "Watch" && s.Label == "missing" })
	p.finish(t, true)

	// The page's events in order: versions that only grow, and from the
	// bookmark on exactly the API server's own events, the last DELETED.
	var events []step
	for _, s := range p.find(func(s step) bool { return s.Step == "event" }) {
		if s.Label == "" {
			events = append(events, s)
		}
	}
	if aborted.Events != len(events) || aborted.Label != "follow" {
		t.Errorf("the page counted %d events of its watch (%s), the test read %d", aborted.Events, aborted.Label, len(events))
	}
	var last uint64
	var fromPage []watched
	for i, e := range events {
		v := parseVersion(t, "event "+strconv.Itoa(i)+"'s version", e.ResourceVersion)
		if v < last || (v == last && e.Type != "BOOKMARK") {
			t.Errorf("event %d (%s) has version %d after %d: versions must grow", i, e, v, last)
		}
		last = v
		if e.Type != "BOOKMARK" && (e.Name != follow || e.ObjectVersion != e.ResourceVersion) {
			t.Errorf("event %d is %s, want %s at the event's version", i, e, follow)
		}
		if i > 1 && e.Type != "BOOKMARK" {
			fromPage = append(fromPage, watched{e.Type, e.ResourceVersion, e.Phase})
		}
	}
	fromServer := reference()
	if !slices.Equal(fromPage, fromServer) {
		t.Errorf("the page's watch showed\n  %v\nthe API server's watch from version %s sent\n  %v", fromPage, bookmark.ResourceVersion, fromServer)
	}
	if len(fromPage) < 5 || fromPage[len(fromPage)-1].Type != "DELETED" {
		t.Errorf("the page's watch showed %v, want the import's changes and DELETED last", fromPage)
	}

	// A resource the cluster does not serve.
	if missingWatch.Step != "error" || missingWatch.Code != "NotFound" || !strings.Contains(missingWatch.Message, missing) {
		t.Errorf("Watch of %s in the page: %s, want NotFound naming it", missing, missingWatch)
	}
	if errs := p.find(func(s step) bool {
		return s.Step == "pageerror" || (s.Step == "error" && (s.Call != "Watch" || s.Label != "missing")) || (s.Step == "event" && s.Type == "ERROR")
	}); len(errs) != 0 {
		t.Errorf("the page failed: %v", errs)
	}

	checkResourceWire(t, p, links.Clusters[0], follow)
	checkResourceCalls(t, px)
}

// kubeconfigContexts reads the kubeconfig's contexts as a user would
// expect to pick them: the current one first, then the others by name.
func kubeconfigContexts(t *testing.T, path string) []string {
	t.Helper()
	cfg, err := clientcmd.LoadFromFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for name := range cfg.Contexts {
		if name != cfg.CurrentContext {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	if len(names) < 2 {
		t.Fatalf("kubeconfig %s has contexts %v besides %q: the test wants several", path, names, cfg.CurrentContext)
	}
	return append([]string{cfg.CurrentContext}, names...)
}

// parseVersion reads a resource version as the number etcd makes it.
func parseVersion(t *testing.T, what, v string) uint64 {
	t.Helper()
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		t.Fatalf("%s %q is not etcd's revision: %v", what, v, err)
	}
	return n
}

// watchAPIServer watches the DataVolume ns/name on the API server itself
// from version, and returns a function that answers the events up to
// DELETED (or what came within 30 s).
func watchAPIServer(t *testing.T, cfg *rest.Config, ns, name, version string) func() []watched {
	t.Helper()
	client, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	w, err := client.Resource(dataVolumesGVR).Namespace(ns).Watch(t.Context(), metav1.ListOptions{
		ResourceVersion: version, FieldSelector: "metadata.name=" + name,
	})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan []watched, 1)
	go func() {
		defer w.Stop()
		var out []watched
		timeout := time.After(30 * time.Second)
		for {
			select {
			case ev, ok := <-w.ResultChan():
				if !ok {
					done <- out
					return
				}
				u, _ := ev.Object.(*unstructured.Unstructured)
				if u == nil {
					out = append(out, watched{Type: "ERROR"})
					done <- out
					return
				}
				phase, _, _ := unstructured.NestedString(u.Object, "status", "phase")
				out = append(out, watched{string(ev.Type), u.GetResourceVersion(), phase})
				if ev.Type == watch.Deleted {
					done <- out
					return
				}
			case <-timeout:
				done <- out
				return
			}
		}
	}()
	return func() []watched { return <-done }
}

// checkResourceWire checks what the browser sent: the Watch as a Connect
// JSON stream for the DataVolumes of the cluster ListLinks named first,
// the followed one by a field selector.
func checkResourceWire(t *testing.T, p *page, cluster, follow string) {
	t.Helper()
	var watches []map[string]string
	for _, r := range p.find(func(s step) bool {
		return s.Step == "request" && strings.HasSuffix(s.URL, resourcev1connect.ResourceServiceWatchProcedure)
	}) {
		if r.ContentType != "application/connect+json" {
			t.Errorf("Watch request %s: want application/connect+json", r)
		}
		// A Connect stream's request is one envelope: 5 bytes (the last
		// the length, which may read as "{"), then the JSON.
		var body map[string]string
		if i := strings.Index(r.Body, `{"`); i < 0 || json.Unmarshal([]byte(r.Body[i:]), &body) != nil {
			t.Errorf("Watch request body %q: want an enveloped JSON message", r.Body)
			continue
		}
		watches = append(watches, body)
	}
	if len(watches) != 2 {
		t.Fatalf("the browser sent %d Watch requests, want 2: %v", len(watches), watches)
	}
	w := watches[0]
	if w["cluster"] != cluster || w["group"] != "cdi.kubevirt.io" || w["version"] != "v1beta1" ||
		w["resource"] != "datavolumes" || w["fieldSelector"] != "metadata.name="+follow {
		t.Errorf("the page's Watch asked for %v", w)
	}
}

// checkResourceCalls checks the proxy's log: each call the page made
// reached the services over Connect, the watch the page aborted ended
// there without an error (which the proxy notices a little after the
// page), and the watch of the missing resource ended not_found.
func checkResourceCalls(t *testing.T, px *running) {
	t.Helper()
	for _, proc := range []string{linkv1connect.LinkServiceListLinksProcedure, resourcev1connect.ResourceServiceListProcedure} {
		line, err := px.logLine(proc)
		if err != nil || !strings.Contains(line, "protocol=connect") || !strings.Contains(line, "code=ok") {
			t.Errorf("proxy log has no successful Connect call of %s:\n%s", proc, px.logs)
		}
	}
	var codes []string
	deadline := time.Now().Add(15 * time.Second)
	for {
		codes = codes[:0]
		for line := range strings.Lines(px.logs.String()) {
			if strings.Contains(line, "msg=call") && strings.Contains(line, "procedure="+resourcev1connect.ResourceServiceWatchProcedure+" ") {
				if !strings.Contains(line, "protocol=connect") {
					t.Errorf("Watch not over Connect: %s", line)
				}
				_, after, _ := strings.Cut(line, "code=")
				code, _, _ := strings.Cut(after, " ")
				codes = append(codes, code)
			}
		}
		if len(codes) >= 2 || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	aborted := slices.DeleteFunc(slices.Clone(codes), func(c string) bool { return c == "not_found" })
	if len(codes) != 2 || len(aborted) != 1 || (aborted[0] != "ok" && aborted[0] != "canceled") {
		t.Errorf("the proxy logged Watch calls ending %v, want the aborted one ok (or canceled) and the missing one not_found:\n%s", codes, px.logs)
	}
}
