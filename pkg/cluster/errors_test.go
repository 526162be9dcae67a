package cluster

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"syscall"
	"testing"

	"connectrpc.com/connect"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// timeoutErr is what net/http reports when a client timeout fires.
type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

// The integration tests see most of these from a real API server; the ones
// a healthy test server cannot produce on demand are checked here.
func TestErrorCodes(t *testing.T) {
	gr := schema.GroupResource{Group: "cdi.kubevirt.io", Resource: "datavolumes"}
	refused := &url.Error{Op: "Get", URL: "https://127.0.0.1:1", Err: &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}}
	for _, tt := range []struct {
		name string
		err  error
		code connect.Code
		hint string
	}{
		{"not found", apierrors.NewNotFound(gr, "x"), connect.CodeNotFound, ""},
		{"missing CRD", apierrors.NewGenericServerResponse(404, "get", gr, "x", "", 0, false), connect.CodeFailedPrecondition, "is CDI installed"},
		{"already exists", apierrors.NewAlreadyExists(gr, "x"), connect.CodeAlreadyExists, ""},
		{"conflict", apierrors.NewConflict(gr, "x", errors.New("changed")), connect.CodeAborted, "try again"},
		{"invalid", apierrors.NewInvalid(schema.GroupKind{Kind: "DataVolume"}, "x", nil), connect.CodeInvalidArgument, ""},
		{"bad request", apierrors.NewBadRequest("no"), connect.CodeInvalidArgument, ""},
		{"unauthorized", apierrors.NewUnauthorized("who"), connect.CodeUnauthenticated, "credentials"},
		{"forbidden", apierrors.NewForbidden(gr, "x", errors.New("no")), connect.CodePermissionDenied, ""},
		{"server timeout", apierrors.NewTimeoutError("slow", 1), connect.CodeDeadlineExceeded, ""},
		{"too many requests", apierrors.NewTooManyRequests("busy", 1), connect.CodeResourceExhausted, ""},
		{"service unavailable", apierrors.NewServiceUnavailable("down"), connect.CodeUnavailable, ""},
		{"internal", apierrors.NewInternalError(errors.New("etcd")), connect.CodeUnavailable, ""},
		{"context deadline", fmt.Errorf("list: %w", context.DeadlineExceeded), connect.CodeDeadlineExceeded, "--request-timeout"},
		{"client timeout", &url.Error{Op: "Get", URL: "https://x", Err: timeoutErr{}}, connect.CodeDeadlineExceeded, "--request-timeout"},
		{"canceled", context.Canceled, connect.CodeCanceled, ""},
		{"connection refused", refused, connect.CodeUnavailable, "reachable"},
		{"tls failure", &url.Error{Op: "Get", URL: "https://x", Err: errors.New("x509: certificate signed by unknown authority")}, connect.CodeUnavailable, ""},
		{"connect error passes through", connect.NewError(connect.CodeNotFound, errors.New("scope \"x\"")), connect.CodeNotFound, `scope "x"`},
		{"anything else", errors.New("odd"), connect.CodeUnknown, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := Error(tt.err, "list data volumes")
			if got := connect.CodeOf(err); got != tt.code {
				t.Fatalf("code %v, want %v (%v)", got, tt.code, err)
			}
			var ce *connect.Error
			if !errors.As(err, &ce) {
				t.Fatalf("%T is not a Connect error", err)
			}
			if msg := ce.Message(); !strings.HasPrefix(msg, "list data volumes: ") || !strings.Contains(msg, tt.hint) {
				t.Errorf("message %q: want the operation first and %q", msg, tt.hint)
			}
		})
	}
	if Error(nil, "x") != nil {
		t.Error("Error(nil) is not nil")
	}
}
