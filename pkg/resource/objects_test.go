package resource_test

import (
	"fmt"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/yaml"

	resourcev1 "github.com/otterscale/kubectl-otterscale/gen/otterscale/resource/v1"
	"github.com/otterscale/kubectl-otterscale/internal/testenv"
)

const dvManifest = `apiVersion: cdi.kubevirt.io/v1beta1
kind: DataVolume
metadata:
  name: %s
  labels:
    app: web
spec:
  source:
    blank: {}
  storage:
    resources:
      requests:
        storage: 1Gi
`

func object(t *testing.T, r *resourcev1.Resource) *unstructured.Unstructured {
	t.Helper()
	if r.GetObject() == nil {
		t.Fatal("answer has no object")
	}
	u := &unstructured.Unstructured{Object: r.GetObject().AsMap()}
	if _, ok := u.Object["metadata"].(map[string]any)["managedFields"]; ok {
		t.Errorf("%s %q is answered with managedFields", u.GetKind(), u.GetName())
	}
	return u
}

// A DataVolume through every verb, in each protocol, checked in the API
// server after each step.
func TestDataVolumeLifecycle(t *testing.T) {
	f := setup(t)
	for _, p := range protocols {
		t.Run(p, func(t *testing.T) {
			c := f.clients[p]
			ctx := t.Context()
			name := "dv-" + testenv.Suffix()
			dvs := f.env.Dynamic.Resource(dataVolumes).Namespace(f.ns)
			g, v, r := dataVolumes.Group, dataVolumes.Version, dataVolumes.Resource

			// Create from YAML.
			created, err := c.Create(ctx, connect.NewRequest(&resourcev1.CreateRequest{
				Group: &g, Version: &v, Resource: &r, Namespace: &f.ns,
				Manifest: fmt.Appendf(nil, dvManifest, name),
			}))
			if err != nil {
				t.Fatal(err)
			}
			if u := object(t, created.Msg); u.GetName() != name || u.GetUID() == "" {
				t.Fatalf("created %q uid %q", u.GetName(), u.GetUID())
			}
			stored, err := dvs.Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				t.Fatalf("the DataVolume is not in the API server: %v", err)
			}
			if size, _, _ := unstructured.NestedString(stored.Object, "spec", "storage", "resources", "requests", "storage"); size != "1Gi" {
				t.Errorf("stored size %q, want 1Gi", size)
			}

			// Get.
			got, err := c.Get(ctx, connect.NewRequest(&resourcev1.GetRequest{Group: &g, Version: &v, Resource: &r, Namespace: &f.ns, Name: &name}))
			if err != nil {
				t.Fatal(err)
			}
			if u := object(t, got.Msg); u.GetUID() != stored.GetUID() {
				t.Errorf("got uid %s, stored %s", u.GetUID(), stored.GetUID())
			}

			// List, by label.
			sel := "app=web"
			list, err := c.List(ctx, connect.NewRequest(&resourcev1.ListRequest{Group: &g, Version: &v, Resource: &r, Namespace: &f.ns, LabelSelector: &sel}))
			if err != nil {
				t.Fatal(err)
			}
			found := false
			for _, it := range list.Msg.GetItems() {
				found = found || object(t, it).GetName() == name
			}
			if !found || list.Msg.GetResourceVersion() == "" {
				t.Errorf("list (rv %q) lacks %s", list.Msg.GetResourceVersion(), name)
			}

			// Server-side apply by the caller's field manager.
			applied, err := c.Apply(ctx, connect.NewRequest(&resourcev1.ApplyRequest{
				Group: &g, Version: &v, Resource: &r, Namespace: &f.ns, Name: &name,
				Manifest:     fmt.Appendf(nil, `{"apiVersion":"cdi.kubevirt.io/v1beta1","kind":"DataVolume","metadata":{"name":%q,"labels":{"tier":"gold"}}}`, name),
				FieldManager: proto.String("otterscale-ui"), Force: proto.Bool(true),
			}))
			if err != nil {
				t.Fatal(err)
			}
			if object(t, applied.Msg).GetLabels()["tier"] != "gold" {
				t.Errorf("applied labels %v", object(t, applied.Msg).GetLabels())
			}
			stored, _ = dvs.Get(ctx, name, metav1.GetOptions{})
			managers := map[string]bool{}
			for _, mf := range stored.GetManagedFields() {
				managers[mf.Manager] = mf.Operation == metav1.ManagedFieldsOperationApply || managers[mf.Manager]
			}
			if stored.GetLabels()["tier"] != "gold" || !managers["otterscale-ui"] {
				t.Errorf("in the API server: labels %v, apply managers %v", stored.GetLabels(), managers)
			}

			// Update with the resource version read; then again with the
			// stale one, which the API server refuses.
			stored.SetAnnotations(map[string]string{"note": "updated"})
			stored.SetManagedFields(nil)
			manifest, _ := yaml.Marshal(stored.Object)
			updated, err := c.Update(ctx, connect.NewRequest(&resourcev1.UpdateRequest{
				Group: &g, Version: &v, Resource: &r, Namespace: &f.ns, Name: &name,
				Manifest: manifest, FieldManager: proto.String("otterscale-ui"),
			}))
			if err != nil {
				t.Fatal(err)
			}
			if object(t, updated.Msg).GetResourceVersion() == stored.GetResourceVersion() {
				t.Error("update did not change the resource version")
			}
			again, _ := dvs.Get(ctx, name, metav1.GetOptions{})
			if again.GetAnnotations()["note"] != "updated" {
				t.Errorf("stored annotations %v", again.GetAnnotations())
			}
			_, err = c.Update(ctx, connect.NewRequest(&resourcev1.UpdateRequest{
				Group: &g, Version: &v, Resource: &r, Namespace: &f.ns, Name: &name, Manifest: manifest,
			}))
			wantCode(t, err, connect.CodeAborted)

			// Describe: the object and the events about it (by uid), not
			// an event about another object of the same name.
			for i, uid := range []string{string(again.GetUID()), "not-this-one"} {
				ev := &corev1.Event{
					ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("%s.%d", name, i), Namespace: f.ns},
					InvolvedObject: corev1.ObjectReference{
						APIVersion: "cdi.kubevirt.io/v1beta1", Kind: "DataVolume",
						Name: name, Namespace: f.ns, UID: types.UID(uid),
					},
					Reason: "Pending", Message: "PVC " + name + " Pending", Type: corev1.EventTypeNormal,
					Source: corev1.EventSource{Component: "datavolume-controller"}, Count: 1,
					FirstTimestamp: metav1.NewTime(time.Now()), LastTimestamp: metav1.NewTime(time.Now()),
				}
				if _, err := f.env.Kube.CoreV1().Events(f.ns).Create(ctx, ev, metav1.CreateOptions{}); err != nil {
					t.Fatal(err)
				}
			}
			desc, err := c.Describe(ctx, connect.NewRequest(&resourcev1.DescribeRequest{Group: &g, Version: &v, Resource: &r, Namespace: &f.ns, Name: &name}))
			if err != nil {
				t.Fatal(err)
			}
			if object(t, desc.Msg.GetResource()).GetUID() != again.GetUID() || len(desc.Msg.GetEvents()) != 1 ||
				object(t, desc.Msg.GetEvents()[0]).Object["reason"] != "Pending" || object(t, desc.Msg.GetEvents()[0]).GetKind() != "Event" {
				t.Errorf("describe: %d events: %v", len(desc.Msg.GetEvents()), desc.Msg.GetEvents())
			}

			// Delete at once (grace period 0).
			if _, err := c.Delete(ctx, connect.NewRequest(&resourcev1.DeleteRequest{
				Group: &g, Version: &v, Resource: &r, Namespace: &f.ns, Name: &name, GracePeriodSeconds: proto.Int64(0),
			})); err != nil {
				t.Fatal(err)
			}
			if _, err := dvs.Get(ctx, name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
				t.Errorf("after delete the API server answers %v", err)
			}
			_, err = c.Get(ctx, connect.NewRequest(&resourcev1.GetRequest{Group: &g, Version: &v, Resource: &r, Namespace: &f.ns, Name: &name}))
			wantCode(t, err, connect.CodeNotFound)
		})
	}
}
