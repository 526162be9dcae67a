package proxy_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"connectrpc.com/grpchealth"
	"connectrpc.com/grpcreflect"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	instancev1 "github.com/otterscale/kubectl-otterscale/gen/otterscale/instance/v1"
	"github.com/otterscale/kubectl-otterscale/gen/otterscale/instance/v1/instancev1connect"
	storagev1 "github.com/otterscale/kubectl-otterscale/gen/otterscale/storage/v1"
	"github.com/otterscale/kubectl-otterscale/gen/otterscale/storage/v1/storagev1connect"
	"github.com/otterscale/kubectl-otterscale/pkg/proxy"
)

// The ways a client can reach the proxy: each protocol, over HTTP/1.1 and
// cleartext HTTP/2 where the protocol allows.
var protocols = []struct {
	name   string
	client *http.Client
	opts   []connect.ClientOption
}{
	{"connect-json-http1", http1, []connect.ClientOption{connect.WithProtoJSON()}},
	{"connect-proto-h2c", h2c, nil},
	{"grpc-h2c", h2c, []connect.ClientOption{connect.WithGRPC()}},
	{"grpcweb-http1", http1, []connect.ClientOption{connect.WithGRPCWeb()}},
	{"grpcweb-json-h2c", h2c, []connect.ClientOption{connect.WithGRPCWeb(), connect.WithProtoJSON()}},
}

// Every InstanceService RPC, through every protocol: the results checked
// in the API server, the watch stream followed from its opening to the
// deletion.
func TestEveryRPCEveryProtocol(t *testing.T) {
	f := setup(t)
	p := serve(t, proxy.Services{Instance: f.svc}, proxy.Options{})
	for _, proto := range protocols {
		t.Run(proto.name, func(t *testing.T) {
			ctx := t.Context()
			client := instancev1connect.NewInstanceServiceClient(proto.client, p.url, proto.opts...)
			name := "dv-" + proto.name

			created, err := client.CreateDataVolume(ctx, connect.NewRequest(&instancev1.CreateDataVolumeRequest{
				Name: name, Namespace: f.Namespace, SizeBytes: 1 << 30, StorageClass: "ceph-block",
			}))
			if err != nil {
				t.Fatalf("create: %v", err)
			}
			if created.Msg.GetName() != name || created.Msg.GetSizeBytes() != 1<<30 {
				t.Errorf("create answered %v", created.Msg)
			}
			if _, err := f.CDI.CdiV1beta1().DataVolumes(f.Namespace).Get(ctx, name, metav1.GetOptions{}); err != nil {
				t.Fatalf("the DataVolume is not in the API server: %v", err)
			}

			got, err := client.GetDataVolume(ctx, connect.NewRequest(&instancev1.GetDataVolumeRequest{Namespace: f.Namespace, Name: name}))
			if err != nil {
				t.Fatalf("get: %v", err)
			}
			if got.Msg.GetName() != name || got.Msg.GetNamespace() != f.Namespace || got.Msg.GetStorageClass() != "ceph-block" {
				t.Errorf("get answered %v", got.Msg)
			}

			list, err := client.ListDataVolumes(ctx, connect.NewRequest(&instancev1.ListDataVolumesRequest{Namespace: f.Namespace}))
			if err != nil {
				t.Fatalf("list: %v", err)
			}
			if !slices.ContainsFunc(list.Msg.GetDataVolumes(), func(dv *instancev1.DataVolume) bool { return dv.GetName() == name }) {
				t.Errorf("list lacks %s: %v", name, list.Msg)
			}

			wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			defer cancel()
			stream, err := client.WatchDataVolumes(wctx, connect.NewRequest(&instancev1.WatchDataVolumesRequest{Namespace: f.Namespace, Names: []string{name}}))
			if err != nil {
				t.Fatalf("watch: %v", err)
			}
			defer stream.Close()
			receive := func(want instancev1.WatchDataVolumesResponse_Type) *instancev1.WatchDataVolumesResponse {
				t.Helper()
				for stream.Receive() {
					if stream.Msg().GetType() == want {
						return stream.Msg()
					}
				}
				t.Fatalf("watch ended before %v: %v", want, stream.Err())
				return nil
			}
			if msg := receive(instancev1.WatchDataVolumesResponse_ADDED); msg.GetDataVolume().GetName() != name {
				t.Errorf("ADDED %v, want %s", msg, name)
			}
			receive(instancev1.WatchDataVolumesResponse_SYNCED)

			// What CDI and the provisioner would do: a bound claim, which
			// Extend then grows.
			claim(t, f, name)
			if msg := receive(instancev1.WatchDataVolumesResponse_MODIFIED); msg.GetDataVolume().GetName() != name {
				t.Errorf("MODIFIED %v, want %s", msg, name)
			}
			if _, err := client.ExtendDataVolume(ctx, connect.NewRequest(&instancev1.ExtendDataVolumeRequest{Namespace: f.Namespace, Name: name, SizeBytes: 2 << 30})); err != nil {
				t.Fatalf("extend: %v", err)
			}
			pvc, err := f.Kube.CoreV1().PersistentVolumeClaims(f.Namespace).Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if q := pvc.Spec.Resources.Requests[corev1.ResourceStorage]; q.String() != "2Gi" {
				t.Errorf("claim requests %s after extend, want 2Gi", q.String())
			}

			if _, err := client.DeleteDataVolume(ctx, connect.NewRequest(&instancev1.DeleteDataVolumeRequest{Namespace: f.Namespace, Name: name})); err != nil {
				t.Fatalf("delete: %v", err)
			}
			if msg := receive(instancev1.WatchDataVolumesResponse_DELETED); msg.GetDataVolume().GetName() != name {
				t.Errorf("DELETED %v, want %s", msg, name)
			}
			if _, err := f.CDI.CdiV1beta1().DataVolumes(f.Namespace).Get(ctx, name, metav1.GetOptions{}); err == nil {
				t.Error("the DataVolume is still in the API server")
			}

			// Codes cross every protocol intact.
			_, err = client.GetDataVolume(ctx, connect.NewRequest(&instancev1.GetDataVolumeRequest{Namespace: f.Namespace, Name: name}))
			if connect.CodeOf(err) != connect.CodeNotFound {
				t.Errorf("get of a deleted DataVolume: %v, want not_found", err)
			}
			_, err = client.GetDataVolume(ctx, connect.NewRequest(&instancev1.GetDataVolumeRequest{Scope: "nowhere", Namespace: f.Namespace, Name: name}))
			if connect.CodeOf(err) != connect.CodeNotFound {
				t.Errorf("unknown scope: %v, want not_found", err)
			}
			_, err = client.ListDataVolumes(ctx, connect.NewRequest(&instancev1.ListDataVolumesRequest{Scope: "nobody", Namespace: f.Namespace}))
			if connect.CodeOf(err) != connect.CodePermissionDenied {
				t.Errorf("scope nobody: %v, want permission_denied", err)
			}
		})
	}
	// StorageService is mounted even without an implementation.
	_, err := storagev1connect.NewStorageServiceClient(http1, p.url).ListImages(t.Context(), connect.NewRequest(&storagev1.ListImagesRequest{}))
	if connect.CodeOf(err) != connect.CodeUnimplemented {
		t.Errorf("StorageService without an implementation: %v, want unimplemented", err)
	}
}

// claim creates the DataVolume's claim in the class and binds it.
func claim(t *testing.T, f *fixture, name string) {
	t.Helper()
	class := "ceph-block"
	pvc := &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: f.Namespace},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes:      []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			StorageClassName: &class,
			Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{
				corev1.ResourceStorage: resource.MustParse("1Gi"),
			}},
		},
	}
	if _, err := f.Kube.CoreV1().PersistentVolumeClaims(f.Namespace).Create(t.Context(), pvc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := f.BindClaim(t.Context(), f.Namespace, name, resource.Quantity{}); err != nil {
		t.Fatal(err)
	}
}

// answer is what came back for a hand-written request.
type answer struct {
	StatusCode int
	ProtoMajor int
	Proto      string
	Header     http.Header
}

// post sends a hand-written request and returns the answer and its body.
func post(t *testing.T, client *http.Client, req *http.Request) (answer, []byte) {
	t.Helper()
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return answer{resp.StatusCode, resp.ProtoMajor, resp.Proto, resp.Header}, body
}

func jsonRequest(t *testing.T, url, procedure, body string) *http.Request {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, url+procedure, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	return req
}

// JSON written from the documented API, as the web UI sends it with fetch:
// both spellings of the enum are read, the documented one is written, and
// zero values are present. Over HTTP/1.1 and h2c alike.
func TestHandWrittenJSON(t *testing.T) {
	f := setup(t)
	p := serve(t, proxy.Services{Instance: f.svc}, proxy.Options{})
	for _, c := range []struct {
		spelling string
		client   *http.Client
		proto    int
	}{
		{"HTTP_URL", http1, 1},
		{"TYPE_HTTP_URL", h2c, 2},
	} {
		t.Run(c.spelling, func(t *testing.T) {
			name := "json-" + strings.ToLower(strings.ReplaceAll(c.spelling, "_", "-"))
			body := `{"name":"` + name + `","namespace":"` + f.Namespace + `","source":{"type":"` + c.spelling + `","data":"https://example.com/disk.img"},"bootImage":true,"sizeBytes":"1073741824"}`
			resp, data := post(t, c.client, jsonRequest(t, p.url, instancev1connect.InstanceServiceCreateDataVolumeProcedure, body))
			if resp.StatusCode != http.StatusOK || resp.ProtoMajor != c.proto {
				t.Fatalf("%s: status %d: %s", resp.Proto, resp.StatusCode, data)
			}
			var out map[string]any
			if err := json.Unmarshal(data, &out); err != nil {
				t.Fatalf("answer is not JSON: %v: %s", err, data)
			}
			if src, _ := out["source"].(map[string]any); src["type"] != "TYPE_HTTP_URL" {
				t.Errorf("source.type = %v, want upstream's TYPE_HTTP_URL: %s", out["source"], data)
			}
			for _, key := range []string{"phase", "progress", "restartCount", "conditions"} {
				if _, ok := out[key]; !ok {
					t.Errorf("answer lacks the zero-valued %q: %s", key, data)
				}
			}
			dv, err := f.CDI.CdiV1beta1().DataVolumes(f.Namespace).Get(t.Context(), name, metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if dv.Spec.Source == nil || dv.Spec.Source.HTTP == nil || dv.Spec.Source.HTTP.URL != "https://example.com/disk.img" {
				t.Errorf("source in the API server = %+v", dv.Spec.Source)
			}
		})
	}
	// The list filter's enum by name, and an error as Connect's JSON.
	resp, data := post(t, http1, jsonRequest(t, p.url, instancev1connect.InstanceServiceListDataVolumesProcedure, `{"namespace":"`+f.Namespace+`","filter":"BOOTABLE"}`))
	if resp.StatusCode != http.StatusOK || strings.Count(string(data), `"name"`) != 2 {
		t.Errorf("list bootable: status %d: %s", resp.StatusCode, data)
	}
	// An enum name nobody knows is refused, not read as ALL, naming the
	// field and the names it accepts; an unknown field is still ignored.
	resp, data = post(t, http1, jsonRequest(t, p.url, instancev1connect.InstanceServiceListDataVolumesProcedure, `{"namespace":"`+f.Namespace+`","filter":"NOPE","futureField":1}`))
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(data), `"code":"invalid_argument"`) ||
		!strings.Contains(string(data), `filter: \"NOPE\" is not a value of otterscale.instance.v1.DataVolumeFilter; accepted: ALL, BOOTABLE, NON_BOOTABLE`) {
		t.Errorf("unknown filter name: status %d: %s", resp.StatusCode, data)
	}
	resp, data = post(t, http1, jsonRequest(t, p.url, instancev1connect.InstanceServiceCreateDataVolumeProcedure,
		`{"name":"json-nope","namespace":"`+f.Namespace+`","source":{"type":"TYPE_NOPE"},"sizeBytes":"1073741824"}`))
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(data), `source.type: \"TYPE_NOPE\" is not a value`) {
		t.Errorf("unknown source type: status %d: %s", resp.StatusCode, data)
	}
	if _, err := f.CDI.CdiV1beta1().DataVolumes(f.Namespace).Get(t.Context(), "json-nope", metav1.GetOptions{}); err == nil {
		t.Error("a DataVolume was created from a request with an unknown source type")
	}
	resp, data = post(t, http1, jsonRequest(t, p.url, instancev1connect.InstanceServiceGetDataVolumeProcedure, `{"scope":"nowhere","namespace":"default","name":"x"}`))
	if resp.StatusCode != http.StatusNotFound || !strings.Contains(string(data), `"code":"not_found"`) {
		t.Errorf("unknown scope: status %d: %s", resp.StatusCode, data)
	}
}

// Health answers SERVING for the process and both services, over gRPC and
// Connect's JSON.
func TestHealth(t *testing.T) {
	f := setup(t)
	p := serve(t, proxy.Services{Instance: f.svc}, proxy.Options{})
	for _, service := range []string{"", instancev1connect.InstanceServiceName, storagev1connect.StorageServiceName} {
		status, err := healthCheck(t, p.url, service)
		if err != nil || status != grpchealth.StatusServing {
			t.Errorf("health of %q over gRPC: %v, %v; want serving", service, status, err)
		}
		resp, data := post(t, http1, jsonRequest(t, p.url, "/grpc.health.v1.Health/Check", `{"service":"`+service+`"}`))
		// grpchealth's own copy of the schema spells the enum
		// SERVING_STATUS_SERVING in JSON; binary gRPC is what probes use.
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(data), `"status":"SERVING_STATUS_SERVING"`) {
			t.Errorf("health of %q over Connect: status %d: %s", service, resp.StatusCode, data)
		}
	}
	if _, err := healthCheck(t, p.url, "no.such.Service"); connect.CodeOf(err) != connect.CodeNotFound {
		t.Errorf("health of an unknown service: %v, want not_found", err)
	}
}

// Reflection v1 (buf curl, grpcurl) and v1alpha (older grpcurl) describe
// both services.
func TestReflection(t *testing.T) {
	f := setup(t)
	p := serve(t, proxy.Services{Instance: f.svc}, proxy.Options{})
	stream := grpcreflect.NewClient(h2c, p.url, connect.WithGRPC()).NewStream(t.Context())
	names, err := stream.ListServices()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{instancev1connect.InstanceServiceName, storagev1connect.StorageServiceName, grpchealth.HealthV1ServiceName} {
		if !slices.ContainsFunc(names, func(n protoreflectName) bool { return string(n) == want }) {
			t.Errorf("reflection lists %v, lacking %s", names, want)
		}
	}
	files, err := stream.FileContainingSymbol(instancev1connect.InstanceServiceName)
	if err != nil || len(files) == 0 || !strings.HasSuffix(files[0].GetName(), "instance.proto") {
		t.Errorf("file containing InstanceService: %v, %v", files, err)
	}
	if _, err := stream.Close(); err != nil {
		t.Error(err)
	}
	listed, err := reflectV1Alpha(t, p.url)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(listed, instancev1connect.InstanceServiceName) {
		t.Errorf("v1alpha lists %v", listed)
	}
}

// Procedures the proxy does not serve answer unimplemented in the caller's
// protocol, and are logged; other paths are plain 404s.
func TestUnknownProcedure(t *testing.T) {
	f := setup(t)
	p := serve(t, proxy.Services{Instance: f.svc}, proxy.Options{})
	const procedure = "/otterscale.machine.v1.MachineService/ListMachines"
	for _, proto := range protocols {
		client := connect.NewClient[instancev1.ListDataVolumesRequest, instancev1.ListDataVolumesResponse](proto.client, p.url+procedure, proto.opts...)
		_, err := client.CallUnary(t.Context(), connect.NewRequest(&instancev1.ListDataVolumesRequest{}))
		if connect.CodeOf(err) != connect.CodeUnimplemented {
			t.Errorf("%s: %v, want unimplemented", proto.name, err)
		}
	}
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, p.url+"/index.html", http.NoBody)
	if err != nil {
		t.Fatal(err)
	}
	if resp, _ := post(t, http1, req); resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET /index.html: %d, want 404", resp.StatusCode)
	}
	if n := strings.Count(p.logs.String(), "procedure="+procedure+" code=unimplemented"); n != len(protocols) {
		t.Errorf("want %d log lines for %s:\n%s", len(protocols), procedure, p.logs)
	}
}

// Small answers go uncompressed even to callers that accept gzip (it cost
// more than it saved); large ones, such as a long list, are compressed.
func TestCompressOnlyLargeAnswers(t *testing.T) {
	f := setup(t)
	p := serve(t, proxy.Services{Instance: f.svc}, proxy.Options{})
	client := instancev1connect.NewInstanceServiceClient(http1, p.url)
	for i := range 30 {
		if _, err := client.CreateDataVolume(t.Context(), connect.NewRequest(&instancev1.CreateDataVolumeRequest{
			Name: fmt.Sprintf("dv-%02d", i), Namespace: f.Namespace, SizeBytes: 1 << 30,
		})); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct {
		procedure, body string
		gzip            bool
	}{
		{instancev1connect.InstanceServiceGetDataVolumeProcedure, `{"namespace":"` + f.Namespace + `","name":"dv-00"}`, false},
		{listProcedure, `{"namespace":"` + f.Namespace + `"}`, true},
	} {
		req := jsonRequest(t, p.url, c.procedure, c.body)
		req.Header.Set("Accept-Encoding", "gzip")
		// A transport that leaves the encoding to us.
		resp, err := (&http.Transport{DisableCompression: true}).RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		gzipped := resp.Header.Get("Content-Encoding") == "gzip"
		if resp.StatusCode != http.StatusOK || gzipped != c.gzip {
			t.Errorf("%s: status %d, Content-Encoding %q (%d bytes on the wire); want gzip %v",
				c.procedure, resp.StatusCode, resp.Header.Get("Content-Encoding"), len(data), c.gzip)
		}
	}
}
