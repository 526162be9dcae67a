// Package browser_test runs the proxy's browser clients' path for real: a
// page in headless Chromium calls the proxy from another origin through
// @connectrpc/connect-web (Connect JSON over fetch) with the client that
// protoc-gen-es generates from proto/, as the OtterScale web UI does. The
// proxy runs in the test with its real services in front of a real
// kube-apiserver and a real Ceph; internal/cdisim plays CDI's part.
package browser_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	cdiclient "kubevirt.io/client-go/containerizeddataimporter"
	cdiv1 "kubevirt.io/containerized-data-importer-api/pkg/apis/core/v1beta1"

	instancev1 "github.com/otterscale/kubectl-otterscale/gen/otterscale/instance/v1"
	"github.com/otterscale/kubectl-otterscale/internal/cdisim"
)

const (
	// importURL is where the DataVolume imports from; nothing fetches it.
	importURL = "https://cloud.debian.org/images/cloud/bookworm/latest/debian-12-generic-amd64.qcow2"
	// dvBytes is the DataVolume's requested size.
	dvBytes = 2 << 30
	// The procedures the page calls.
	createDataVolume    = "/otterscale.instance.v1.InstanceService/CreateDataVolume"
	createImageSnapshot = "/otterscale.storage.v1.StorageService/CreateImageSnapshot"
	watchDataVolumes    = "/otterscale.instance.v1.InstanceService/WatchDataVolumes"
)

// A page on an allowed origin creates a DataVolume and an RBD snapshot and
// follows the import to its end, all through the proxy; what it asked for
// is then in the API server and in Ceph.
func TestPageCreatesAndFollowsImportThroughProxy(t *testing.T) {
	tl := requireBrowser(t)
	f := setup(t)
	origin := servePage(t, bundle(t, "page.ts"))
	px := serveProxy(t, f.services, origin)
	// Set-up A (CDI without a CSI driver): the DataVolume's own claim binds
	// when the import is scheduled, which the page shows.
	sim, err := cdisim.NewWith(f.env.Config, cdisim.Options{Setup: cdisim.SetupA})
	if err != nil {
		t.Fatal(err)
	}
	q := pageQuery{
		proxy: px.url, namespace: f.ns, dataVolume: "web-disk", url: importURL, sizeBytes: dvBytes,
		pool: f.ceph.Pool, image: f.image, snapshot: "before-upgrade",
	}
	p := openPage(t, tl, origin+"/?"+q.encode())

	created := p.until(t, "the created DataVolume", false, func(s step) bool { return s.Step == "created" })
	if created.Name != q.dataVolume || created.Namespace != q.namespace || created.SizeBytes != "2147483648" ||
		created.SourceType == nil || *created.SourceType != int(instancev1.DataVolume_Source_HTTP_URL) || created.SourceData != importURL {
		t.Errorf("the page got back %s", created)
	}
	snap := p.until(t, "the snapshot", false, func(s step) bool { return s.Step == "snapshot" })
	if snap.Name != q.snapshot || snap.Protected || snap.QuotaBytes != "8388608" {
		t.Errorf("the page got back %s", snap)
	}

	// The watch is open once it has sent what exists: only now does the
	// import start, so that the page sees it happen.
	p.until(t, "the watch's SYNCED", false, func(s step) bool { return s.Step == "watch" && s.Type == "SYNCED" })
	ctx := t.Context()
	if err := sim.Start(ctx, q.namespace, q.dataVolume); err != nil {
		t.Fatal(err)
	}
	if err := sim.Schedule(ctx, q.namespace, q.dataVolume); err != nil {
		t.Fatal(err)
	}
	p.until(t, "the bound claim", false, func(s step) bool { return s.Step == "watch" && s.Claim == "Bound" })
	if err := sim.Progress(ctx, q.namespace, q.dataVolume, 42.5); err != nil {
		t.Fatal(err)
	}
	p.until(t, "the import at 42.50%", false, func(s step) bool {
		return s.Step == "watch" && s.Phase == "ImportInProgress" && s.Progress == "42.50%"
	})
	if err := sim.Succeed(ctx, q.namespace, q.dataVolume); err != nil {
		t.Fatal(err)
	}
	p.until(t, "the import's success", false, func(s step) bool {
		return s.Step == "watch" && s.Type == "MODIFIED" && s.Phase == "Succeeded" && s.Progress == "100.0%"
	})
	p.finish(t, false)
	if errs := p.find(func(s step) bool { return s.Step == "pageerror" }); len(errs) != 0 {
		t.Errorf("the page threw: %v", errs)
	}

	checkWire(t, p)
	for _, proc := range []string{createDataVolume, createImageSnapshot, watchDataVolumes} {
		line, err := px.logLine(proc)
		if err != nil || !strings.Contains(line, "protocol=connect") {
			t.Errorf("proxy log has no Connect call of %s:\n%s", proc, px.logs)
		}
	}

	// The DataVolume, as the API server has it.
	cdi, err := cdiclient.NewForConfig(f.env.Config)
	if err != nil {
		t.Fatal(err)
	}
	dv, err := cdi.CdiV1beta1().DataVolumes(q.namespace).Get(ctx, q.dataVolume, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("the DataVolume the page created: %v", err)
	}
	if dv.Spec.Source == nil || dv.Spec.Source.HTTP == nil || dv.Spec.Source.HTTP.URL != importURL {
		t.Errorf("DataVolume source = %+v, want HTTP %s", dv.Spec.Source, importURL)
	}
	if got := requestedBytes(dv); got != dvBytes {
		t.Errorf("DataVolume requests %d bytes, want %d", got, int64(dvBytes))
	}
	if dv.Status.Phase != cdiv1.Succeeded {
		t.Errorf("DataVolume phase %q, want Succeeded", dv.Status.Phase)
	}

	// The snapshot, as Ceph's own rbd CLI lists it.
	snaps := rbdSnapshots(t, f)
	if len(snaps) != 1 || snaps[0].Name != q.snapshot || snaps[0].Size != imageBytes {
		t.Errorf("rbd snap ls %s/%s = %+v, want one snapshot %q of %d bytes", f.ceph.Pool, f.image, snaps, q.snapshot, imageBytes)
	}
}

// checkWire checks what the browser sent the proxy: Connect's JSON, with
// the int64 size as a string and the enum by name, and the watch as a
// Connect JSON stream.
func checkWire(t *testing.T, p *page) {
	t.Helper()
	requests := map[string]step{}
	for _, r := range p.find(func(s step) bool { return s.Step == "request" }) {
		u, err := url.Parse(r.URL)
		if err != nil {
			t.Fatalf("request to %q: %v", r.URL, err)
		}
		requests[u.Path] = r
	}
	create, ok := requests[createDataVolume]
	if !ok || create.Method != http.MethodPost || create.ContentType != "application/json" {
		t.Fatalf("CreateDataVolume request %s: want a POST of application/json", create)
	}
	var body map[string]any
	if err := json.Unmarshal([]byte(create.Body), &body); err != nil {
		t.Fatalf("CreateDataVolume body %q: %v", create.Body, err)
	}
	// protobuf-es names an enum value by one of its aliases, which one
	// depending on its release (2.13 sends TYPE_HTTP_URL): the proxy takes
	// both spellings, as API.md says.
	src, _ := body["source"].(map[string]any)
	if body["sizeBytes"] != "2147483648" || (src["type"] != "HTTP_URL" && src["type"] != "TYPE_HTTP_URL") || src["data"] != importURL {
		t.Errorf("CreateDataVolume body %s", create.Body)
	}
	// The answer, as the browser received it: the API's JSON, with the
	// enum spelled as API.md documents and zero values present.
	var answer *step
	for _, r := range p.find(func(s step) bool { return s.Step == "response" }) {
		if u, err := url.Parse(r.URL); err == nil && u.Path == createDataVolume {
			answer = &r
		}
	}
	if answer == nil || answer.Status != 200 || !strings.HasPrefix(answer.ContentType, "application/json") {
		t.Fatalf("CreateDataVolume answer %v: want 200 with application/json", answer)
	}
	var dv map[string]any
	if err := json.Unmarshal([]byte(answer.Body), &dv); err != nil {
		t.Fatalf("CreateDataVolume answer %q: %v", answer.Body, err)
	}
	src, _ = dv["source"].(map[string]any)
	if dv["sizeBytes"] != "2147483648" || src["type"] != "TYPE_HTTP_URL" || dv["bootImage"] != false {
		t.Errorf("CreateDataVolume answer %s", answer.Body)
	}
	if r := requests[createImageSnapshot]; r.ContentType != "application/json" {
		t.Errorf("CreateImageSnapshot request %s: want application/json", r)
	}
	if r := requests[watchDataVolumes]; r.ContentType != "application/connect+json" {
		t.Errorf("WatchDataVolumes request %s: want application/connect+json", r)
	}
}

// The same page on an origin the proxy does not allow gets nowhere: the
// browser refuses each call after the preflight, and nothing is created.
func TestPageFromOriginNotAllowedIsBlocked(t *testing.T) {
	tl := requireBrowser(t)
	f := setup(t)
	origin := servePage(t, bundle(t, "page.ts"))
	const allowed = "http://localhost:5173"
	if origin == allowed {
		t.Fatalf("the page's origin %s is the allowed one", origin)
	}
	px := serveProxy(t, f.services, allowed)
	q := pageQuery{
		proxy: px.url, namespace: f.ns, dataVolume: "web-disk", url: importURL, sizeBytes: dvBytes,
		pool: f.ceph.Pool, image: f.image, snapshot: "before-upgrade",
	}
	p := openPage(t, tl, origin+"/?"+q.encode())
	p.finish(t, true)

	// Each call failed in the page as a failed fetch (connect-web's
	// "unknown" code), the browser said why, and it was not that the
	// proxy was unreachable.
	for _, call := range []string{"CreateDataVolume", "CreateImageSnapshot", "WatchDataVolumes"} {
		errs := p.find(func(s step) bool { return s.Step == "error" && s.Call == call })
		if len(errs) != 1 || errs[0].Code != "Unknown" || errs[0].Message != "Failed to fetch" {
			t.Errorf("%s in the page: %v, want one failed fetch", call, errs)
		}
		blocked := p.find(func(s step) bool {
			return s.Step == "console" && strings.Contains(s.Text, "blocked by CORS policy") &&
				strings.Contains(s.Text, px.url+"/otterscale.") && strings.Contains(s.Text, "/"+call+"'") &&
				strings.Contains(s.Text, "'"+origin+"'")
		})
		if len(blocked) == 0 {
			t.Errorf("the browser did not report %s blocked by CORS for origin %s", call, origin)
		}
	}
	if got := p.find(func(s step) bool { return s.Step == "created" || s.Step == "snapshot" || s.Step == "watch" }); len(got) != 0 {
		t.Errorf("the page got answers: %v", got)
	}
	if refused := p.find(func(s step) bool {
		return s.Step == "requestfailed" && strings.Contains(s.Error, "CONNECTION_REFUSED")
	}); len(refused) != 0 {
		t.Errorf("the proxy was not reachable: %v", refused)
	}

	// No call reached a service, and nothing exists.
	if strings.Contains(px.logs.String(), "msg=call") {
		t.Errorf("calls reached the proxy's services:\n%s", px.logs)
	}
	cdi, err := cdiclient.NewForConfig(f.env.Config)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cdi.CdiV1beta1().DataVolumes(q.namespace).Get(t.Context(), q.dataVolume, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("DataVolume %s/%s: want not found, got %v", q.namespace, q.dataVolume, err)
	}
	if snaps := rbdSnapshots(t, f); len(snaps) != 0 {
		t.Errorf("rbd snap ls %s/%s = %+v, want none", f.ceph.Pool, f.image, snaps)
	}
}

// requestedBytes is the DataVolume's requested storage.
func requestedBytes(dv *cdiv1.DataVolume) int64 {
	var req corev1.ResourceList
	switch {
	case dv.Spec.Storage != nil:
		req = dv.Spec.Storage.Resources.Requests
	case dv.Spec.PVC != nil:
		req = dv.Spec.PVC.Resources.Requests
	}
	q, ok := req[corev1.ResourceStorage]
	if !ok {
		return 0
	}
	return q.Value()
}

// rbdSnapshot is one entry of `rbd snap ls --format json`.
type rbdSnapshot struct {
	Name string `json:"name"`
	Size int64  `json:"size"`
	// "true" or "false", a string in the releases seen so far
	Protected json.RawMessage `json:"protected"`
}

// rbdSnapshots lists the test image's snapshots with the rbd CLI.
func rbdSnapshots(t *testing.T, f *fixture) []rbdSnapshot {
	t.Helper()
	out, err := f.ceph.RBD(t.Context(), "snap", "ls", f.ceph.Pool+"/"+f.image, "--format", "json")
	if err != nil {
		t.Fatal(err)
	}
	var snaps []rbdSnapshot
	if err := json.Unmarshal(out, &snaps); err != nil {
		t.Fatalf("rbd snap ls: %v\n%s", err, out)
	}
	return snaps
}
