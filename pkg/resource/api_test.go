package resource_test

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	linkv1 "github.com/otterscale/kubectl-otterscale/gen/otterscale/link/v1"
	resourcev1 "github.com/otterscale/kubectl-otterscale/gen/otterscale/resource/v1"
	"github.com/otterscale/kubectl-otterscale/internal/testenv"
)

var configMaps = schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}

func configMap(name string) []byte {
	return fmt.Appendf(nil, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: %s\ndata:\n  k: v\n", name)
}

// A core resource (group "") and a cluster-scoped one, in each protocol.
func TestCoreAndClusterScoped(t *testing.T) {
	f := setup(t)
	for _, p := range protocols {
		t.Run(p, func(t *testing.T) {
			c := f.clients[p]
			ctx := t.Context()
			g, v, r := "", "v1", "configmaps"
			name := "cm-" + testenv.Suffix()
			if _, err := c.Create(ctx, connect.NewRequest(&resourcev1.CreateRequest{
				Group: &g, Version: &v, Resource: &r, Namespace: &f.ns, Manifest: configMap(name),
			})); err != nil {
				t.Fatal(err)
			}
			cm, err := f.env.Kube.CoreV1().ConfigMaps(f.ns).Get(ctx, name, metav1.GetOptions{})
			if err != nil || cm.Data["k"] != "v" {
				t.Fatalf("in the API server: %v, %v", cm, err)
			}

			// Namespaces: cluster-scoped; the request's namespace is moot.
			ns := "c-" + testenv.Suffix()
			nr := "namespaces"
			if _, err := c.Create(ctx, connect.NewRequest(&resourcev1.CreateRequest{
				Version: &v, Resource: &nr, Manifest: fmt.Appendf(nil, `{"apiVersion":"v1","kind":"Namespace","metadata":{"name":%q}}`, ns),
			})); err != nil {
				t.Fatal(err)
			}
			if _, err := f.env.Kube.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{}); err != nil {
				t.Fatalf("the namespace is not in the API server: %v", err)
			}
			got, err := c.Get(ctx, connect.NewRequest(&resourcev1.GetRequest{Version: &v, Resource: &nr, Name: &ns, Namespace: &f.ns}))
			if err != nil || object(t, got.Msg).GetName() != ns {
				t.Fatalf("get namespace: %v", err)
			}
			list, err := c.List(ctx, connect.NewRequest(&resourcev1.ListRequest{Version: &v, Resource: &nr}))
			if err != nil {
				t.Fatal(err)
			}
			names := map[string]bool{}
			for _, it := range list.Msg.GetItems() {
				names[object(t, it).GetName()] = true
			}
			if !names[ns] || !names[f.ns] || !names["default"] {
				t.Errorf("namespaces listed: %v", names)
			}
			if _, err := c.Delete(ctx, connect.NewRequest(&resourcev1.DeleteRequest{Version: &v, Resource: &nr, Name: &ns})); err != nil {
				t.Fatal(err)
			}
			// No controller finalizes namespaces here: deleting marks it.
			gone, err := f.env.Kube.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
			if err == nil && gone.DeletionTimestamp == nil {
				t.Errorf("namespace %s is not being deleted", ns)
			}
		})
	}
}

// List pages with limit and continue, as the API server does.
func TestListPages(t *testing.T) {
	f := setup(t)
	c := f.clients["connect+proto"]
	for i := range 5 {
		if _, err := f.env.Kube.CoreV1().ConfigMaps(f.ns).Create(t.Context(), mustConfigMap(t, fmt.Sprintf("page-%d", i)), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	g, v, r := configMaps.Group, configMaps.Version, configMaps.Resource
	seen := map[string]bool{}
	token := ""
	pages := 0
	for {
		resp, err := c.List(t.Context(), connect.NewRequest(&resourcev1.ListRequest{
			Group: &g, Version: &v, Resource: &r, Namespace: &f.ns, Limit: proto.Int64(2), Continue: &token,
		}))
		if err != nil {
			t.Fatal(err)
		}
		pages++
		if n := len(resp.Msg.GetItems()); n > 2 {
			t.Fatalf("page %d has %d items, limit 2", pages, n)
		}
		for _, it := range resp.Msg.GetItems() {
			seen[object(t, it).GetName()] = true
		}
		if pages == 1 && resp.Msg.GetRemainingItemCount() != 3 {
			t.Errorf("first page: remaining %d, want 3 (5 config maps, 2 on the page)", resp.Msg.GetRemainingItemCount())
		}
		token = resp.Msg.GetContinue()
		if token == "" {
			break
		}
	}
	// The namespace also holds kube-root-ca.crt when a controller runs;
	// none does here.
	if pages != 3 || len(seen) != 5 {
		t.Errorf("%d pages, %d config maps: %v", pages, len(seen), seen)
	}
}

func mustConfigMap(t *testing.T, name string) *corev1.ConfigMap {
	t.Helper()
	return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name}, Data: map[string]string{"k": "v"}}
}

// Schema answers DataVolume's schema from the CRD, as JSON Schema, with
// ObjectMeta's $ref inlined.
func TestSchemaDataVolume(t *testing.T) {
	f := setup(t)
	for _, p := range protocols {
		t.Run(p, func(t *testing.T) {
			resp, err := f.clients[p].Schema(t.Context(), connect.NewRequest(&resourcev1.SchemaRequest{
				Group: proto.String("cdi.kubevirt.io"), Version: proto.String("v1beta1"), Kind: proto.String("DataVolume"),
			}))
			if err != nil {
				t.Fatal(err)
			}
			s := resp.Msg.GetSchema().AsMap()
			spec, _ := dig(s, "properties", "spec").(map[string]any)
			for _, field := range []string{"source", "storage", "pvc", "sourceRef"} {
				if _, ok := dig(spec, "properties", field).(map[string]any); !ok {
					t.Errorf("spec has no property %s: %v", field, keys(dig(spec, "properties")))
				}
			}
			if s["type"] != "object" {
				t.Errorf("schema type %v", s["type"])
			}
			// metadata is ObjectMeta, inlined from the document's components.
			if _, ok := dig(s, "properties", "metadata", "allOf").([]any); ok {
				if strings.Contains(fmt.Sprint(dig(s, "properties", "metadata")), "$ref") {
					t.Error("metadata still refers to ObjectMeta")
				}
			}
			if _, ok := findKey(dig(s, "properties", "metadata"), "generateName"); !ok {
				t.Errorf("metadata lacks ObjectMeta's fields: %v", dig(s, "properties", "metadata"))
			}
		})
	}
	c := f.clients["connect+json"]
	// A core kind (group ""), from the API server's built-in OpenAPI.
	cm, err := c.Schema(t.Context(), connect.NewRequest(&resourcev1.SchemaRequest{
		Group: proto.String(""), Version: proto.String("v1"), Kind: proto.String("ConfigMap"),
	}))
	if err != nil {
		t.Fatal(err)
	}
	if dig(cm.Msg.GetSchema().AsMap(), "properties", "data", "type") != "object" {
		t.Errorf("ConfigMap's schema: %v", keys(dig(cm.Msg.GetSchema().AsMap(), "properties")))
	}
	_, err = c.Schema(t.Context(), connect.NewRequest(&resourcev1.SchemaRequest{
		Group: proto.String("cdi.kubevirt.io"), Version: proto.String("v1beta1"), Kind: proto.String("NoSuchKind"),
	}))
	wantCode(t, err, connect.CodeNotFound)
	_, err = c.Schema(t.Context(), connect.NewRequest(&resourcev1.SchemaRequest{
		Group: proto.String("nope.example.com"), Version: proto.String("v1"), Kind: proto.String("Thing"),
	}))
	wantCode(t, err, connect.CodeNotFound)
}

func dig(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

func keys(v any) []string {
	m, _ := v.(map[string]any)
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// findKey looks for key anywhere in v.
func findKey(v any, key string) (any, bool) {
	switch t := v.(type) {
	case map[string]any:
		if x, ok := t[key]; ok {
			return x, true
		}
		for _, e := range t {
			if x, ok := findKey(e, key); ok {
				return x, true
			}
		}
	case []any:
		for _, e := range t {
			if x, ok := findKey(e, key); ok {
				return x, true
			}
		}
	}
	return nil, false
}

// Discovery lists the CRDs' resources and the core ones, without
// subresources.
func TestDiscovery(t *testing.T) {
	f := setup(t)
	resp, err := f.clients["grpc"].Discovery(t.Context(), connect.NewRequest(&resourcev1.DiscoveryRequest{}))
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]*resourcev1.APIResource{}
	for _, r := range resp.Msg.GetApiResources() {
		if strings.Contains(r.GetResource(), "/") {
			t.Errorf("subresource %s listed", r.GetResource())
		}
		byName[r.GetGroup()+"/"+r.GetVersion()+"/"+r.GetResource()] = r
	}
	dv := byName["cdi.kubevirt.io/v1beta1/datavolumes"]
	if dv == nil || dv.GetKind() != "DataVolume" || !dv.GetNamespaced() || !strings.Contains(strings.Join(dv.GetShortNames(), ","), "dv") ||
		!strings.Contains(strings.Join(dv.GetVerbs(), ","), "watch") {
		t.Errorf("datavolumes: %v", dv)
	}
	if ns := byName["/v1/namespaces"]; ns == nil || ns.GetNamespaced() || ns.GetKind() != "Namespace" {
		t.Errorf("namespaces: %v", ns)
	}
}

// Errors come back with the code that fits, in each protocol.
func TestErrors(t *testing.T) {
	f := setup(t)
	g, v, r := dataVolumes.Group, dataVolumes.Version, dataVolumes.Resource
	for _, p := range protocols {
		t.Run(p, func(t *testing.T) {
			c := f.clients[p]
			ctx := t.Context()
			missing := "missing"
			_, err := c.Get(ctx, connect.NewRequest(&resourcev1.GetRequest{Group: &g, Version: &v, Resource: &r, Namespace: &f.ns, Name: &missing}))
			wantCode(t, err, connect.CodeNotFound)

			nobody := testenv.ContextNobody
			_, err = c.List(ctx, connect.NewRequest(&resourcev1.ListRequest{Cluster: &nobody, Group: &g, Version: &v, Resource: &r, Namespace: &f.ns}))
			wantCode(t, err, connect.CodePermissionDenied)
			_, err = c.Create(ctx, connect.NewRequest(&resourcev1.CreateRequest{Cluster: &nobody, Group: &g, Version: &v, Resource: &r, Namespace: &f.ns, Manifest: fmt.Appendf(nil, dvManifest, "x")}))
			wantCode(t, err, connect.CodePermissionDenied)
			bad := testenv.ContextBadToken
			_, err = c.List(ctx, connect.NewRequest(&resourcev1.ListRequest{Cluster: &bad, Group: &g, Version: &v, Resource: &r, Namespace: &f.ns}))
			wantCode(t, err, connect.CodeUnauthenticated)
			unknown := "no-such-context"
			_, err = c.List(ctx, connect.NewRequest(&resourcev1.ListRequest{Cluster: &unknown, Group: &g, Version: &v, Resource: &r}))
			wantCode(t, err, connect.CodeNotFound)

			nr := "nosuchthings"
			_, err = c.List(ctx, connect.NewRequest(&resourcev1.ListRequest{Group: &g, Version: &v, Resource: &nr}))
			wantCode(t, err, connect.CodeNotFound)
			_, err = c.List(ctx, connect.NewRequest(&resourcev1.ListRequest{Group: &g, Resource: &r}))
			wantCode(t, err, connect.CodeInvalidArgument)

			// Invalid: the API server's causes, field by field.
			_, err = c.Create(ctx, connect.NewRequest(&resourcev1.CreateRequest{Group: &g, Version: &v, Resource: &r, Namespace: &f.ns, Manifest: fmt.Appendf(nil, dvManifest, "Not_A_Name")}))
			wantCode(t, err, connect.CodeInvalidArgument)
			var ce *connect.Error
			if !errors.As(err, &ce) || len(ce.Details()) == 0 {
				t.Fatalf("invalid object answered without details: %v", err)
			}
			d, derr := ce.Details()[0].Value()
			st, ok := d.(*structpb.Struct)
			if derr != nil || !ok || !strings.Contains(fmt.Sprint(st.AsMap()["causes"]), "metadata.name") {
				t.Errorf("detail %v (%v), want the cause on metadata.name", d, derr)
			}

			_, err = c.Create(ctx, connect.NewRequest(&resourcev1.CreateRequest{Group: &g, Version: &v, Resource: &r, Namespace: &f.ns, Manifest: []byte("{not yaml")}))
			wantCode(t, err, connect.CodeInvalidArgument)
			_, err = c.Create(ctx, connect.NewRequest(&resourcev1.CreateRequest{Group: &g, Version: &v, Resource: &r, Namespace: &f.ns, Manifest: configMap("cm")}))
			wantCode(t, err, connect.CodeInvalidArgument)

			name := "dup-" + testenv.Suffix()
			_, err = c.Create(ctx, connect.NewRequest(&resourcev1.CreateRequest{Group: &g, Version: &v, Resource: &r, Namespace: &f.ns, Manifest: fmt.Appendf(nil, dvManifest, name)}))
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.Create(ctx, connect.NewRequest(&resourcev1.CreateRequest{Group: &g, Version: &v, Resource: &r, Namespace: &f.ns, Manifest: fmt.Appendf(nil, dvManifest, name)}))
			wantCode(t, err, connect.CodeAlreadyExists)

			// Apply needs a field manager; a conflict with another
			// manager is refused unless forced.
			_, err = c.Apply(ctx, connect.NewRequest(&resourcev1.ApplyRequest{Group: &g, Version: &v, Resource: &r, Namespace: &f.ns, Name: &name, Manifest: fmt.Appendf(nil, dvManifest, name)}))
			wantCode(t, err, connect.CodeInvalidArgument)
			other := fmt.Appendf(nil, `{"apiVersion":"cdi.kubevirt.io/v1beta1","kind":"DataVolume","metadata":{"name":%q,"labels":{"tier":"db"}}}`, name)
			if _, err := c.Apply(ctx, connect.NewRequest(&resourcev1.ApplyRequest{Group: &g, Version: &v, Resource: &r, Namespace: &f.ns, Name: &name, Manifest: other, FieldManager: proto.String("one")})); err != nil {
				t.Fatal(err)
			}
			third := fmt.Appendf(nil, `{"apiVersion":"cdi.kubevirt.io/v1beta1","kind":"DataVolume","metadata":{"name":%q,"labels":{"tier":"cache"}}}`, name)
			_, err = c.Apply(ctx, connect.NewRequest(&resourcev1.ApplyRequest{Group: &g, Version: &v, Resource: &r, Namespace: &f.ns, Name: &name, Manifest: third, FieldManager: proto.String("two")}))
			wantCode(t, err, connect.CodeAborted)
			if _, err := c.Apply(ctx, connect.NewRequest(&resourcev1.ApplyRequest{Group: &g, Version: &v, Resource: &r, Namespace: &f.ns, Name: &name, Manifest: third, FieldManager: proto.String("two"), Force: proto.Bool(true)})); err != nil {
				t.Fatalf("forced apply: %v", err)
			}
			dv, err := f.env.Dynamic.Resource(dataVolumes).Namespace(f.ns).Get(ctx, name, metav1.GetOptions{})
			if err != nil || dv.GetLabels()["tier"] != "cache" {
				t.Errorf("after the forced apply: %v, %v", dv, err)
			}
			_, err = c.Delete(ctx, connect.NewRequest(&resourcev1.DeleteRequest{Group: &g, Version: &v, Resource: &r, Namespace: &f.ns, Name: &missing}))
			wantCode(t, err, connect.CodeNotFound)
		})
	}
}

// Sixteen clients at once, each through its own verbs, every call ok and
// every object in the API server.
func TestConcurrentClients(t *testing.T) {
	f := setup(t)
	const clients = 16
	g, v, r := configMaps.Group, configMaps.Version, configMaps.Resource
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := f.clients[protocols[i%len(protocols)]]
			ctx := t.Context()
			for j := range 5 {
				name := fmt.Sprintf("c%d-%d", i, j)
				if _, err := c.Create(ctx, connect.NewRequest(&resourcev1.CreateRequest{Group: &g, Version: &v, Resource: &r, Namespace: &f.ns, Manifest: configMap(name)})); err != nil {
					errs <- err
					return
				}
				if _, err := c.Get(ctx, connect.NewRequest(&resourcev1.GetRequest{Group: &g, Version: &v, Resource: &r, Namespace: &f.ns, Name: &name})); err != nil {
					errs <- err
					return
				}
				if _, err := c.List(ctx, connect.NewRequest(&resourcev1.ListRequest{Group: &g, Version: &v, Resource: &r, Namespace: &f.ns})); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	list, err := f.env.Kube.CoreV1().ConfigMaps(f.ns).List(t.Context(), metav1.ListOptions{})
	if err != nil || len(list.Items) != clients*5 {
		t.Errorf("%d config maps in the API server (%v), want %d", len(list.Items), err, clients*5)
	}
}

// ListLinks answers the kubeconfig's contexts, the current one first; the
// agent methods say they need --upstream.
func TestListLinks(t *testing.T) {
	f := setup(t)
	resp, err := f.links.ListLinks(t.Context(), connect.NewRequest(&linkv1.ListLinksRequest{}))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, l := range resp.Msg.GetLinks() {
		got = append(got, l.GetCluster())
	}
	want := []string{testenv.ContextAdmin, testenv.ContextBadToken, testenv.ContextNobody, testenv.ContextOther}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("links %v, want %v", got, want)
	}
	_, err = f.links.GetAgentManifest(t.Context(), connect.NewRequest(&linkv1.GetAgentManifestRequest{}))
	wantCode(t, err, connect.CodeUnimplemented)
	if !strings.Contains(err.Error(), "--upstream") {
		t.Errorf("message %q does not say what to do", err)
	}
}
