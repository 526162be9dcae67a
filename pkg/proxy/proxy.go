// Package proxy owns the local Connect server: it mounts the service
// implementations as Connect, gRPC and gRPC-Web handlers on one port, with
// gRPC health and reflection, and guards them with host checks, CORS, an
// optional bearer token and request size limits. With an upstream, what it
// does not serve itself goes to that OtterScale server.
package proxy

import (
	"net/http"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/reflect/protoreflect"

	instancev1 "github.com/otterscale/kubectl-otterscale/gen/otterscale/instance/v1"
	"github.com/otterscale/kubectl-otterscale/gen/otterscale/instance/v1/instancev1connect"
	linkv1 "github.com/otterscale/kubectl-otterscale/gen/otterscale/link/v1"
	"github.com/otterscale/kubectl-otterscale/gen/otterscale/link/v1/linkv1connect"
	resourcev1 "github.com/otterscale/kubectl-otterscale/gen/otterscale/resource/v1"
	"github.com/otterscale/kubectl-otterscale/gen/otterscale/resource/v1/resourcev1connect"
	storagev1 "github.com/otterscale/kubectl-otterscale/gen/otterscale/storage/v1"
	"github.com/otterscale/kubectl-otterscale/gen/otterscale/storage/v1/storagev1connect"
)

// Services are the implementations to serve.
type Services struct {
	Instance instancev1connect.InstanceServiceHandler
	// Storage answers unimplemented when nil.
	Storage storagev1connect.StorageServiceHandler
	// Resource is the current API's ResourceService; not served when nil.
	Resource resourcev1connect.ResourceServiceHandler
	// Link is the current API's LinkService; not served when nil. Only
	// ListLinks is the proxy's own: the agent-tunnel methods are
	// mounted from it only without an upstream, which has them.
	Link linkv1connect.LinkServiceHandler
}

// names are the services served, for health and reflection.
func (s Services) names() []string {
	names := []string{instancev1connect.InstanceServiceName, storagev1connect.StorageServiceName}
	if s.Resource != nil {
		names = append(names, resourcev1connect.ResourceServiceName)
	}
	if s.Link != nil {
		names = append(names, linkv1connect.LinkServiceName)
	}
	return names
}

// NewMux mounts the services, with upstream's JSON, on a new mux. Each
// procedure is mounted on its own path, so that the mux says exactly
// which procedures the proxy serves: upstream's services may have more.
func NewMux(s Services, opts ...connect.HandlerOption) *http.ServeMux {
	opts = append([]connect.HandlerOption{JSONCodecs()}, opts...)
	mux := http.NewServeMux()
	_, instance := instancev1connect.NewInstanceServiceHandler(s.Instance, opts...)
	mountProcedures(mux, instancev1.File_otterscale_instance_v1_instance_proto.Services().ByName("InstanceService"), instance)
	storage := s.Storage
	if storage == nil {
		storage = storagev1connect.UnimplementedStorageServiceHandler{}
	}
	_, storageHandler := storagev1connect.NewStorageServiceHandler(storage, opts...)
	mountProcedures(mux, storagev1.File_otterscale_storage_v1_storage_proto.Services().ByName("StorageService"), storageHandler)
	if s.Resource != nil {
		_, resource := resourcev1connect.NewResourceServiceHandler(s.Resource, opts...)
		mountProcedures(mux, resourcev1.File_otterscale_resource_v1_resource_proto.Services().ByName("ResourceService"), resource)
	}
	if s.Link != nil {
		_, link := linkv1connect.NewLinkServiceHandler(s.Link, opts...)
		mux.Handle(linkv1connect.LinkServiceListLinksProcedure, link)
	}
	return mux
}

// mountLinkAgent mounts LinkService's agent-tunnel methods, which the
// proxy has no answer for but unimplemented with a hint. NewServer does
// this only without an upstream: with one, they are forwarded, since the
// OtterScale server has agents. ListLinks stays the proxy's own either
// way: the clusters it names are the kubeconfig contexts the proxy's
// ResourceService answers for, which an upstream's would not be.
func mountLinkAgent(mux *http.ServeMux, s Services, opts ...connect.HandlerOption) {
	if s.Link == nil {
		return
	}
	opts = append([]connect.HandlerOption{JSONCodecs()}, opts...)
	_, link := linkv1connect.NewLinkServiceHandler(s.Link, opts...)
	methods := linkv1.File_otterscale_link_v1_link_proto.Services().ByName("LinkService").Methods()
	for i := range methods.Len() {
		path := "/" + linkv1connect.LinkServiceName + "/" + string(methods.Get(i).Name())
		if path != linkv1connect.LinkServiceListLinksProcedure {
			mux.Handle(path, link)
		}
	}
}

// mountProcedures mounts h on each of the service's procedure paths.
func mountProcedures(mux *http.ServeMux, svc protoreflect.ServiceDescriptor, h http.Handler) {
	methods := svc.Methods()
	for i := range methods.Len() {
		mux.Handle("/"+string(svc.FullName())+"/"+string(methods.Get(i).Name()), h)
	}
}
