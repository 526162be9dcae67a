package testenv

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apimachinery/pkg/util/yaml"
)

var crdGVR = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}

// requiredResources must be served for the environment to be of any use to
// this project; Start fails if the CRD directory does not define them.
var requiredResources = []schema.GroupVersionResource{
	{Group: "cdi.kubevirt.io", Version: "v1beta1", Resource: "datavolumes"},
	{Group: "cdi.kubevirt.io", Version: "v1beta1", Resource: "storageprofiles"},
}

func crdFiles(dir string) ([]string, error) {
	var files []string
	for _, pattern := range []string{"*.yaml", "*.yml", "*.json"} {
		m, err := filepath.Glob(filepath.Join(dir, pattern))
		if err != nil {
			return nil, err
		}
		files = append(files, m...)
	}
	slices.Sort(files)
	return files, nil
}

// applyCRDs creates every CRD found in the CRD directory and returns them.
func (e *Env) applyCRDs(ctx context.Context) ([]*unstructured.Unstructured, error) {
	files, err := crdFiles(e.opts.CRDDir)
	if err != nil {
		return nil, fmt.Errorf("list CRDs in %s: %w", e.opts.CRDDir, err)
	}
	var crds []*unstructured.Unstructured
	for _, file := range files {
		objs, err := readObjects(file)
		if err != nil {
			return nil, fmt.Errorf("read CRDs: %w", err)
		}
		for _, obj := range objs {
			if obj.GetKind() != "CustomResourceDefinition" {
				continue
			}
			_, err := e.Dynamic.Resource(crdGVR).Create(ctx, obj, metav1.CreateOptions{})
			if err != nil && !apierrors.IsAlreadyExists(err) {
				return nil, fmt.Errorf("create CRD %s from %s: %w", obj.GetName(), file, err)
			}
			crds = append(crds, obj)
		}
	}
	e.opts.Logf("testenv: applied %d CRDs from %s", len(crds), e.opts.CRDDir)
	return crds, nil
}

// readObjects decodes every document of a YAML or JSON file.
func readObjects(path string) ([]*unstructured.Unstructured, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	dec := yaml.NewYAMLOrJSONDecoder(f, 4096)
	var objs []*unstructured.Unstructured
	for {
		var obj map[string]any
		if err := dec.Decode(&obj); err != nil {
			if errors.Is(err, io.EOF) {
				return objs, nil
			}
			return nil, fmt.Errorf("decode %s: %w", path, err)
		}
		if len(obj) > 0 { // an empty document, e.g. before a leading "---"
			objs = append(objs, &unstructured.Unstructured{Object: obj})
		}
	}
}

// waitCRDs waits until every CRD is Established and its served versions show
// up in discovery, where clients building REST mappers look for them. It
// returns when the last one became Established.
func (e *Env) waitCRDs(ctx context.Context, crds []*unstructured.Unstructured) (time.Time, error) {
	var served []schema.GroupVersionResource
	var latest time.Time
	for _, crd := range crds {
		err := wait.PollUntilContextCancel(ctx, 50*time.Millisecond, true, func(ctx context.Context) (bool, error) {
			got, err := e.Dynamic.Resource(crdGVR).Get(ctx, crd.GetName(), metav1.GetOptions{})
			if err != nil {
				return false, err
			}
			since, ok := established(got)
			if ok && since.After(latest) {
				latest = since
			}
			return ok, nil
		})
		if err != nil {
			return time.Time{}, fmt.Errorf("wait for CRD %s to be established: %w", crd.GetName(), err)
		}
		served = append(served, servedResources(crd)...)
	}
	for _, want := range requiredResources {
		if !slices.Contains(served, want) {
			return time.Time{}, fmt.Errorf("no CRD in %s defines %s; regenerate them with `make generate`", e.opts.CRDDir, want)
		}
	}
	e.served = served
	return latest, e.waitServed(ctx, served)
}

// crdCreateDelay is how long after a CRD becomes Established the API server
// delays creates of its resources (by sleeping 2 s in the create handler, so
// that other API servers of an HA control plane catch up).
const crdCreateDelay = 2 * time.Second

// established reports whether the CRD is Established, and since when.
func established(crd *unstructured.Unstructured) (time.Time, bool) {
	conds, _, _ := unstructured.NestedSlice(crd.Object, "status", "conditions")
	for _, c := range conds {
		c, _ := c.(map[string]any)
		if c["type"] == "Established" && c["status"] == "True" {
			since, _ := c["lastTransitionTime"].(string)
			t, err := time.Parse(time.RFC3339, since)
			if err != nil {
				t = time.Now() // conservatively recent
			}
			return t, true
		}
	}
	return time.Time{}, false
}

func servedResources(crd *unstructured.Unstructured) []schema.GroupVersionResource {
	group, _, _ := unstructured.NestedString(crd.Object, "spec", "group")
	plural, _, _ := unstructured.NestedString(crd.Object, "spec", "names", "plural")
	versions, _, _ := unstructured.NestedSlice(crd.Object, "spec", "versions")
	var gvrs []schema.GroupVersionResource
	for _, v := range versions {
		v, _ := v.(map[string]any)
		name, _ := v["name"].(string)
		if ok, _ := v["served"].(bool); ok {
			gvrs = append(gvrs, schema.GroupVersionResource{Group: group, Version: name, Resource: plural})
		}
	}
	return gvrs
}

// waitServed waits until discovery lists every resource in gvrs.
func (e *Env) waitServed(ctx context.Context, gvrs []schema.GroupVersionResource) error {
	for _, gvr := range gvrs {
		err := wait.PollUntilContextCancel(ctx, 50*time.Millisecond, true, func(ctx context.Context) (bool, error) {
			// The discovery client's own methods take no context.
			raw, err := e.Kube.Discovery().RESTClient().Get().
				AbsPath("/apis", gvr.Group, gvr.Version).DoRaw(ctx)
			if err != nil {
				// NotFound until the group is aggregated into discovery.
				return false, nil
			}
			var list metav1.APIResourceList
			if err := json.Unmarshal(raw, &list); err != nil {
				return false, fmt.Errorf("decode discovery of %s: %w", gvr.GroupVersion(), err)
			}
			return slices.ContainsFunc(list.APIResources, func(r metav1.APIResource) bool {
				return r.Name == gvr.Resource
			}), nil
		})
		if err != nil {
			return fmt.Errorf("wait for %s to be served: %w", gvr, err)
		}
	}
	return nil
}

// warmResources are built-in resources this project lists and watches, warmed
// up with the CRDs' resources by warmCaches.
var warmResources = []schema.GroupVersionResource{
	{Version: "v1", Resource: "persistentvolumeclaims"},
	{Version: "v1", Resource: "persistentvolumes"},
	{Version: "v1", Resource: "events"},
	{Group: "storage.k8s.io", Version: "v1", Resource: "storageclasses"},
}

// warmCaches lists every resource once. After a restart the API server builds
// a resource's watch cache when it is first asked for it (for custom
// resources) or in the background, and answers 429 with Retry-After: 1 until
// the cache is ready; client-go waits and retries, so the first request of a
// test would take a second longer than the rest.
func (e *Env) warmCaches(ctx context.Context) error {
	var wg sync.WaitGroup
	errs := make([]error, len(e.served)+len(warmResources))
	for i, gvr := range slices.Concat(e.served, warmResources) {
		wg.Go(func() {
			_, err := e.Dynamic.Resource(gvr).List(ctx, metav1.ListOptions{Limit: 1})
			if err != nil {
				errs[i] = fmt.Errorf("list %s: %w", gvr, err)
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}
