package resource

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/structpb"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"

	resourcev1 "github.com/otterscale/kubectl-otterscale/gen/otterscale/resource/v1"
)

// List lists one resource type, in one namespace or (empty) in all.
func (s *Service) List(ctx context.Context, req *connect.Request[resourcev1.ListRequest]) (*connect.Response[resourcev1.ListResponse], error) {
	m := req.Msg
	t, err := s.target(ctx, m.GetCluster(), m.GetGroup(), m.GetVersion(), m.GetResource())
	if err != nil {
		return nil, err
	}
	if m.GetLimit() < 0 {
		return nil, connect.NewError(connect.CodeInvalidArgument, fmt.Errorf("limit %d: must not be negative", m.GetLimit()))
	}
	list, err := t.client(m.GetNamespace()).List(ctx, metav1.ListOptions{
		LabelSelector: m.GetLabelSelector(),
		FieldSelector: m.GetFieldSelector(),
		Limit:         m.GetLimit(),
		Continue:      m.GetContinue(),
	})
	if err != nil {
		return nil, apiError(err, "list "+t.what()+inNamespace(m.GetNamespace()))
	}
	items := make([]*resourcev1.Resource, 0, len(list.Items))
	for i := range list.Items {
		r, err := toResource(&list.Items[i])
		if err != nil {
			return nil, err
		}
		items = append(items, r)
	}
	var remaining int64
	if list.GetRemainingItemCount() != nil {
		remaining = *list.GetRemainingItemCount()
	}
	return connect.NewResponse(&resourcev1.ListResponse{
		ResourceVersion:    new(list.GetResourceVersion()),
		Continue:           new(list.GetContinue()),
		RemainingItemCount: &remaining,
		Items:              items,
	}), nil
}

func inNamespace(ns string) string {
	if ns == "" {
		return " in all namespaces"
	}
	return fmt.Sprintf(" in namespace %q", ns)
}

// Get answers one object.
func (s *Service) Get(ctx context.Context, req *connect.Request[resourcev1.GetRequest]) (*connect.Response[resourcev1.Resource], error) {
	m := req.Msg
	u, _, err := s.get(ctx, m.GetCluster(), m.GetGroup(), m.GetVersion(), m.GetResource(), m.GetNamespace(), m.GetName())
	if err != nil {
		return nil, err
	}
	r, err := toResource(u)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(r), nil
}

func (s *Service) get(ctx context.Context, clusterName, group, version, resource, namespace, name string) (*unstructured.Unstructured, *target, error) {
	t, err := s.target(ctx, clusterName, group, version, resource)
	if err != nil {
		return nil, nil, err
	}
	if name == "" {
		return nil, nil, connect.NewError(connect.CodeInvalidArgument, errors.New("name is required"))
	}
	ns := t.namespace(namespace, "")
	u, err := t.client(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil, nil, apiError(err, "get "+t.where(ns, name))
	}
	return u, t, nil
}

// Describe answers the object and its events (involvedObject.uid), oldest
// first, as kubectl describe lists them.
func (s *Service) Describe(ctx context.Context, req *connect.Request[resourcev1.DescribeRequest]) (*connect.Response[resourcev1.DescribeResponse], error) {
	m := req.Msg
	u, t, err := s.get(ctx, m.GetCluster(), m.GetGroup(), m.GetVersion(), m.GetResource(), m.GetNamespace(), m.GetName())
	if err != nil {
		return nil, err
	}
	obj, err := toResource(u)
	if err != nil {
		return nil, err
	}
	// A cluster-scoped object's events are in some namespace ("default",
	// usually): look in all of them.
	events, err := t.clients.Core.Events(u.GetNamespace()).List(ctx, metav1.ListOptions{
		FieldSelector: fields.OneTermEqualSelector("involvedObject.uid", string(u.GetUID())).String(),
	})
	if err != nil {
		return nil, apiError(err, "list the events of "+t.where(u.GetNamespace(), u.GetName()))
	}
	sort.SliceStable(events.Items, func(i, j int) bool {
		ti, tj := eventTime(&events.Items[i]), eventTime(&events.Items[j])
		return ti.Before(&tj)
	})
	out := make([]*resourcev1.Resource, 0, len(events.Items))
	for i := range events.Items {
		ev := &events.Items[i]
		raw, err := runtime.DefaultUnstructuredConverter.ToUnstructured(ev)
		if err != nil {
			return nil, connect.NewError(connect.CodeInternal, fmt.Errorf("convert event %q: %w", ev.Name, err))
		}
		eu := &unstructured.Unstructured{Object: raw}
		eu.SetAPIVersion("v1")
		eu.SetKind("Event")
		r, err := toResource(eu)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return connect.NewResponse(&resourcev1.DescribeResponse{Resource: obj, Events: out}), nil
}

func eventTime(e *corev1.Event) metav1.Time {
	switch {
	case !e.LastTimestamp.IsZero():
		return e.LastTimestamp
	case !e.EventTime.IsZero():
		return metav1.NewTime(e.EventTime.Time)
	}
	return e.CreationTimestamp
}

// Create creates the object the manifest (YAML or JSON) describes.
func (s *Service) Create(ctx context.Context, req *connect.Request[resourcev1.CreateRequest]) (*connect.Response[resourcev1.Resource], error) {
	m := req.Msg
	t, err := s.target(ctx, m.GetCluster(), m.GetGroup(), m.GetVersion(), m.GetResource())
	if err != nil {
		return nil, err
	}
	u, err := decode(m.GetManifest())
	if err != nil {
		return nil, err
	}
	if err := t.checkKind(u); err != nil {
		return nil, err
	}
	ns := t.namespace(m.GetNamespace(), u.GetNamespace())
	if t.namespaced {
		u.SetNamespace(ns)
	}
	name := u.GetName()
	if name == "" {
		name = u.GetGenerateName() + "*"
	}
	created, err := t.client(ns).Create(ctx, u, metav1.CreateOptions{})
	if err != nil {
		return nil, apiError(err, "create "+t.where(ns, name))
	}
	r, err := toResource(created)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(r), nil
}

// Apply is server-side apply of the manifest by the caller's field
// manager, forcing conflicts when asked.
func (s *Service) Apply(ctx context.Context, req *connect.Request[resourcev1.ApplyRequest]) (*connect.Response[resourcev1.Resource], error) {
	m := req.Msg
	t, err := s.target(ctx, m.GetCluster(), m.GetGroup(), m.GetVersion(), m.GetResource())
	if err != nil {
		return nil, err
	}
	if m.GetFieldManager() == "" {
		return nil, connect.NewError(connect.CodeInvalidArgument, errors.New("field_manager is required: server-side apply records who owns each field"))
	}
	u, err := decode(m.GetManifest())
	if err != nil {
		return nil, err
	}
	if err := t.checkKind(u); err != nil {
		return nil, err
	}
	name, err := objectName(m.GetName(), u)
	if err != nil {
		return nil, err
	}
	ns := t.namespace(m.GetNamespace(), u.GetNamespace())
	if t.namespaced {
		u.SetNamespace(ns)
	}
	data, err := json.Marshal(u.Object)
	if err != nil {
		return nil, connect.NewError(connect.CodeInvalidArgument, fmt.Errorf("manifest: %w", err))
	}
	force := m.GetForce()
	applied, err := t.client(ns).Patch(ctx, name, types.ApplyPatchType, data, metav1.PatchOptions{
		FieldManager: m.GetFieldManager(),
		Force:        &force,
	})
	if err != nil {
		return nil, apiError(err, "apply "+t.where(ns, name))
	}
	r, err := toResource(applied)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(r), nil
}

// objectName is the request's name, which the manifest's must agree with.
func objectName(req string, u *unstructured.Unstructured) (string, error) {
	switch {
	case req == "" && u.GetName() == "":
		return "", connect.NewError(connect.CodeInvalidArgument, errors.New("name is required, in the request or the manifest's metadata"))
	case req == "":
		return u.GetName(), nil
	case u.GetName() == "":
		u.SetName(req)
	case u.GetName() != req:
		return "", connect.NewError(connect.CodeInvalidArgument,
			fmt.Errorf("the request names %q but the manifest %q", req, u.GetName()))
	}
	return req, nil
}

// Update replaces the object with the manifest, which carries the
// resourceVersion it was read at: a change meanwhile is aborted.
func (s *Service) Update(ctx context.Context, req *connect.Request[resourcev1.UpdateRequest]) (*connect.Response[resourcev1.Resource], error) {
	m := req.Msg
	t, err := s.target(ctx, m.GetCluster(), m.GetGroup(), m.GetVersion(), m.GetResource())
	if err != nil {
		return nil, err
	}
	u, err := decode(m.GetManifest())
	if err != nil {
		return nil, err
	}
	if err := t.checkKind(u); err != nil {
		return nil, err
	}
	name, err := objectName(m.GetName(), u)
	if err != nil {
		return nil, err
	}
	ns := t.namespace(m.GetNamespace(), u.GetNamespace())
	if t.namespaced {
		u.SetNamespace(ns)
	}
	updated, err := t.client(ns).Update(ctx, u, metav1.UpdateOptions{FieldManager: m.GetFieldManager()})
	if err != nil {
		return nil, apiError(err, "update "+t.where(ns, name))
	}
	r, err := toResource(updated)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(r), nil
}

// Delete deletes one object; an explicit grace period of 0 deletes it at
// once, as kubectl delete --grace-period=0 --force does.
func (s *Service) Delete(ctx context.Context, req *connect.Request[resourcev1.DeleteRequest]) (*connect.Response[emptypb.Empty], error) {
	m := req.Msg
	t, err := s.target(ctx, m.GetCluster(), m.GetGroup(), m.GetVersion(), m.GetResource())
	if err != nil {
		return nil, err
	}
	if m.GetName() == "" {
		return nil, connect.NewError(connect.CodeInvalidArgument, errors.New("name is required"))
	}
	ns := t.namespace(m.GetNamespace(), "")
	opts := metav1.DeleteOptions{}
	if m.GracePeriodSeconds != nil {
		if m.GetGracePeriodSeconds() < 0 {
			return nil, connect.NewError(connect.CodeInvalidArgument,
				fmt.Errorf("grace_period_seconds %d: must not be negative", m.GetGracePeriodSeconds()))
		}
		opts.GracePeriodSeconds = new(m.GetGracePeriodSeconds())
	}
	if err := t.client(ns).Delete(ctx, m.GetName(), opts); err != nil {
		return nil, apiError(err, "delete "+t.where(ns, m.GetName()))
	}
	return connect.NewResponse(&emptypb.Empty{}), nil
}

func (s *Service) target(ctx context.Context, clusterName, group, version, resource string) (*target, error) {
	k, err := s.kube(ctx, clusterName)
	if err != nil {
		return nil, err
	}
	return k.resolve(group, version, resource)
}

// toResource is the object as answered: without managedFields, which
// upstream strips too (they are large and only the API server reads them).
func toResource(u *unstructured.Unstructured) (*resourcev1.Resource, error) {
	u.SetManagedFields(nil)
	st, err := structpb.NewStruct(u.Object)
	if err != nil {
		return nil, connect.NewError(connect.CodeInternal, fmt.Errorf("convert %s %q: %w", u.GetKind(), u.GetName(), err))
	}
	return &resourcev1.Resource{Object: st}, nil
}
