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
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	cdiclient "kubevirt.io/client-go/containerizeddataimporter"

	instancev1 "github.com/otterscale/kubectl-otterscale/gen/otterscale/instance/v1"
	"github.com/otterscale/kubectl-otterscale/internal/cdisim"
)

// What webui.ts reports of the lists it got, as upstream's client decoded
// them.
type (
	listedVolume struct {
		Name           string `json:"name"`
		SourceType     int    `json:"sourceType"`
		SourceTypeName string `json:"sourceTypeName"`
		SourceData     string `json:"sourceData"`
		BootImage      bool   `json:"bootImage"`
		SizeBytes      string `json:"sizeBytes"`
	}
	listedImage struct {
		Name       string           `json:"name"`
		Pool       string           `json:"pool"`
		QuotaBytes string           `json:"quotaBytes"`
		Snapshots  []listedSnapshot `json:"snapshots"`
	}
	listedSnapshot struct {
		Name       string `json:"name"`
		Protected  bool   `json:"protected"`
		QuotaBytes string `json:"quotaBytes"`
	}
	listedPool struct {
		Name         string   `json:"name"`
		Applications []string `json:"applications"`
	}
)

// upstreamGenerated is the client of upstream's schema that webui.ts
// imports (`make browser-deps` generates it).
const upstreamGenerated = "gen-upstream/otterscale/storage/v1/storage_pb.ts"

// result reads the page's steps up to call's outcome (webui.ts reports each
// call as "ok" or "error") and returns it, with whether the call succeeded.
func (p *page) result(t *testing.T, call string) (step, bool) {
	t.Helper()
	s := p.until(t, call+"'s outcome", true, func(s step) bool {
		return (s.Step == "ok" || s.Step == "error") && s.Call == call
	})
	return s, s.Step == "ok"
}

// ok is result for a call that must succeed: its error fails t now.
func (p *page) ok(t *testing.T, call string) step {
	t.Helper()
	s, ok := p.result(t, call)
	if !ok {
		t.Fatalf("%s in the page: %s: %s", call, s.Code, s.Message)
	}
	return s
}

// OtterScale's web UI's data-volume page (and the VM dialog's disk lists),
// replayed in Chromium with the client generated from upstream's final
// schema: what it creates decodes with the source type it was created
// with, the filters select the right disks, and extend and delete change
// the cluster.
func TestWebUIDataVolumePage(t *testing.T) {
	tl := requireBrowser(t, upstreamGenerated)
	f := setup(t)
	origin := servePage(t, bundle(t, "webui.ts"))
	px := serveProxy(t, f.services, origin)
	ctx := t.Context()

	// The claim the page clones, as a VM's disk would be.
	golden := &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: "golden", Namespace: f.ns},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}},
		},
	}
	if _, err := f.env.Kube.CoreV1().PersistentVolumeClaims(f.ns).Create(ctx, golden, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// The disk the page grows: its class must allow expansion, and
	// upstream's CreateDataVolumeRequest cannot name one, so it is made
	// through the proxy's own service; CDI (the older path, Set-up A)
	// makes and binds its claim.
	class := "expand-" + f.ns
	if err := f.env.CreateStorageClass(ctx, class, false); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = f.env.Kube.StorageV1().StorageClasses().Delete(ctx, class, metav1.DeleteOptions{})
	})
	const extend = "ext-disk"
	if _, err := f.services.Instance.CreateDataVolume(ctx, connect.NewRequest(&instancev1.CreateDataVolumeRequest{
		Namespace: f.ns, Name: extend, SizeBytes: 1 << 30, StorageClass: class,
		Source: &instancev1.DataVolume_Source{Type: instancev1.DataVolume_Source_TYPE_BLANK_IMAGE},
	})); err != nil {
		t.Fatal(err)
	}
	sim, err := cdisim.NewWith(f.env.Config, cdisim.Options{Setup: cdisim.SetupA})
	if err != nil {
		t.Fatal(err)
	}
	if err := sim.Start(ctx, f.ns, extend); err != nil {
		t.Fatal(err)
	}
	if err := sim.Schedule(ctx, f.ns, extend); err != nil {
		t.Fatal(err)
	}

	q := url.Values{
		"page": {"data-volume"}, "proxy": {px.url}, "namespace": {f.ns},
		"url": {importURL}, "sizeBytes": {"1073741824"}, "claim": {"golden"},
		"extend": {extend}, "extendBytes": {"2147483648"}, "delete": {"clone-disk"},
	}
	p := openPage(t, tl, origin+"/?"+q.Encode())

	// On load: the one disk there is, a blank one.
	load := p.ok(t, "ListDataVolumes")
	if load.Label != "load" || len(load.Items) != 1 || load.Items[0].Name != extend || load.Items[0].SourceTypeName != "BLANK_IMAGE" {
		t.Errorf("ListDataVolumes on load showed %s", load)
	}

	// Each created disk decodes, in upstream's client, as the member of
	// upstream's enum it was created with (an unknown name would read as
	// 0, BLANK_IMAGE, without an error).
	want := map[string]listedVolume{
		"url-disk":   {Name: "url-disk", SourceType: 1, SourceTypeName: "HTTP_URL", SourceData: importURL, BootImage: true, SizeBytes: "1073741824"},
		"blank-disk": {Name: "blank-disk", SourceType: 0, SourceTypeName: "BLANK_IMAGE", BootImage: false, SizeBytes: "1073741824"},
		"clone-disk": {Name: "clone-disk", SourceType: 2, SourceTypeName: "EXISTING_PERSISTENT_VOLUME_CLAIM", SourceData: "golden", BootImage: false, SizeBytes: "1073741824"},
		extend:       {Name: extend, SourceType: 0, SourceTypeName: "BLANK_IMAGE", BootImage: false, SizeBytes: "1073741824"},
	}
	for _, name := range []string{"url-disk", "blank-disk", "clone-disk"} {
		s := p.ok(t, "CreateDataVolume")
		got := listedVolume{Name: s.Name, SourceTypeName: s.SourceTypeName, SourceData: s.SourceData, BootImage: s.BootImage, SizeBytes: s.SizeBytes}
		if s.SourceType != nil {
			got.SourceType = *s.SourceType
		}
		if got != want[name] || s.Namespace != f.ns {
			t.Errorf("CreateDataVolume %s decoded as %+v in %q, want %+v in %q", name, got, s.Namespace, want[name], f.ns)
		}
	}

	// The filters: everything, the boot images, the rest; each disk still
	// decodes with its source type.
	for _, tt := range []struct {
		filter string
		names  []string
	}{
		{"ALL", []string{"blank-disk", "clone-disk", extend, "url-disk"}},
		{"BOOTABLE", []string{"url-disk"}},
		{"NON_BOOTABLE", []string{"blank-disk", "clone-disk", extend}},
	} {
		s := p.ok(t, "ListDataVolumes")
		if s.Filter != tt.filter {
			t.Fatalf("ListDataVolumes: the page listed %s, want %s next", s.Filter, tt.filter)
		}
		checkListed(t, s, tt.names, want)
	}

	// Extend: the claim asks for the new size in the API server.
	p.ok(t, "ExtendDataVolume")
	if pvc, err := f.env.Kube.CoreV1().PersistentVolumeClaims(f.ns).Get(ctx, extend, metav1.GetOptions{}); err != nil {
		t.Errorf("claim %s: %v", extend, err)
	} else if got := pvc.Spec.Resources.Requests.Storage(); got.Value() != 2<<30 {
		t.Errorf("claim %s requests %s after ExtendDataVolume, want 2Gi", extend, got)
	}

	// Delete: the DataVolume is gone, and so from the list.
	p.ok(t, "DeleteDataVolume")
	cdi, err := cdiclient.NewForConfig(f.env.Config)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cdi.CdiV1beta1().DataVolumes(f.ns).Get(ctx, "clone-disk", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("DataVolume clone-disk after DeleteDataVolume: want not found, got %v", err)
	}
	after := p.ok(t, "ListDataVolumes")
	checkListed(t, after, []string{"blank-disk", extend, "url-disk"}, want)

	p.finish(t, true)
	if errs := p.find(func(s step) bool { return s.Step == "pageerror" || s.Step == "error" }); len(errs) != 0 {
		t.Errorf("the page failed: %v", errs)
	}
	checkUpstreamWire(t, p, "CreateDataVolume", map[string]string{
		"url-disk": "TYPE_HTTP_URL", "blank-disk": "TYPE_BLANK_IMAGE", "clone-disk": "TYPE_EXISTING_PERSISTENT_VOLUME_CLAIM",
	})
}

// checkListed checks a ListDataVolumes step: exactly the names, each as
// want has it.
func checkListed(t *testing.T, s step, names []string, want map[string]listedVolume) {
	t.Helper()
	var got []string
	for _, v := range s.Items {
		got = append(got, v.Name)
		if w, ok := want[v.Name]; ok && v != w {
			t.Errorf("ListDataVolumes %s (%s): %s decoded as %+v, want %+v", s.Filter, s.Label, v.Name, v, w)
		}
	}
	slices.Sort(got)
	if !slices.Equal(got, names) {
		t.Errorf("ListDataVolumes %s (%s) = %v, want %v", s.Filter, s.Label, got, names)
	}
}

// checkUpstreamWire checks what went over the wire for the creates: the
// page sent each source type by upstream's TYPE_ name (upstream's schema
// has no other), and the proxy answered with the same name.
func checkUpstreamWire(t *testing.T, p *page, method string, types map[string]string) {
	t.Helper()
	path := "/otterscale.instance.v1.InstanceService/" + method
	var sent, answered []string
	for _, s := range p.find(func(s step) bool {
		return (s.Step == "request" || s.Step == "response") && strings.HasSuffix(s.URL, path)
	}) {
		var body struct {
			Name   string `json:"name"`
			Source struct {
				Type string `json:"type"`
			} `json:"source"`
		}
		if err := json.Unmarshal([]byte(s.Body), &body); err != nil {
			t.Errorf("%s %s body %q: %v", method, s.Step, s.Body, err)
			continue
		}
		// protobuf-es leaves zero values out of what it sends, so the
		// blank's type (0) goes as no type; the proxy sends every field.
		zeroLeftOut := s.Step == "request" && body.Source.Type == "" && types[body.Name] == "TYPE_BLANK_IMAGE"
		if body.Source.Type != types[body.Name] && !zeroLeftOut {
			t.Errorf("%s %s for %q: source type %q, want %q", method, s.Step, body.Name, body.Source.Type, types[body.Name])
		}
		if s.Step == "request" {
			sent = append(sent, body.Name)
		} else {
			answered = append(answered, body.Name)
		}
	}
	if len(sent) != len(types) || len(answered) != len(types) {
		t.Errorf("%s: the browser sent %v and was answered %v, want each of %v", method, sent, answered, types)
	}
}

// Sizes of the image the block-device page creates and then grows.
const (
	newImageBytes  = 16 << 20
	grownImageByte = 32 << 20
)

// OtterScale's web UI's block-device page, replayed in Chromium with the
// client generated from upstream's final schema: the lists on load, the
// five snapshot actions and the image dialog's create, grow and delete,
// each checked in Ceph with the rbd CLI while the page waits.
//
// ListPools, CreateImage, UpdateImage and DeleteImage are StorageService's
// pool and image RPCs: where the proxy does not serve them yet, their steps
// fail saying so, and the snapshot steps are still checked.
func TestWebUIBlockDevicePage(t *testing.T) {
	tl := requireBrowser(t, upstreamGenerated)
	f := setup(t)
	origin, gate := serveGatedPage(t, bundle(t, "webui.ts"))
	px := serveProxy(t, f.services, origin)
	ctx := t.Context()
	// What the image holds when the snapshot is taken; the test writes
	// over it before the rollback.
	if err := f.ceph.WriteImage(ctx, f.image, 0, []byte("before")); err != nil {
		t.Fatal(err)
	}
	const snapshot = "before-upgrade"
	newImage := f.image + "-new"
	q := url.Values{
		"page": {"block-device"}, "proxy": {px.url}, "pool": {f.ceph.Pool}, "image": {f.image},
		"snapshot": {snapshot}, "newImage": {newImage},
		"newBytes": {strconv.Itoa(newImageBytes)}, "growBytes": {strconv.Itoa(grownImageByte)},
	}
	p := openPage(t, tl, origin+"/?"+q.Encode())
	const imageQuota = "8388608" // imageBytes

	// On load: the images, with the test's among them, and the pools for RBD.
	load := p.ok(t, "ListImages")
	if img, ok := findImage(load.Images, f.ceph.Pool, f.image); !ok || img.QuotaBytes != imageQuota || len(img.Snapshots) != 0 {
		t.Errorf("ListImages on load showed %s, want %s/%s of %s bytes without snapshots", load, f.ceph.Pool, f.image, imageQuota)
	}
	if s, ok := p.result(t, "ListPools"); !ok {
		t.Errorf("ListPools (application BLOCK) in the page: %s: %s: the pool picker stays empty (the pool and image RPCs come with branch wt-pools)", s.Code, s.Message)
	} else {
		found := false
		for _, pool := range s.Pools {
			if !slices.Contains(pool.Applications, "BLOCK") {
				t.Errorf("ListPools (application BLOCK) showed pool %s with applications %v", pool.Name, pool.Applications)
			}
			found = found || pool.Name == f.ceph.Pool
		}
		if !found {
			t.Errorf("ListPools (application BLOCK) = %+v, want pool %s among them", s.Pools, f.ceph.Pool)
		}
	}

	// The snapshot actions, each seen in Ceph.
	created := p.ok(t, "CreateImageSnapshot")
	if created.Name != snapshot || created.Protected || created.QuotaBytes != imageQuota {
		t.Errorf("CreateImageSnapshot showed %s", created)
	}
	checkSnapshots(t, f, snapshot, "false")
	if err := f.ceph.WriteImage(ctx, f.image, 0, []byte("after!")); err != nil {
		t.Fatal(err)
	}
	gate.release("CreateImageSnapshot")

	p.ok(t, "ProtectImageSnapshot")
	checkSnapshots(t, f, snapshot, "true")
	gate.release("ProtectImageSnapshot")
	listed := p.ok(t, "ListImages")
	if img, ok := findImage(listed.Images, f.ceph.Pool, f.image); !ok || len(img.Snapshots) != 1 ||
		img.Snapshots[0] != (listedSnapshot{Name: snapshot, Protected: true, QuotaBytes: imageQuota}) {
		t.Errorf("ListImages after ProtectImageSnapshot showed %s, want %s protected", listed, snapshot)
	}

	p.ok(t, "UnprotectImageSnapshot")
	checkSnapshots(t, f, snapshot, "false")
	gate.release("UnprotectImageSnapshot")

	p.ok(t, "RollbackImageSnapshot")
	if data, err := f.ceph.RBD(ctx, "export", "--no-progress", f.ceph.Pool+"/"+f.image, "-"); err != nil {
		t.Errorf("rbd export: %v", err)
	} else if got := string(data[:6]); got != "before" {
		t.Errorf("the image starts with %q after RollbackImageSnapshot, want %q", got, "before")
	}
	gate.release("RollbackImageSnapshot")

	p.ok(t, "DeleteImageSnapshot")
	if snaps := rbdSnapshots(t, f); len(snaps) != 0 {
		t.Errorf("rbd snap ls after DeleteImageSnapshot = %+v, want none", snaps)
	}
	gate.release("DeleteImageSnapshot")

	// The image dialog: create, grow, delete.
	imageCalls := 0
	if s, ok := p.result(t, "CreateImage"); !ok {
		t.Errorf("CreateImage in the page: %s: %s (the pool and image RPCs come with branch wt-pools)", s.Code, s.Message)
	} else {
		imageCalls++
		if s.Name != newImage || s.Pool != f.ceph.Pool || s.QuotaBytes != strconv.Itoa(newImageBytes) {
			t.Errorf("CreateImage showed %s", s)
		}
		if size, err := rbdImageSize(t, f, newImage); err != nil || size != newImageBytes {
			t.Errorf("rbd info %s after CreateImage: %d bytes, %v; want %d bytes", newImage, size, err, newImageBytes)
		}
		gate.release("CreateImage")
	}
	if s, ok := p.result(t, "UpdateImage"); !ok {
		t.Errorf("UpdateImage in the page: %s: %s (the pool and image RPCs come with branch wt-pools)", s.Code, s.Message)
	} else {
		imageCalls++
		if s.Name != newImage || s.QuotaBytes != strconv.Itoa(grownImageByte) {
			t.Errorf("UpdateImage showed %s", s)
		}
		if size, err := rbdImageSize(t, f, newImage); err != nil || size != grownImageByte {
			t.Errorf("rbd info %s after UpdateImage: %d bytes, %v; want %d bytes", newImage, size, err, grownImageByte)
		}
		gate.release("UpdateImage")
	}
	listed = p.ok(t, "ListImages")
	if img, ok := findImage(listed.Images, f.ceph.Pool, newImage); imageCalls == 2 && (!ok || img.QuotaBytes != strconv.Itoa(grownImageByte)) {
		t.Errorf("ListImages after UpdateImage showed %s, want %s/%s of %d bytes", listed, f.ceph.Pool, newImage, grownImageByte)
	}
	if s, ok := p.result(t, "DeleteImage"); !ok {
		t.Errorf("DeleteImage in the page: %s: %s (the pool and image RPCs come with branch wt-pools)", s.Code, s.Message)
	} else {
		if slices.Contains(rbdImages(t, f), newImage) {
			t.Errorf("rbd ls %s after DeleteImage still lists %s", f.ceph.Pool, newImage)
		}
		gate.release("DeleteImage")
	}

	p.finish(t, true)
	if errs := p.find(func(s step) bool { return s.Step == "pageerror" }); len(errs) != 0 {
		t.Errorf("the page threw: %v", errs)
	}
}

func findImage(images []listedImage, pool, name string) (listedImage, bool) {
	for _, img := range images {
		if img.Pool == pool && img.Name == name {
			return img, true
		}
	}
	return listedImage{}, false
}

// checkSnapshots checks with the rbd CLI that the test image has one
// snapshot, name, protected or not ("true", "false").
func checkSnapshots(t *testing.T, f *fixture, name, protected string) {
	t.Helper()
	snaps := rbdSnapshots(t, f)
	if len(snaps) != 1 || snaps[0].Name != name || strings.Trim(string(snaps[0].Protected), `"`) != protected {
		t.Errorf("rbd snap ls %s/%s = %+v, want %s with protected %s", f.ceph.Pool, f.image, snaps, name, protected)
	}
}

// rbdImageSize is the image's size in the test pool, as `rbd info` says.
func rbdImageSize(t *testing.T, f *fixture, image string) (int64, error) {
	t.Helper()
	out, err := f.ceph.RBD(t.Context(), "info", f.ceph.Pool+"/"+image, "--format", "json")
	if err != nil {
		return 0, err
	}
	var info struct {
		Size int64 `json:"size"`
	}
	err = json.Unmarshal(out, &info)
	return info.Size, err
}

// rbdImages lists the test pool's images with the rbd CLI.
func rbdImages(t *testing.T, f *fixture) []string {
	t.Helper()
	out, err := f.ceph.RBD(t.Context(), "ls", f.ceph.Pool, "--format", "json")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	if err := json.Unmarshal(out, &names); err != nil {
		t.Fatalf("rbd ls: %v\n%s", err, out)
	}
	return names
}
