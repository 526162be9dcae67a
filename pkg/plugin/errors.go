package plugin

import (
	"context"
	"errors"
	"fmt"
	"io"

	"connectrpc.com/connect"
	"github.com/spf13/cobra"
)

// Exit codes. Scripts can tell why a command failed without parsing its
// message; README.md documents them.
const (
	ExitOK           = 0
	ExitError        = 1   // anything else
	ExitUsage        = 2   // bad flags, arguments or input (invalid_argument)
	ExitNotFound     = 3   // not_found
	ExitExists       = 4   // already_exists, aborted
	ExitPrecondition = 5   // failed_precondition, unimplemented
	ExitAuth         = 6   // unauthenticated, permission_denied
	ExitUnavailable  = 7   // unavailable, deadline_exceeded, resource_exhausted
	ExitFailed       = 8   // a DataVolume that was waited for failed
	ExitInterrupted  = 130 // Ctrl-C (canceled)
)

// usageError is a mistake in the command line itself.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usageErrorf(format string, args ...any) error {
	return usageError{fmt.Errorf(format, args...)}
}

// ExitCode maps an error to the process's exit code. This is the one place
// that does.
func ExitCode(err error) int {
	if err == nil {
		return ExitOK
	}
	var ue usageError
	if errors.As(err, &ue) {
		return ExitUsage
	}
	if errors.Is(err, context.Canceled) {
		return ExitInterrupted
	}
	if wf := (*waitFailedError)(nil); errors.As(err, &wf) {
		return ExitFailed
	}
	switch connect.CodeOf(err) {
	case connect.CodeInvalidArgument, connect.CodeOutOfRange:
		return ExitUsage
	case connect.CodeNotFound:
		return ExitNotFound
	case connect.CodeAlreadyExists, connect.CodeAborted:
		return ExitExists
	case connect.CodeFailedPrecondition, connect.CodeUnimplemented:
		return ExitPrecondition
	case connect.CodeUnauthenticated, connect.CodePermissionDenied:
		return ExitAuth
	case connect.CodeUnavailable, connect.CodeDeadlineExceeded, connect.CodeResourceExhausted:
		return ExitUnavailable
	case connect.CodeCanceled:
		return ExitInterrupted
	}
	return ExitError
}

// messageOf is err's message without Connect's code prefix: the exit code
// carries the code.
func messageOf(err error) string {
	var ce *connect.Error
	if errors.As(err, &ce) {
		return ce.Message()
	}
	return err.Error()
}

// lastError prints all errors but the last, which it returns for the exit
// code; commands that act on several objects go on past failures.
func lastError(w io.Writer, errs []error) error {
	if len(errs) == 0 {
		return nil
	}
	for _, err := range errs[:len(errs)-1] {
		_, _ = fmt.Fprintf(w, "error: %s\n", messageOf(err))
	}
	return errs[len(errs)-1]
}

// HandleError prints err the way kubectl does ("error: ...") and returns the
// exit code. Connect's code prefix is left out: the exit code carries it.
func HandleError(w io.Writer, cmd *cobra.Command, err error) int {
	if err == nil {
		return ExitOK
	}
	_, _ = fmt.Fprintf(w, "error: %s\n", messageOf(err))
	var ue usageError
	if errors.As(err, &ue) && cmd != nil {
		_, _ = fmt.Fprintf(w, "See '%s --help' for usage.\n", cmd.CommandPath())
	}
	return ExitCode(err)
}

// noArgs refuses arguments as a usage error.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usageErrorf("%q takes no arguments, got %q", cmd.CommandPath(), args)
	}
	return nil
}

func exactArgs(n int, what string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return usageErrorf("%s: expected %s, got %d arguments", cmd.CommandPath(), what, len(args))
		}
		return nil
	}
}

func minArgs(n int, what string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) < n {
			return usageErrorf("%s: expected %s", cmd.CommandPath(), what)
		}
		return nil
	}
}
