package resource

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/structpb"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/openapi3"

	resourcev1 "github.com/otterscale/kubectl-otterscale/gen/otterscale/resource/v1"
)

// Discovery lists every resource of every served group version, without
// subresources, read afresh: the answer is what the UI builds its menus
// from, and a CRD installed a moment ago belongs in it.
func (s *Service) Discovery(ctx context.Context, req *connect.Request[resourcev1.DiscoveryRequest]) (*connect.Response[resourcev1.DiscoveryResponse], error) {
	k, err := s.kube(ctx, req.Msg.GetCluster())
	if err != nil {
		return nil, err
	}
	k.disc.Invalidate()
	k.mapper.Reset()
	_, lists, err := k.disc.ServerGroupsAndResources()
	if err != nil && !discovery.IsGroupDiscoveryFailedError(err) {
		return nil, apiError(err, "discover the cluster's resources")
	}
	// A group whose discovery failed (an aggregated API that is down) is
	// left out, as kubectl api-resources does, rather than failing all.
	var out []*resourcev1.APIResource
	for _, l := range lists {
		gv, perr := schema.ParseGroupVersion(l.GroupVersion)
		if perr != nil {
			continue
		}
		for _, r := range l.APIResources {
			if strings.Contains(r.Name, "/") {
				continue
			}
			out = append(out, &resourcev1.APIResource{
				Group:      new(gv.Group),
				Version:    new(gv.Version),
				Resource:   new(r.Name),
				Kind:       new(r.Kind),
				Namespaced: new(r.Namespaced),
				Verbs:      append([]string{}, r.Verbs...),
				ShortNames: append([]string{}, r.ShortNames...),
			})
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.GetGroup() != b.GetGroup() {
			return a.GetGroup() < b.GetGroup()
		}
		if a.GetVersion() != b.GetVersion() {
			return a.GetVersion() < b.GetVersion()
		}
		return a.GetResource() < b.GetResource()
	})
	return connect.NewResponse(&resourcev1.DiscoveryResponse{ApiResources: out}), nil
}

// Schema answers the JSON Schema of group/version/kind from the cluster's
// OpenAPI v3 document of that group version, with every $ref to the
// document's components inlined, so that the answer stands alone (a form
// generator needs no second call). A type that refers to itself keeps the
// $ref where it recurses.
func (s *Service) Schema(ctx context.Context, req *connect.Request[resourcev1.SchemaRequest]) (*connect.Response[resourcev1.SchemaResponse], error) {
	m := req.Msg
	if m.GetVersion() == "" || m.GetKind() == "" {
		return nil, connect.NewError(connect.CodeInvalidArgument, errors.New("version and kind are required (group is empty for the core API)"))
	}
	k, err := s.kube(ctx, m.GetCluster())
	if err != nil {
		return nil, err
	}
	gvk := schema.GroupVersionKind{Group: m.GetGroup(), Version: m.GetVersion(), Kind: m.GetKind()}
	doc, err := openapi3.NewRoot(k.disc.OpenAPIV3()).GVSpecAsMap(gvk.GroupVersion())
	var nf *openapi3.GroupVersionNotFoundError
	if errors.As(err, &nf) {
		// Perhaps installed since the paths were read.
		k.disc.Invalidate()
		doc, err = openapi3.NewRoot(k.disc.OpenAPIV3()).GVSpecAsMap(gvk.GroupVersion())
	}
	if errors.As(err, &nf) {
		return nil, connect.NewError(connect.CodeNotFound, fmt.Errorf("schema of %s: the cluster publishes no OpenAPI v3 for %s", gvk.Kind, gvk.GroupVersion()))
	}
	if err != nil {
		return nil, apiError(err, "read the OpenAPI v3 schema of "+gvk.GroupVersion().String())
	}
	schemas, _ := dig(doc, "components", "schemas").(map[string]any)
	name := ""
	for n, sc := range schemas {
		if hasGVK(sc, gvk) {
			name = n
			break
		}
	}
	if name == "" {
		return nil, connect.NewError(connect.CodeNotFound, fmt.Errorf("schema of %s: %s has no kind %q", gvk.Kind, gvk.GroupVersion(), gvk.Kind))
	}
	inlined, _ := inline(schemas[name], schemas, map[string]bool{name: true}).(map[string]any)
	st, err := structpb.NewStruct(inlined)
	if err != nil {
		return nil, connect.NewError(connect.CodeInternal, fmt.Errorf("schema of %s: %w", gvk, err))
	}
	return connect.NewResponse(&resourcev1.SchemaResponse{Schema: st}), nil
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

// hasGVK tells whether a component schema is the one of gvk: OpenAPI v3
// schemas of Kubernetes types list theirs in x-kubernetes-group-version-kind.
func hasGVK(sc any, gvk schema.GroupVersionKind) bool {
	list, _ := dig(sc, "x-kubernetes-group-version-kind").([]any)
	for _, e := range list {
		m, _ := e.(map[string]any)
		if m["group"] == gvk.Group && m["version"] == gvk.Version && m["kind"] == gvk.Kind {
			return true
		}
	}
	return false
}

const refPrefix = "#/components/schemas/"

// inline copies v with each $ref to a component replaced by that
// component, except where the component is being inlined already (a
// recursive type).
func inline(v any, schemas map[string]any, open map[string]bool) any {
	switch t := v.(type) {
	case map[string]any:
		if ref, ok := t["$ref"].(string); ok && strings.HasPrefix(ref, refPrefix) {
			name := strings.TrimPrefix(ref, refPrefix)
			target, found := schemas[name]
			if found && !open[name] {
				open[name] = true
				out := inline(target, schemas, open)
				delete(open, name)
				return out
			}
		}
		out := make(map[string]any, len(t))
		for k, e := range t {
			out[k] = inline(e, schemas, open)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = inline(e, schemas, open)
		}
		return out
	}
	return v
}
