package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/otterscale/kubectl-otterscale/internal/cdisim"
	"github.com/otterscale/kubectl-otterscale/internal/cephenv"
	"github.com/otterscale/kubectl-otterscale/internal/testenv"
)

// upstreamSchema is a client's view of the API built from upstream's final
// tables (testdata/upstream, transcribed from API-upstream.md, never from
// proto/): only the TYPE_ enum names, field 41 reserved, upstream's type
// names. What it cannot decode, OtterScale's web UI cannot either.
type upstreamSchema struct{ files *protoregistry.Files }

func loadUpstream(t *testing.T) upstreamSchema {
	t.Helper()
	buf := testenv.Tool(t, "OTTERSCALE_BUF", "buf")
	image := filepath.Join(t.TempDir(), "upstream.binpb")
	cmd := exec.CommandContext(t.Context(), buf, "build", "testdata/upstream", "-o", image)
	cmd.Env = append(os.Environ(), "BUF_CACHE_DIR="+t.TempDir())
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("buf build testdata/upstream: %v\n%s", err, out)
	}
	data, err := os.ReadFile(image)
	if err != nil {
		t.Fatal(err)
	}
	var set descriptorpb.FileDescriptorSet
	if err := proto.Unmarshal(data, &set); err != nil {
		t.Fatal(err)
	}
	files, err := protodesc.NewFiles(&set)
	if err != nil {
		t.Fatal(err)
	}
	return upstreamSchema{files}
}

func (u upstreamSchema) message(t *testing.T, name string) *dynamicpb.Message {
	t.Helper()
	d, err := u.files.FindDescriptorByName(protoreflect.FullName(name))
	if err != nil {
		t.Fatalf("upstream schema: %v", err)
	}
	return dynamicpb.NewMessage(d.(protoreflect.MessageDescriptor))
}

// request builds a request of upstream's type from JSON in upstream's
// names, strictly: a name upstream does not have is a mistake in the test.
func (u upstreamSchema) request(t *testing.T, name, js string) *dynamicpb.Message {
	t.Helper()
	m := u.message(t, name)
	if err := protojson.Unmarshal([]byte(js), m); err != nil {
		t.Fatalf("request %s %s: %v", name, js, err)
	}
	return m
}

// call sends req to the proxy as a client generated from upstream's schema
// would, in Connect JSON or binary, and decodes the answer into upstream's
// response type. JSON: fields upstream does not know (this project's
// additions) are ignored, as connect-es does; anything else must decode
// strictly, so an enum name upstream does not know fails. Binary: every
// enum number must be one upstream names.
func (u upstreamSchema) call(t *testing.T, base, service, method string, req proto.Message, response string, binary bool) *dynamicpb.Message {
	t.Helper()
	var body []byte
	var err error
	contentType := "application/json"
	if binary {
		contentType = "application/proto"
		body, err = proto.Marshal(req)
	} else {
		body, err = protojson.Marshal(req)
	}
	if err != nil {
		t.Fatal(err)
	}
	hr, err := http.NewRequestWithContext(t.Context(), http.MethodPost, base+"/"+service+"/"+method, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	hr.Header.Set("Content-Type", contentType)
	hr.Header.Set("Connect-Protocol-Version", "1")
	resp, err := http.DefaultClient.Do(hr)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s/%s (%s): status %d: %s", service, method, contentType, resp.StatusCode, data)
	}
	out := u.message(t, response)
	if binary {
		if err := proto.Unmarshal(data, out); err != nil {
			t.Fatalf("%s/%s: upstream's schema cannot decode the binary answer: %v", service, method, err)
		}
		if err := knownEnumNumbers(out.ProtoReflect()); err != nil {
			t.Errorf("%s/%s binary answer: %v", service, method, err)
		}
		return out
	}
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatalf("%s/%s: answer is not JSON: %v: %s", service, method, err, data)
	}
	known, err := json.Marshal(onlyKnown(v, out.Descriptor()))
	if err != nil {
		t.Fatal(err)
	}
	if err := protojson.Unmarshal(known, out); err != nil {
		t.Errorf("%s/%s: upstream's schema cannot decode the answer: %v\n%s", service, method, err, data)
	}
	return out
}

// onlyKnown drops the keys md does not know, all the way down: what a
// client that ignores unknown fields reads.
func onlyKnown(v any, md protoreflect.MessageDescriptor) any {
	obj, ok := v.(map[string]any)
	if !ok || strings.HasPrefix(string(md.FullName()), "google.protobuf.") {
		return v
	}
	fields := md.Fields()
	for key, val := range obj {
		fd := fields.ByJSONName(key)
		if fd == nil {
			fd = fields.ByTextName(key)
		}
		switch {
		case fd == nil:
			delete(obj, key)
		case fd.IsMap() && fd.MapValue().Kind() == protoreflect.MessageKind:
			if m, ok := val.(map[string]any); ok {
				for k, mv := range m {
					m[k] = onlyKnown(mv, fd.MapValue().Message())
				}
			}
		case fd.IsMap():
		case fd.Kind() == protoreflect.MessageKind && fd.IsList():
			if l, ok := val.([]any); ok {
				for i := range l {
					l[i] = onlyKnown(l[i], fd.Message())
				}
			}
		case fd.Kind() == protoreflect.MessageKind:
			obj[key] = onlyKnown(val, fd.Message())
		}
	}
	return obj
}

// knownEnumNumbers fails on an enum number the message's schema does not
// name.
func knownEnumNumbers(m protoreflect.Message) error {
	var err error
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		check := func(v protoreflect.Value) {
			switch fd.Kind() {
			case protoreflect.EnumKind:
				if fd.Enum().Values().ByNumber(v.Enum()) == nil && err == nil {
					err = fmt.Errorf("%s: enum number %d is not a value of %s", fd.FullName(), v.Enum(), fd.Enum().FullName())
				}
			case protoreflect.MessageKind:
				if e := knownEnumNumbers(v.Message()); e != nil && err == nil {
					err = e
				}
			}
		}
		switch {
		case fd.IsList():
			for i := range v.List().Len() {
				check(v.List().Get(i))
			}
		case fd.IsMap():
			v.Map().Range(func(_ protoreflect.MapKey, mv protoreflect.Value) bool {
				if fd.MapValue().Kind() == protoreflect.MessageKind {
					if e := knownEnumNumbers(mv.Message()); e != nil && err == nil {
						err = e
					}
				}
				return true
			})
		default:
			check(v)
		}
		return err == nil
	})
	return err
}

// enumName is the name upstream's schema gives the enum at path (field
// names, dot-separated) in m.
func enumName(m protoreflect.Message, path string) string {
	parts := strings.Split(path, ".")
	for _, p := range parts[:len(parts)-1] {
		m = m.Get(m.Descriptor().Fields().ByName(protoreflect.Name(p))).Message()
	}
	fd := m.Descriptor().Fields().ByName(protoreflect.Name(parts[len(parts)-1]))
	if v := fd.Enum().Values().ByNumber(m.Get(fd).Enum()); v != nil {
		return string(v.Name())
	}
	return fmt.Sprintf("#%d", m.Get(fd).Enum())
}

func str(m protoreflect.Message, field string) string {
	return m.Get(m.Descriptor().Fields().ByName(protoreflect.Name(field))).String()
}

func list(m protoreflect.Message, field string) protoreflect.List {
	return m.Get(m.Descriptor().Fields().ByName(protoreflect.Name(field))).List()
}

// A client generated from upstream's final schema, as OtterScale's web UI
// is, decodes every answer of every upstream RPC the proxy serves, in JSON
// and binary, with unknown enum names and numbers rejected; a URL import
// and a clone decode with their real source types. The calls are the web
// UI's (API.md, What OtterScale's web UI calls).
func TestUpstreamClientContract(t *testing.T) {
	env, c := testenv.Require(t), cephenv.Require(t)
	dir := pluginOnPath(t)
	up := loadUpstream(t)
	ctx := t.Context()
	const ns = "e2e-contract"
	if _, err := env.Kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// The clone's source claim, as a VM's disk would be.
	golden := &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: "golden", Namespace: ns},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}},
		},
	}
	if _, err := env.Kube.CoreV1().PersistentVolumeClaims(ns).Create(ctx, golden, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := env.CreateStorageClass(ctx, "e2e-contract", false); err != nil {
		t.Fatal(err)
	}
	if err := c.CreateImage(ctx, "contract-img", 8<<20); err != nil {
		t.Fatal(err)
	}
	p := start(t, env, dir, "otterscale", "proxy", "--port", "0",
		"--ceph-mon-host", c.MonHost, "--ceph-user", "admin", "--ceph-keyring", c.AdminKeyring)
	p.until(t, "Try:")
	base := servingRe.FindStringSubmatch(p.stdout.String())[1]

	const instance, storage = "otterscale.instance.v1.InstanceService", "otterscale.storage.v1.StorageService"
	for _, binary := range []bool{false, true} {
		enc := map[bool]string{false: "json", true: "binary"}[binary]
		t.Run(enc, func(t *testing.T) {
			call := func(service, method, request, js, response string) *dynamicpb.Message {
				t.Helper()
				return up.call(t, base, service, method, up.request(t, request, js), response, binary)
			}
			n := func(s string) string { return enc + "-" + s }
			// The data-volume page: create with the TYPE_ names.
			for _, tt := range []struct{ name, source, want string }{
				{"url", `{"type":"TYPE_HTTP_URL","data":"https://example.com/disk.img"}`, "TYPE_HTTP_URL"},
				{"blank", `{"type":"TYPE_BLANK_IMAGE"}`, "TYPE_BLANK_IMAGE"},
				{"clone", `{"type":"TYPE_EXISTING_PERSISTENT_VOLUME_CLAIM","data":"golden"}`, "TYPE_EXISTING_PERSISTENT_VOLUME_CLAIM"},
			} {
				boot := tt.name == "url"
				dv := call(instance, "CreateDataVolume", "otterscale.instance.v1.CreateDataVolumeRequest",
					fmt.Sprintf(`{"namespace":%q,"name":%q,"source":%s,"bootImage":%t,"sizeBytes":"1073741824"}`, ns, n(tt.name), tt.source, boot),
					"otterscale.instance.v1.DataVolume")
				if got := enumName(dv.ProtoReflect(), "source.type"); got != tt.want {
					t.Errorf("created %s: source.type decodes as %s, want %s", tt.name, got, tt.want)
				}
				got := call(instance, "GetDataVolume", "otterscale.instance.v1.GetDataVolumeRequest",
					fmt.Sprintf(`{"namespace":%q,"name":%q}`, ns, n(tt.name)), "otterscale.instance.v1.DataVolume")
				if s := enumName(got.ProtoReflect(), "source.type"); s != tt.want {
					t.Errorf("get %s: source.type decodes as %s, want %s", tt.name, s, tt.want)
				}
			}
			for filter, want := range map[string][]string{
				"ALL": {n("blank"), n("clone"), n("url")}, "BOOTABLE": {n("url")}, "NON_BOOTABLE": {n("blank"), n("clone")},
			} {
				resp := call(instance, "ListDataVolumes", "otterscale.instance.v1.ListDataVolumesRequest",
					fmt.Sprintf(`{"namespace":%q,"filter":%q}`, ns, filter), "otterscale.instance.v1.ListDataVolumesResponse")
				var names []string
				dvs := list(resp.ProtoReflect(), "data_volumes")
				for i := range dvs.Len() {
					if name := str(dvs.Get(i).Message(), "name"); strings.HasPrefix(name, enc+"-") {
						names = append(names, name)
					}
				}
				if strings.Join(names, ",") != strings.Join(want, ",") {
					t.Errorf("ListDataVolumes %s = %v, want %v", filter, names, want)
				}
			}
			// A disk to grow, made with a class that allows expansion (a
			// field upstream's request lacks), whose claim CDI makes and
			// binds (the older path: the DataVolume's own claim binds first).
			if r := kubectl(t, env, dir, "otterscale", "dv", "create", n("ext"), "-n", ns, "--size", "1Gi", "--storage-class", "e2e-contract"); r.code != 0 {
				t.Fatalf("%+v", r)
			}
			sim, err := cdisim.NewWith(env.Config, cdisim.Options{Setup: cdisim.SetupA})
			if err != nil {
				t.Fatal(err)
			}
			if err := sim.Start(ctx, ns, n("ext")); err != nil {
				t.Fatal(err)
			}
			if err := sim.Schedule(ctx, ns, n("ext")); err != nil {
				t.Fatal(err)
			}
			call(instance, "ExtendDataVolume", "otterscale.instance.v1.ExtendDataVolumeRequest",
				fmt.Sprintf(`{"namespace":%q,"name":%q,"sizeBytes":"2147483648"}`, ns, n("ext")), "google.protobuf.Empty")
			if pvc, err := env.Kube.CoreV1().PersistentVolumeClaims(ns).Get(ctx, n("ext"), metav1.GetOptions{}); err != nil ||
				pvc.Spec.Resources.Requests.Storage().Value() != 2<<30 {
				t.Errorf("claim after ExtendDataVolume: %v %v", err, pvc.Spec.Resources.Requests)
			}
			call(instance, "DeleteDataVolume", "otterscale.instance.v1.DeleteDataVolumeRequest",
				fmt.Sprintf(`{"namespace":%q,"name":%q}`, ns, n("clone")), "google.protobuf.Empty")

			// The block-device page: images and the five snapshot actions.
			snap := fmt.Sprintf(`{"poolName":"rbd","imageName":"contract-img","snapshotName":%q}`, n("snap"))
			s := call(storage, "CreateImageSnapshot", "otterscale.storage.v1.CreateImageSnapshotRequest", snap, "otterscale.storage.v1.Image.Snapshot")
			if str(s.ProtoReflect(), "name") != n("snap") {
				t.Errorf("CreateImageSnapshot answered %v", s)
			}
			for _, m := range []string{"ProtectImageSnapshot", "UnprotectImageSnapshot", "RollbackImageSnapshot"} {
				call(storage, m, "otterscale.storage.v1."+strings.TrimSuffix(m, "ImageSnapshot")+"ImageSnapshotRequest", snap, "google.protobuf.Empty")
			}
			images := call(storage, "ListImages", "otterscale.storage.v1.ListImagesRequest", `{}`, "otterscale.storage.v1.ListImagesResponse")
			found := false
			imgs := list(images.ProtoReflect(), "images")
			for i := range imgs.Len() {
				found = found || str(imgs.Get(i).Message(), "name") == "contract-img"
			}
			if !found {
				t.Errorf("ListImages lacks contract-img: %v", images)
			}
			call(storage, "DeleteImageSnapshot", "otterscale.storage.v1.DeleteImageSnapshotRequest", snap, "google.protobuf.Empty")

			// The block-device page's pools and image actions.
			pools := call(storage, "ListPools", "otterscale.storage.v1.ListPoolsRequest", `{"application":"APPLICATION_BLOCK"}`, "otterscale.storage.v1.ListPoolsResponse")
			rbdPool := false
			ps := list(pools.ProtoReflect(), "pools")
			for i := range ps.Len() {
				pool := ps.Get(i).Message()
				if str(pool, "name") == "rbd" {
					rbdPool = enumName(pool, "type") == "TYPE_REPLICATED"
				}
			}
			if !rbdPool {
				t.Errorf("ListPools APPLICATION_BLOCK lacks the replicated pool rbd: %v", pools)
			}
			img := fmt.Sprintf(`{"poolName":"rbd","imageName":%q`, n("img"))
			created := call(storage, "CreateImage", "otterscale.storage.v1.CreateImageRequest", img+`,"quotaBytes":"16777216","layering":true}`, "otterscale.storage.v1.Image")
			grown := call(storage, "UpdateImage", "otterscale.storage.v1.UpdateImageRequest", img+`,"quotaBytes":"33554432"}`, "otterscale.storage.v1.Image")
			if str(created.ProtoReflect(), "name") != n("img") || grown.ProtoReflect().Get(grown.Descriptor().Fields().ByName("quota_bytes")).Uint() != 32<<20 {
				t.Errorf("CreateImage answered %v, UpdateImage %v", created, grown)
			}
			call(storage, "DeleteImage", "otterscale.storage.v1.DeleteImageRequest", img+`}`, "google.protobuf.Empty")
			if out, err := c.RBD(ctx, "ls", "rbd"); err != nil || strings.Contains(string(out), n("img")) {
				t.Errorf("rbd ls after DeleteImage: %v\n%s", err, out)
			}
			if out, err := c.RBD(ctx, "snap", "ls", "rbd/contract-img"); err != nil || strings.Contains(string(out), n("snap")) {
				t.Errorf("rbd snap ls after DeleteImageSnapshot: %v\n%s", err, out)
			}
		})
	}
}
