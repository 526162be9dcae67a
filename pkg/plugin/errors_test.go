package plugin

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"

	"connectrpc.com/connect"
)

func TestExitCode(t *testing.T) {
	for _, tt := range []struct {
		err  error
		want int
	}{
		{nil, ExitOK},
		{errors.New("boom"), ExitError},
		{usageErrorf("--size is required"), ExitUsage},
		{fmt.Errorf("wrapped: %w", usageErrorf("x")), ExitUsage},
		{connect.NewError(connect.CodeInvalidArgument, errors.New("name: bad")), ExitUsage},
		{connect.NewError(connect.CodeNotFound, errors.New("x")), ExitNotFound},
		{connect.NewError(connect.CodeAlreadyExists, errors.New("x")), ExitExists},
		{connect.NewError(connect.CodeFailedPrecondition, errors.New("x")), ExitPrecondition},
		{connect.NewError(connect.CodePermissionDenied, errors.New("x")), ExitAuth},
		{connect.NewError(connect.CodeUnauthenticated, errors.New("x")), ExitAuth},
		{connect.NewError(connect.CodeUnavailable, errors.New("x")), ExitUnavailable},
		{connect.NewError(connect.CodeDeadlineExceeded, errors.New("x")), ExitUnavailable},
		{connect.NewError(connect.CodeCanceled, errors.New("x")), ExitInterrupted},
		{context.Canceled, ExitInterrupted},
	} {
		if got := ExitCode(tt.err); got != tt.want {
			t.Errorf("ExitCode(%v) = %d, want %d", tt.err, got, tt.want)
		}
	}
}

func TestHandleErrorPrintsMessageOnly(t *testing.T) {
	var buf bytes.Buffer
	code := HandleError(&buf, nil, connect.NewError(connect.CodeNotFound, errors.New(`data volume "x" not found in namespace "default"`)))
	if got, want := buf.String(), "error: data volume \"x\" not found in namespace \"default\"\n"; got != want {
		t.Errorf("printed %q, want %q", got, want)
	}
	if code != ExitNotFound {
		t.Errorf("code %d", code)
	}
}
