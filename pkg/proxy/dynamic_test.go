package proxy_test

import (
	"errors"
	"fmt"
	"testing"

	"connectrpc.com/connect"
	"connectrpc.com/grpchealth"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/dynamicpb"
)

// protoreflectName is what reflection lists services as.
type protoreflectName = protoreflect.FullName

// message finds a message type that a linked-in package registered (gRPC
// health and reflection keep theirs internal, under a package of their own
// that is wire-compatible with gRPC's).
func message(t *testing.T, name protoreflect.FullName) protoreflect.MessageDescriptor {
	t.Helper()
	d, err := protoregistry.GlobalFiles.FindDescriptorByName(name)
	if err != nil {
		t.Fatalf("find %s: %v", name, err)
	}
	md, ok := d.(protoreflect.MessageDescriptor)
	if !ok {
		t.Fatalf("%s is a %T, not a message", name, d)
	}
	return md
}

// dynamicClient calls procedure over gRPC with messages of the named types.
func dynamicClient(t *testing.T, url, procedure string, response protoreflect.MessageDescriptor) *connect.Client[dynamicpb.Message, dynamicpb.Message] {
	t.Helper()
	return connect.NewClient[dynamicpb.Message, dynamicpb.Message](h2c, url+procedure, connect.WithGRPC(),
		connect.WithResponseInitializer(func(_ connect.Spec, msg any) error {
			m, ok := msg.(*dynamicpb.Message)
			if !ok {
				return fmt.Errorf("initialize %T: not a dynamic message", msg)
			}
			*m = *dynamicpb.NewMessage(response)
			return nil
		}))
}

// healthCheck asks grpc.health.v1.Health/Check over gRPC, as Kubernetes'
// gRPC probes and grpc-health-probe do.
func healthCheck(t *testing.T, url, service string) (grpchealth.Status, error) {
	t.Helper()
	reqType := message(t, "connectext.grpc.health.v1.HealthCheckRequest")
	respType := message(t, "connectext.grpc.health.v1.HealthCheckResponse")
	req := dynamicpb.NewMessage(reqType)
	req.Set(reqType.Fields().ByName("service"), protoreflect.ValueOfString(service))
	resp, err := dynamicClient(t, url, "/grpc.health.v1.Health/Check", respType).CallUnary(t.Context(), connect.NewRequest(req))
	if err != nil {
		return grpchealth.StatusUnknown, err
	}
	return grpchealth.Status(resp.Msg.Get(respType.Fields().ByName("status")).Enum()), nil
}

// reflectV1Alpha lists services through the v1alpha reflection service,
// whose messages are v1's under another name.
func reflectV1Alpha(t *testing.T, url string) ([]string, error) {
	t.Helper()
	reqType := message(t, "connectext.grpc.reflection.v1.ServerReflectionRequest")
	respType := message(t, "connectext.grpc.reflection.v1.ServerReflectionResponse")
	stream := dynamicClient(t, url, "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo", respType).CallBidiStream(t.Context())
	req := dynamicpb.NewMessage(reqType)
	req.Set(reqType.Fields().ByName("list_services"), protoreflect.ValueOfString(""))
	if err := stream.Send(req); err != nil {
		return nil, err
	}
	if err := stream.CloseRequest(); err != nil {
		return nil, err
	}
	resp, err := stream.Receive()
	if err != nil {
		return nil, err
	}
	_ = stream.CloseResponse()
	field := respType.Fields().ByName("list_services_response")
	if !resp.Has(field) {
		return nil, errors.New("no list_services_response in the answer")
	}
	list := resp.Get(field).Message()
	services := list.Get(list.Descriptor().Fields().ByName("service")).List()
	var names []string
	for i := range services.Len() {
		svc := services.Get(i).Message()
		names = append(names, svc.Get(svc.Descriptor().Fields().ByName("name")).String())
	}
	return names, nil
}
