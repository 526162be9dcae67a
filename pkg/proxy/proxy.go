// Package proxy owns the local Connect server: it mounts the service
// implementations as Connect, gRPC and gRPC-Web handlers on one port, with
// gRPC health and reflection, and guards them with host checks, CORS, an
// optional bearer token and request size limits. The `proxy` command
// configures and runs it.
package proxy

import (
	"net/http"

	"connectrpc.com/connect"

	"github.com/otterscale/kubectl-otterscale/gen/otterscale/instance/v1/instancev1connect"
	"github.com/otterscale/kubectl-otterscale/gen/otterscale/storage/v1/storagev1connect"
)

// Services are the implementations to serve.
type Services struct {
	Instance instancev1connect.InstanceServiceHandler
	// Storage answers unimplemented when nil.
	Storage storagev1connect.StorageServiceHandler
}

// NewMux mounts the services, with upstream's JSON, on a new mux.
func NewMux(s Services, opts ...connect.HandlerOption) *http.ServeMux {
	opts = append([]connect.HandlerOption{JSONCodecs()}, opts...)
	mux := http.NewServeMux()
	mux.Handle(instancev1connect.NewInstanceServiceHandler(s.Instance, opts...))
	storage := s.Storage
	if storage == nil {
		storage = storagev1connect.UnimplementedStorageServiceHandler{}
	}
	mux.Handle(storagev1connect.NewStorageServiceHandler(storage, opts...))
	return mux
}
