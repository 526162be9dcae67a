package cluster

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"syscall"

	"connectrpc.com/connect"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

// Error translates an error from the Kubernetes API into a Connect error
// whose message says what was being done: op is that, in lower case (e.g.
// `get data volume "web" in namespace "vms"`). Connect errors pass through
// with op prepended.
func Error(err error, op string) error {
	if err == nil {
		return nil
	}
	var ce *connect.Error
	if errors.As(err, &ce) {
		return connect.NewError(ce.Code(), fmt.Errorf("%s: %w", op, errors.Unwrap(ce)))
	}
	code, hint := classify(err)
	if hint != "" {
		return connect.NewError(code, fmt.Errorf("%s: %w (%s)", op, err, hint))
	}
	return connect.NewError(code, fmt.Errorf("%s: %w", op, err))
}

func classify(err error) (connect.Code, string) {
	switch {
	case errors.Is(err, context.Canceled):
		return connect.CodeCanceled, ""
	case errors.Is(err, context.DeadlineExceeded):
		return connect.CodeDeadlineExceeded, "the API server did not answer in time; see --request-timeout"
	}
	var status apierrors.APIStatus
	if errors.As(err, &status) {
		return classifyStatus(err)
	}
	var uerr *url.Error
	if errors.As(err, &uerr) && uerr.Timeout() {
		return connect.CodeDeadlineExceeded, "the API server did not answer in time; see --request-timeout"
	}
	var nerr net.Error
	var operr *net.OpError
	switch {
	case errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH),
		errors.As(err, &operr):
		return connect.CodeUnavailable, "is the cluster reachable and the kubeconfig's server right?"
	case errors.As(err, &nerr) && nerr.Timeout():
		return connect.CodeDeadlineExceeded, ""
	case errors.As(err, &uerr):
		// TLS failures, DNS failures, proxies: the cluster cannot be reached.
		return connect.CodeUnavailable, ""
	}
	return connect.CodeUnknown, ""
}

// IsMissingResource tells a 404 for the resource type itself (the CRD is
// not installed) from a 404 for an object.
func IsMissingResource(err error) bool {
	return apierrors.IsNotFound(err) && strings.Contains(err.Error(), "the server could not find the requested resource")
}

func classifyStatus(err error) (connect.Code, string) {
	switch {
	case apierrors.IsNotFound(err):
		// No retry of the same call can fix a missing CRD.
		if IsMissingResource(err) {
			return connect.CodeFailedPrecondition, "is CDI installed in this cluster?"
		}
		return connect.CodeNotFound, ""
	case apierrors.IsAlreadyExists(err):
		return connect.CodeAlreadyExists, ""
	case apierrors.IsConflict(err):
		return connect.CodeAborted, "the object changed meanwhile; try again"
	case apierrors.IsInvalid(err), apierrors.IsBadRequest(err), apierrors.IsRequestEntityTooLargeError(err):
		return connect.CodeInvalidArgument, ""
	case apierrors.IsUnauthorized(err):
		return connect.CodeUnauthenticated, "check the kubeconfig's credentials"
	case apierrors.IsForbidden(err):
		return connect.CodePermissionDenied, ""
	case apierrors.IsTimeout(err), apierrors.IsServerTimeout(err):
		return connect.CodeDeadlineExceeded, ""
	case apierrors.IsTooManyRequests(err):
		return connect.CodeResourceExhausted, ""
	case apierrors.IsServiceUnavailable(err), apierrors.IsInternalError(err), apierrors.IsUnexpectedServerError(err):
		return connect.CodeUnavailable, ""
	case apierrors.IsMethodNotSupported(err), apierrors.IsNotAcceptable(err), apierrors.IsUnsupportedMediaType(err):
		return connect.CodeUnimplemented, ""
	}
	return connect.CodeUnknown, ""
}
