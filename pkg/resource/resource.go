// Package resource owns ResourceService, the current OtterScale API's
// generic access to every Kubernetes object: List, Get, Describe, Create,
// Apply, Update, Delete and Watch over client-go's dynamic client, with a
// REST mapper from the cluster's discovery, and Discovery and Schema (from
// OpenAPI v3). A cluster is a kubeconfig context, as a scope is for the
// other services.
package resource

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"connectrpc.com/connect"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/restmapper"
	"sigs.k8s.io/yaml"

	"github.com/otterscale/kubectl-otterscale/gen/otterscale/resource/v1/resourcev1connect"
	"github.com/otterscale/kubectl-otterscale/pkg/cluster"
)

// refreshEvery bounds how often a miss in the REST mapper reads discovery
// again: a caller asking for a resource the cluster does not serve should
// not make every call a discovery round.
const refreshEvery = 2 * time.Second

// Service implements ResourceService over the clusters of a Provider.
type Service struct {
	clusters cluster.Provider

	mu    sync.Mutex
	kubes map[*cluster.Clients]*kube
}

var _ resourcev1connect.ResourceServiceHandler = (*Service)(nil)

// New returns the service over clusters.
func New(clusters cluster.Provider) *Service {
	return &Service{clusters: clusters, kubes: map[*cluster.Clients]*kube{}}
}

// kube is what the service keeps per cluster: the dynamic client, the
// cached discovery and the REST mapper over it.
type kube struct {
	clients *cluster.Clients
	dyn     dynamic.Interface
	disc    discovery.CachedDiscoveryInterface
	mapper  *restmapper.DeferredDiscoveryRESTMapper

	mu        sync.Mutex
	refreshed time.Time
}

func (s *Service) kube(ctx context.Context, name string) (*kube, error) {
	c, err := s.clusters.Clients(ctx, name)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if k, ok := s.kubes[c]; ok {
		return k, nil
	}
	dyn, err := dynamic.NewForConfig(c.Config)
	if err != nil {
		return nil, cluster.ConfigError(err)
	}
	dc, err := discovery.NewDiscoveryClientForConfig(c.Config)
	if err != nil {
		return nil, cluster.ConfigError(err)
	}
	disc := memory.NewMemCacheClient(dc)
	k := &kube{clients: c, dyn: dyn, disc: disc, mapper: restmapper.NewDeferredDiscoveryRESTMapper(disc)}
	s.kubes[c] = k
	return k, nil
}

// target is one resource type of one cluster, resolved through discovery.
type target struct {
	*kube
	gvr        schema.GroupVersionResource
	kind       string
	namespaced bool
}

// resolve finds the resource type group/version/resource. A miss reads
// discovery again (at most every refreshEvery), so that a CRD installed
// after the first call is found.
func (k *kube) resolve(group, version, resource string) (*target, error) {
	if version == "" || resource == "" {
		return nil, connect.NewError(connect.CodeInvalidArgument,
			errors.New("version and resource are required (group is empty for the core API)"))
	}
	gvr := schema.GroupVersionResource{Group: group, Version: version, Resource: resource}
	m, err := k.mapping(gvr)
	if err != nil && (meta.IsNoMatchError(err) || errors.Is(err, errNoMapping)) {
		k.mu.Lock()
		if time.Since(k.refreshed) > refreshEvery {
			k.refreshed = time.Now()
			k.disc.Invalidate()
			k.mapper.Reset()
		}
		k.mu.Unlock()
		m, err = k.mapping(gvr)
	}
	if err != nil {
		if meta.IsNoMatchError(err) || errors.Is(err, errNoMapping) {
			return nil, connect.NewError(connect.CodeNotFound,
				fmt.Errorf("the cluster serves no resource %q in %s", resource, gvr.GroupVersion()))
		}
		return nil, cluster.Error(err, "discover the cluster's resources")
	}
	return &target{kube: k, gvr: gvr, kind: m.GroupVersionKind.Kind, namespaced: m.Scope.Name() == meta.RESTScopeNameNamespace}, nil
}

var errNoMapping = errors.New("no mapping")

func (k *kube) mapping(gvr schema.GroupVersionResource) (*meta.RESTMapping, error) {
	gvk, err := k.mapper.KindFor(gvr)
	if err != nil {
		return nil, err
	}
	// KindFor matches a partial resource; only the exact version counts.
	if gvk.Version != gvr.Version || gvk.Group != gvr.Group {
		return nil, errNoMapping
	}
	return k.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
}

// client is the dynamic client for the target in namespace: all
// namespaces when namespace is empty, and none for cluster-scoped types.
func (t *target) client(namespace string) dynamic.ResourceInterface {
	if !t.namespaced {
		return t.dyn.Resource(t.gvr)
	}
	return t.dyn.Resource(t.gvr).Namespace(namespace)
}

// namespace is the namespace a call on one object acts in: the request's,
// else the manifest's, else the context's (as kubectl defaults it).
func (t *target) namespace(req, manifest string) string {
	switch {
	case !t.namespaced:
		return ""
	case req != "":
		return req
	case manifest != "":
		return manifest
	}
	return t.clients.Namespace
}

// what names the resource type in messages: `datavolumes.cdi.kubevirt.io`.
func (t *target) what() string {
	if t.gvr.Group == "" {
		return t.gvr.Resource
	}
	return t.gvr.Resource + "." + t.gvr.Group
}

func (t *target) where(namespace, name string) string {
	if namespace == "" {
		return fmt.Sprintf("%s %q", t.what(), name)
	}
	return fmt.Sprintf("%s %q in namespace %q", t.what(), name, namespace)
}

// decode reads a manifest in YAML or JSON (JSON is YAML) into one object.
func decode(manifest []byte) (*unstructured.Unstructured, error) {
	if len(manifest) == 0 {
		return nil, connect.NewError(connect.CodeInvalidArgument, errors.New("manifest is empty"))
	}
	var obj map[string]any
	if err := yaml.Unmarshal(manifest, &obj); err != nil {
		return nil, connect.NewError(connect.CodeInvalidArgument, fmt.Errorf("manifest: not one YAML or JSON object: %w", err))
	}
	if obj == nil {
		return nil, connect.NewError(connect.CodeInvalidArgument, errors.New("manifest: not one YAML or JSON object"))
	}
	return &unstructured.Unstructured{Object: obj}, nil
}

// checkKind refuses a manifest of another kind than the request's target:
// the API server would read it as the target's kind anyway.
func (t *target) checkKind(u *unstructured.Unstructured) error {
	gvk := u.GroupVersionKind()
	if u.GetAPIVersion() == "" && gvk.Kind == "" {
		u.SetGroupVersionKind(t.gvr.GroupVersion().WithKind(t.kind))
		return nil
	}
	if gvk.Group != t.gvr.Group || gvk.Kind != t.kind {
		return connect.NewError(connect.CodeInvalidArgument,
			fmt.Errorf("manifest is a %s, but the request names %s (kind %s)", gvk.GroupKind(), t.what(), t.kind))
	}
	return nil
}
