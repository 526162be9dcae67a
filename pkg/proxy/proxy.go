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
	storagev1 "github.com/otterscale/kubectl-otterscale/gen/otterscale/storage/v1"
	"github.com/otterscale/kubectl-otterscale/gen/otterscale/storage/v1/storagev1connect"
)

// Services are the implementations to serve.
type Services struct {
	Instance instancev1connect.InstanceServiceHandler
	// Storage answers unimplemented when nil.
	Storage storagev1connect.StorageServiceHandler
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
	return mux
}

// mountProcedures mounts h on each of the service's procedure paths.
func mountProcedures(mux *http.ServeMux, svc protoreflect.ServiceDescriptor, h http.Handler) {
	methods := svc.Methods()
	for i := range methods.Len() {
		mux.Handle("/"+string(svc.FullName())+"/"+string(methods.Get(i).Name()), h)
	}
}
