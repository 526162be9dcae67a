package instance_test

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"connectrpc.com/connect"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericclioptions"

	instancev1 "github.com/otterscale/kubectl-otterscale/gen/otterscale/instance/v1"
	"github.com/otterscale/kubectl-otterscale/pkg/cluster"
	"github.com/otterscale/kubectl-otterscale/pkg/instance"
	"github.com/otterscale/kubectl-otterscale/pkg/proxy"
)

// postJSON calls a procedure the way the OtterScale web UI does: Connect's
// JSON over plain HTTP.
func postJSON(t *testing.T, srv *httptest.Server, procedure, body string) (int, map[string]any) {
	t.Helper()
	resp, err := http.Post(srv.URL+procedure, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	if err := json.Unmarshal(data, &out); err != nil {
		t.Fatalf("answer is not JSON: %v: %s", err, data)
	}
	return resp.StatusCode, out
}

// The issue's own example, written from the documented API, fed to the
// Connect handler exactly as a JSON client sends it.
func TestCreateFromDocumentedJSON(t *testing.T) {
	f := setup(t)
	srv := httptest.NewServer(proxy.NewMux(proxy.Services{Instance: f.svc}))
	defer srv.Close()

	for _, spelling := range []string{"HTTP_URL", "TYPE_HTTP_URL"} {
		t.Run(spelling, func(t *testing.T) {
			name := "dv-" + strings.ToLower(strings.ReplaceAll(spelling, "_", "-"))
			body := `{"name":"` + name + `","namespace":"` + f.ns + `","source":{"type":"` + spelling + `","data":"https://example.com/disk.img"},"bootImage":true,"sizeBytes":"1073741824"}`
			status, out := postJSON(t, srv, "/otterscale.instance.v1.InstanceService/CreateDataVolume", body)
			if status != http.StatusOK {
				t.Fatalf("status %d: %v", status, out)
			}
			// What CDI and OtterScale read, in the API server itself.
			dv, err := f.cdi.CdiV1beta1().DataVolumes(f.ns).Get(t.Context(), name, metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if got := dv.Labels[instance.BootImageLabel]; got != "true" {
				t.Errorf("boot-image label = %q, want \"true\"", got)
			}
			if dv.Spec.Source == nil || dv.Spec.Source.HTTP == nil || dv.Spec.Source.HTTP.URL != "https://example.com/disk.img" {
				t.Errorf("source = %+v, want http https://example.com/disk.img", dv.Spec.Source)
			}
			if s := dv.Spec.Storage; s == nil {
				t.Fatal("spec.storage is missing")
			} else {
				q := s.Resources.Requests[corev1.ResourceStorage]
				if q.String() != "1Gi" {
					t.Errorf("size = %s, want 1Gi (binary SI)", q.String())
				}
				if len(s.AccessModes) != 1 || s.AccessModes[0] != corev1.ReadWriteOnce {
					t.Errorf("access modes = %v, want [ReadWriteOnce]", s.AccessModes)
				}
				if s.StorageClassName != nil {
					t.Errorf("storage class = %q, want none (the cluster default applies)", *s.StorageClassName)
				}
			}
			// The answer is the DataVolume message, zero values present and
			// the enum in its documented spelling.
			for _, key := range []string{"name", "namespace", "source", "bootImage", "phase", "progress", "sizeBytes", "persistentVolumeClaim", "lastCondition", "conditions"} {
				if _, ok := out[key]; !ok {
					t.Errorf("answer lacks %q: %v", key, out)
				}
			}
			if out["phase"] != "" || out["progress"] != "" || out["sizeBytes"] != "1073741824" || out["bootImage"] != true {
				t.Errorf("answer = %v", out)
			}
			if src := out["source"].(map[string]any); src["type"] != "TYPE_HTTP_URL" {
				t.Errorf("source.type = %v, want upstream's TYPE_HTTP_URL", src["type"])
			}
		})
	}
}

func TestCreateRefusesBadInput(t *testing.T) {
	f := setup(t)
	f.claim(t, f.ns, "taken", "", "1Gi")
	ctx := t.Context()
	if _, err := f.svc.CreateDataVolume(ctx, connect.NewRequest(&instancev1.CreateDataVolumeRequest{
		Name: "existing", Namespace: f.ns, SizeBytes: 1 << 30,
	})); err != nil {
		t.Fatal(err)
	}
	before := f.dataVolumes(t)

	src := func(typ instancev1.DataVolume_Source_Type, data string) *instancev1.DataVolume_Source {
		return &instancev1.DataVolume_Source{Type: typ, Data: data}
	}
	tests := []struct {
		name string
		req  *instancev1.CreateDataVolumeRequest
		code connect.Code
		want string // in the message
	}{
		{"bad name", &instancev1.CreateDataVolumeRequest{Name: "Bad_Name", Namespace: f.ns, SizeBytes: 1 << 20}, connect.CodeInvalidArgument, "name: "},
		{"no namespace", &instancev1.CreateDataVolumeRequest{Name: "a1", SizeBytes: 1 << 20}, connect.CodeInvalidArgument, "namespace: is required"},
		{"zero size", &instancev1.CreateDataVolumeRequest{Name: "a2", Namespace: f.ns}, connect.CodeInvalidArgument, "size_bytes"},
		{"negative size", &instancev1.CreateDataVolumeRequest{Name: "a3", Namespace: f.ns, SizeBytes: -1}, connect.CodeInvalidArgument, "size_bytes: must be positive"},
		{"size under 1Mi", &instancev1.CreateDataVolumeRequest{Name: "a10", Namespace: f.ns, SizeBytes: 512 << 10}, connect.CodeInvalidArgument,
			`size_bytes: must be at least 1Mi (1048576 bytes), got 524288: CDI refuses smaller disks ("Storage size should be at least 1MiB")`},
		{"ftp url", &instancev1.CreateDataVolumeRequest{Name: "a4", Namespace: f.ns, SizeBytes: 1 << 20, Source: src(instancev1.DataVolume_Source_HTTP_URL, "ftp://example.com/x")}, connect.CodeInvalidArgument, "http:// or https://"},
		{"missing source claim", &instancev1.CreateDataVolumeRequest{Name: "a5", Namespace: f.ns, Source: src(instancev1.DataVolume_Source_EXISTING_PERSISTENT_VOLUME_CLAIM, "nope")}, connect.CodeNotFound, `source claim "nope" not found in namespace "` + f.ns + `"`},
		{"missing source namespace", &instancev1.CreateDataVolumeRequest{Name: "a6", Namespace: f.ns, Source: src(instancev1.DataVolume_Source_EXISTING_PERSISTENT_VOLUME_CLAIM, "elsewhere/base")}, connect.CodeNotFound, `source claim "base" not found in namespace "elsewhere"`},
		{"duplicate name", &instancev1.CreateDataVolumeRequest{Name: "existing", Namespace: f.ns, SizeBytes: 1 << 20}, connect.CodeAlreadyExists, "already exists"},
		{"claim of that name", &instancev1.CreateDataVolumeRequest{Name: "taken", Namespace: f.ns, SizeBytes: 1 << 20}, connect.CodeAlreadyExists, `a claim named "taken" already exists`},
		{"unknown scope", &instancev1.CreateDataVolumeRequest{Scope: "no-such-context", Name: "a7", Namespace: f.ns, SizeBytes: 1 << 20}, connect.CodeNotFound, `scope "no-such-context"`},
		{"bad access mode", &instancev1.CreateDataVolumeRequest{Name: "a8", Namespace: f.ns, SizeBytes: 1 << 20, AccessMode: "rwo"}, connect.CodeInvalidArgument, "access_mode"},
		{"namespace that does not exist", &instancev1.CreateDataVolumeRequest{Name: "a9", Namespace: "no-such-ns", SizeBytes: 1 << 20}, connect.CodeNotFound, "no-such-ns"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := f.svc.CreateDataVolume(ctx, connect.NewRequest(tt.req))
			wantCode(t, err, tt.code)
			if msg := message(err); !strings.Contains(msg, tt.want) {
				t.Errorf("message %q does not say %q", msg, tt.want)
			}
		})
	}
	// Nothing was created or changed by any of them.
	after := f.dataVolumes(t)
	if len(after) != len(before) || after[0].ResourceVersion != before[0].ResourceVersion {
		t.Errorf("data volumes changed: before %d, after %d", len(before), len(after))
	}
}

func TestCreateCloneAcrossNamespaces(t *testing.T) {
	f := setup(t)
	src := setup(t) // a second namespace holding the source
	f.claim(t, src.ns, "golden", "ceph-block", "3Gi")

	resp, err := f.svc.CreateDataVolume(t.Context(), connect.NewRequest(&instancev1.CreateDataVolumeRequest{
		Name: "copy", Namespace: f.ns, StorageClass: "ceph-block", VolumeMode: "Block", AccessMode: "ReadWriteMany",
		Source: &instancev1.DataVolume_Source{Type: instancev1.DataVolume_Source_EXISTING_PERSISTENT_VOLUME_CLAIM, Data: src.ns + "/golden"},
	}))
	if err != nil {
		t.Fatal(err)
	}
	if got := resp.Msg.GetSource().GetData(); got != src.ns+"/golden" {
		t.Errorf("answer's source = %q", got)
	}
	if resp.Msg.GetSizeBytes() != 0 {
		t.Errorf("size = %d, want 0: CDI infers a clone's size", resp.Msg.GetSizeBytes())
	}
	dv, err := f.cdi.CdiV1beta1().DataVolumes(f.ns).Get(t.Context(), "copy", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if p := dv.Spec.Source.PVC; p == nil || p.Namespace != src.ns || p.Name != "golden" {
		t.Errorf("spec.source.pvc = %+v", dv.Spec.Source.PVC)
	}
	s := dv.Spec.Storage
	if _, ok := s.Resources.Requests[corev1.ResourceStorage]; ok {
		t.Errorf("a clone without a size should leave the request to CDI, got %v", s.Resources.Requests)
	}
	if *s.StorageClassName != "ceph-block" || *s.VolumeMode != corev1.PersistentVolumeBlock || s.AccessModes[0] != corev1.ReadWriteMany {
		t.Errorf("storage spec = %+v", s)
	}
	if dv.Labels[instance.BootImageLabel] != "false" {
		t.Errorf("boot-image label = %q, want \"false\"", dv.Labels[instance.BootImageLabel])
	}
}

func TestGetJoinsClaimAndClass(t *testing.T) {
	f := setup(t)
	if _, err := f.svc.CreateDataVolume(t.Context(), connect.NewRequest(&instancev1.CreateDataVolumeRequest{
		Name: "web", Namespace: f.ns, SizeBytes: 10 << 30, BootImage: true,
		Source: &instancev1.DataVolume_Source{Type: instancev1.DataVolume_Source_HTTP_URL, Data: "http://images.local/web.qcow2"},
	})); err != nil {
		t.Fatal(err)
	}
	f.actAsCDI(t, "web", "ceph-block", true)

	resp, err := f.svc.GetDataVolume(t.Context(), connect.NewRequest(&instancev1.GetDataVolumeRequest{Namespace: f.ns, Name: "web"}))
	if err != nil {
		t.Fatal(err)
	}
	dv := resp.Msg
	if dv.GetPhase() != "ImportInProgress" || dv.GetProgress() != "45.67%" || dv.GetRestartCount() != 2 {
		t.Errorf("phase %q, progress %q, restarts %d", dv.GetPhase(), dv.GetProgress(), dv.GetRestartCount())
	}
	if dv.GetSizeBytes() != 10<<30 || !dv.GetBootImage() {
		t.Errorf("size %d, boot %v", dv.GetSizeBytes(), dv.GetBootImage())
	}
	if len(dv.GetConditions()) != 3 {
		t.Fatalf("conditions = %v", dv.GetConditions())
	}
	// Running changed last (t0+30s); Bound and Ready changed at t0.
	if lc := dv.GetLastCondition(); lc.GetType() != "Running" || lc.GetReason() != "Pod is running" || lc.GetTransitionedAt() == nil || lc.GetHeartbeatAt() == nil {
		t.Errorf("last condition = %v", lc)
	}
	claim := dv.GetPersistentVolumeClaim()
	if claim.GetName() != "web" || claim.GetStatus() != "Bound" || claim.GetCapacity() != "10Gi" || claim.GetCreatedAt() == nil {
		t.Errorf("claim = %v", claim)
	}
	// The DataVolume left the volume mode to the cluster; the claim says
	// what it became (the API server defaults it to Filesystem).
	if dv.GetVolumeMode() != "" || claim.GetVolumeMode() != "Filesystem" || claim.GetRequestBytes() != 10<<30 {
		t.Errorf("volume mode %q, claim's volume mode %q, claim's request %d", dv.GetVolumeMode(), claim.GetVolumeMode(), claim.GetRequestBytes())
	}
	if len(claim.GetAccessModes()) != 1 || claim.GetAccessModes()[0] != "ReadWriteOnce" {
		t.Errorf("claim access modes = %v", claim.GetAccessModes())
	}
	sc := claim.GetStorageClass()
	if sc.GetName() != "ceph-block" || sc.GetProvisioner() != "rbd.csi.ceph.com" || sc.GetReclaimPolicy() != "Delete" ||
		sc.GetVolumeBindingMode() != "Immediate" || sc.GetParameters()["pool"] == "" || sc.GetCreatedAt() == nil {
		t.Errorf("storage class = %v", sc)
	}

	_, err = f.svc.GetDataVolume(t.Context(), connect.NewRequest(&instancev1.GetDataVolumeRequest{Namespace: f.ns, Name: "nope"}))
	wantCode(t, err, connect.CodeNotFound)
	if msg := message(err); !strings.Contains(msg, `data volume "nope" not found in namespace "`+f.ns+`"`) {
		t.Errorf("message = %q", msg)
	}
}

// CDI makes the claim itself: with ceph-csi its StorageProfile picks Block
// when the DataVolume names no volume mode, and it asks for more than the
// DataVolume did on a Filesystem claim (filesystem overhead). Get carries
// both what the DataVolume asked and what the claim is.
func TestGetShowsTheClaimAsCDIMadeIt(t *testing.T) {
	f := setup(t)
	tests := []struct {
		name, mode string
		request    int64
	}{
		{"block", "Block", 1 << 30},
		{"filesystem", "Filesystem", 1138166334}, // observed for 1Gi
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := f.svc.CreateDataVolume(t.Context(), connect.NewRequest(&instancev1.CreateDataVolumeRequest{
				Name: tt.name, Namespace: f.ns, SizeBytes: 1 << 30,
			})); err != nil {
				t.Fatal(err)
			}
			mode := corev1.PersistentVolumeMode(tt.mode)
			pvc := &corev1.PersistentVolumeClaim{
				ObjectMeta: metav1.ObjectMeta{Name: tt.name, Namespace: f.ns},
				Spec: corev1.PersistentVolumeClaimSpec{
					AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
					VolumeMode:  &mode,
					Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{
						corev1.ResourceStorage: *resource.NewQuantity(tt.request, resource.BinarySI),
					}},
				},
			}
			if _, err := f.env.Kube.CoreV1().PersistentVolumeClaims(f.ns).Create(t.Context(), pvc, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
			resp, err := f.svc.GetDataVolume(t.Context(), connect.NewRequest(&instancev1.GetDataVolumeRequest{Namespace: f.ns, Name: tt.name}))
			if err != nil {
				t.Fatal(err)
			}
			dv, claim := resp.Msg, resp.Msg.GetPersistentVolumeClaim()
			if dv.GetVolumeMode() != "" || dv.GetSizeBytes() != 1<<30 {
				t.Errorf("data volume asked volume mode %q, size %d; want \"\", 1Gi", dv.GetVolumeMode(), dv.GetSizeBytes())
			}
			if claim.GetVolumeMode() != tt.mode || claim.GetRequestBytes() != tt.request || claim.GetCapacity() != "" {
				t.Errorf("claim volume mode %q, request %d, capacity %q; want %q, %d, unbound",
					claim.GetVolumeMode(), claim.GetRequestBytes(), claim.GetCapacity(), tt.mode, tt.request)
			}
		})
	}
}

func TestListFiltersAndJoins(t *testing.T) {
	f := setup(t)
	other := setup(t)
	mk := func(fx *fixture, name string, boot bool) {
		if _, err := fx.svc.CreateDataVolume(t.Context(), connect.NewRequest(&instancev1.CreateDataVolumeRequest{
			Name: name, Namespace: fx.ns, SizeBytes: 1 << 30, BootImage: boot,
		})); err != nil {
			t.Fatal(err)
		}
	}
	mk(f, "boot-a", true)
	mk(f, "data-b", false)
	mk(other, "boot-c", true)
	f.actAsCDI(t, "boot-a", "ceph-block", true)

	list := func(ns string, filter instancev1.DataVolumeFilter) []string {
		resp, err := f.svc.ListDataVolumes(t.Context(), connect.NewRequest(&instancev1.ListDataVolumesRequest{Namespace: ns, Filter: filter}))
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, dv := range resp.Msg.GetDataVolumes() {
			if dv.GetNamespace() == f.ns || dv.GetNamespace() == other.ns {
				names = append(names, dv.GetName())
			}
			if dv.GetName() == "boot-a" && dv.GetPersistentVolumeClaim().GetStorageClass().GetProvisioner() != "rbd.csi.ceph.com" {
				t.Errorf("boot-a's claim and class are not joined: %v", dv.GetPersistentVolumeClaim())
			}
		}
		return names
	}
	for _, tt := range []struct {
		ns     string
		filter instancev1.DataVolumeFilter
		want   string
	}{
		{f.ns, instancev1.DataVolumeFilter_ALL, "boot-a,data-b"},
		{f.ns, instancev1.DataVolumeFilter_BOOTABLE, "boot-a"},
		{f.ns, instancev1.DataVolumeFilter_NON_BOOTABLE, "data-b"},
		{"", instancev1.DataVolumeFilter_BOOTABLE, "boot-a,boot-c"},
		{"", instancev1.DataVolumeFilter_ALL, "boot-a,data-b,boot-c"},
	} {
		got := list(tt.ns, tt.filter)
		if strings.Join(sortedLike(got, tt.want), ",") != tt.want {
			t.Errorf("list(%q, %v) = %v, want %s", tt.ns, tt.filter, got, tt.want)
		}
	}
	_, err := f.svc.ListDataVolumes(t.Context(), connect.NewRequest(&instancev1.ListDataVolumesRequest{Namespace: f.ns, Filter: 7}))
	wantCode(t, err, connect.CodeInvalidArgument)
}

// sortedLike orders got as want orders the same names, so that the test
// does not depend on the order namespaces happen to sort in.
func sortedLike(got []string, want string) []string {
	order := strings.Split(want, ",")
	var out []string
	for _, w := range order {
		for _, g := range got {
			if g == w {
				out = append(out, g)
			}
		}
	}
	if len(out) != len(got) {
		return got
	}
	return out
}

func TestDelete(t *testing.T) {
	f := setup(t)
	if _, err := f.svc.CreateDataVolume(t.Context(), connect.NewRequest(&instancev1.CreateDataVolumeRequest{
		Name: "gone", Namespace: f.ns, SizeBytes: 1 << 30,
	})); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.DeleteDataVolume(t.Context(), connect.NewRequest(&instancev1.DeleteDataVolumeRequest{Namespace: f.ns, Name: "gone"})); err != nil {
		t.Fatal(err)
	}
	if n := len(f.dataVolumes(t)); n != 0 {
		t.Errorf("%d data volumes left", n)
	}
	_, err := f.svc.DeleteDataVolume(t.Context(), connect.NewRequest(&instancev1.DeleteDataVolumeRequest{Namespace: f.ns, Name: "gone"}))
	wantCode(t, err, connect.CodeNotFound)
	_, err = f.svc.DeleteDataVolume(t.Context(), connect.NewRequest(&instancev1.DeleteDataVolumeRequest{Namespace: f.ns, Name: "-x"}))
	wantCode(t, err, connect.CodeInvalidArgument)
}

func TestExtend(t *testing.T) {
	f := setup(t)
	mk := func(name, class string, bind bool) {
		if _, err := f.svc.CreateDataVolume(t.Context(), connect.NewRequest(&instancev1.CreateDataVolumeRequest{
			Name: name, Namespace: f.ns, SizeBytes: 1 << 30, StorageClass: class,
		})); err != nil {
			t.Fatal(err)
		}
		f.actAsCDI(t, name, class, bind)
	}
	mk("grow", "ceph-block", true)
	mk("pending", "ceph-block", false)
	mk("fixed", "fixed", true)
	if _, err := f.svc.CreateDataVolume(t.Context(), connect.NewRequest(&instancev1.CreateDataVolumeRequest{
		Name: "noclaim", Namespace: f.ns, SizeBytes: 1 << 30,
	})); err != nil {
		t.Fatal(err)
	}
	request := func(name string) resource.Quantity {
		pvc, err := f.env.Kube.CoreV1().PersistentVolumeClaims(f.ns).Get(t.Context(), name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return pvc.Spec.Resources.Requests[corev1.ResourceStorage]
	}
	extend := func(name string, size int64) error {
		_, err := f.svc.ExtendDataVolume(t.Context(), connect.NewRequest(&instancev1.ExtendDataVolumeRequest{Namespace: f.ns, Name: name, SizeBytes: size}))
		return err
	}

	if err := extend("grow", 2<<30); err != nil {
		t.Fatal(err)
	}
	if q := request("grow"); q.String() != "2Gi" {
		t.Errorf("claim request = %s, want 2Gi", q.String())
	}
	for _, tt := range []struct {
		name string
		size int64
		code connect.Code
		want string
	}{
		{"grow", 1 << 30, connect.CodeInvalidArgument, "claims can only grow"},
		{"grow", 2 << 30, connect.CodeInvalidArgument, "not larger than the claim's current 2Gi"},
		{"grow", 0, connect.CodeInvalidArgument, "size_bytes"},
		{"pending", 2 << 30, connect.CodeFailedPrecondition, "is Pending"},
		{"fixed", 2 << 30, connect.CodeFailedPrecondition, "does not allow volume expansion"},
		{"noclaim", 2 << 30, connect.CodeFailedPrecondition, "does not exist yet"},
		{"missing", 2 << 30, connect.CodeNotFound, `data volume "missing" not found`},
	} {
		err := extend(tt.name, tt.size)
		wantCode(t, err, tt.code)
		if !strings.Contains(err.Error(), tt.want) {
			t.Errorf("extend %s to %d: %q does not say %q", tt.name, tt.size, err, tt.want)
		}
	}
	// None of the refusals changed a claim.
	for name, want := range map[string]string{"grow": "2Gi", "pending": "1Gi", "fixed": "1Gi"} {
		if q := request(name); q.String() != want {
			t.Errorf("claim %s request = %s, want %s", name, q.String(), want)
		}
	}
}

// Scopes are kubeconfig contexts; the cluster's refusals keep their
// meaning as Connect codes.
func TestScopesAndClusterErrors(t *testing.T) {
	f := setup(t)
	list := func(scope, ns string) error {
		_, err := f.svc.ListDataVolumes(t.Context(), connect.NewRequest(&instancev1.ListDataVolumesRequest{Scope: scope, Namespace: ns}))
		return err
	}
	if err := list("other", f.ns); err != nil {
		t.Errorf("scope other: %v", err)
	}
	if err := list("admin", ""); err != nil {
		t.Errorf("scope admin: %v", err)
	}
	wantCode(t, list("nobody", f.ns), connect.CodePermissionDenied)
	wantCode(t, list("badtoken", f.ns), connect.CodeUnauthenticated)
	wantCode(t, list("nowhere", f.ns), connect.CodeNotFound)

	// A cluster that is not there: a kubeconfig whose server refuses.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	flags := genericclioptions.NewConfigFlags(false)
	flags.KubeConfig = &f.env.Kubeconfig
	server := "https://" + addr
	flags.APIServer = &server
	svc := instance.New(cluster.NewKubeconfig(flags))
	_, err = svc.ListDataVolumes(t.Context(), connect.NewRequest(&instancev1.ListDataVolumesRequest{Namespace: "default"}))
	wantCode(t, err, connect.CodeUnavailable)

	// Through the handler, the code reaches the wire as Connect's JSON.
	srv := httptest.NewServer(proxy.NewMux(proxy.Services{Instance: f.svc}))
	defer srv.Close()
	status, out := postJSON(t, srv, "/otterscale.instance.v1.InstanceService/GetDataVolume", `{"scope":"nobody","namespace":"default","name":"x"}`)
	if status != http.StatusForbidden || out["code"] != "permission_denied" {
		t.Errorf("status %d, body %v", status, out)
	}
}

// bind_immediately sets CDI's annotation; without it there is none.
func TestCreateBindImmediately(t *testing.T) {
	f := setup(t)
	for name, bind := range map[string]bool{"now": true, "later": false} {
		if _, err := f.svc.CreateDataVolume(t.Context(), connect.NewRequest(&instancev1.CreateDataVolumeRequest{
			Name: name, Namespace: f.ns, SizeBytes: 1 << 30, BindImmediately: bind,
		})); err != nil {
			t.Fatal(err)
		}
		dv, err := f.cdi.CdiV1beta1().DataVolumes(f.ns).Get(t.Context(), name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if got, ok := dv.Annotations[instance.BindImmediateAnnotation]; ok != bind || (bind && got != "true") {
			t.Errorf("%s: annotations %v", name, dv.Annotations)
		}
	}
}
