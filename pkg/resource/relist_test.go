package resource

import (
	"context"
	"slices"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	dynamicfake "k8s.io/client-go/dynamic/fake"

	resourcev1 "github.com/otterscale/kubectl-otterscale/gen/otterscale/resource/v1"
)

func configMap(name, uid, rv string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{}
	u.SetAPIVersion("v1")
	u.SetKind("ConfigMap")
	u.SetNamespace("ns")
	u.SetName(name)
	u.SetUID(types.UID(uid))
	u.SetResourceVersion(rv)
	return u
}

// After a 410 the watch lists again and sends only what changed from what
// it had sent: the real API server's compaction cannot be forced from a
// test, so this runs over client-go's fake dynamic client.
func TestRelistSendsTheDifference(t *testing.T) {
	gvr := schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}
	client := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(),
		map[schema.GroupVersionResource]string{gvr: "ConfigMapList"},
		configMap("same", "u1", "10"), configMap("changed", "u2", "20"), configMap("new", "u4", "30"))
	var sent []string
	w := &watcher{
		client: client.Resource(gvr).Namespace("ns"),
		what:   "configmaps",
		known: map[types.UID]*unstructured.Unstructured{
			"u1": configMap("same", "u1", "10"),
			"u2": configMap("changed", "u2", "11"),
			"u3": configMap("gone", "u3", "12"),
		},
		send: func(ev *resourcev1.WatchEvent) error {
			sent = append(sent, ev.GetType().String()+" "+ev.GetResource().GetObject().AsMap()["metadata"].(map[string]any)["name"].(string))
			return nil
		},
	}
	if _, err := w.relist(context.Background()); err != nil {
		t.Fatal(err)
	}
	slices.Sort(sent)
	want := []string{"TYPE_ADDED new", "TYPE_DELETED gone", "TYPE_MODIFIED changed"}
	if !slices.Equal(sent, want) {
		t.Errorf("sent %v, want %v", sent, want)
	}
	if len(w.known) != 3 || w.known["u3"] != nil || w.known["u4"] == nil {
		t.Errorf("known after the relist: %v", w.known)
	}
}
