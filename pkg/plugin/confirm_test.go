package plugin

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"k8s.io/cli-runtime/pkg/genericiooptions"
)

// fakeTerminal makes isTerminal answer in and out for the test's streams.
func fakeTerminal(t *testing.T, in, out bool) {
	t.Helper()
	saved := isTerminal
	t.Cleanup(func() { isTerminal = saved })
	isTerminal = func(stream any) bool {
		if _, ok := stream.(termIn); ok {
			return in
		}
		return out
	}
}

// termIn is the stdin that fakeTerminal recognises.
type termIn struct{ io.Reader }

func TestConfirm(t *testing.T) {
	const prompt = "Roll back rbd/disk to s1? This discards everything written since."
	for _, tt := range []struct {
		name        string
		in, out     bool // which streams are terminals
		yes         bool
		input       string
		wantErr     error
		wantPrompts bool
	}{
		{name: "yes", in: true, out: true, input: "yes\n", wantPrompts: true},
		{name: "y", in: true, out: true, input: "y\n", wantPrompts: true},
		{name: "Y with spaces", in: true, out: true, input: "  Y \n", wantPrompts: true},
		{name: "y at end of input", in: true, out: true, input: "y", wantPrompts: true},
		{name: "no", in: true, out: true, input: "n\n", wantErr: errAborted, wantPrompts: true},
		{name: "enter is no", in: true, out: true, input: "\n", wantErr: errAborted, wantPrompts: true},
		{name: "anything else is no", in: true, out: true, input: "yep\n", wantErr: errAborted, wantPrompts: true},
		{name: "end of input is no", in: true, out: true, input: "", wantErr: errAborted, wantPrompts: true},
		{name: "--yes asks nothing", in: true, out: true, yes: true},
		{name: "stdin not a terminal", in: false, out: true, input: "n\n"},
		{name: "stdout not a terminal", in: true, out: false, input: "n\n"},
		{name: "neither a terminal", input: "n\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			fakeTerminal(t, tt.in, tt.out)
			var out bytes.Buffer
			streams := genericiooptions.IOStreams{In: termIn{strings.NewReader(tt.input)}, Out: &out, ErrOut: io.Discard}
			err := confirm(t.Context(), streams, tt.yes, prompt)
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("confirm = %v, want %v", err, tt.wantErr)
			}
			if asked := strings.HasPrefix(out.String(), prompt+" [y/N] "); asked != tt.wantPrompts {
				t.Errorf("prompted %v, want %v: %q", asked, tt.wantPrompts, out.String())
			}
			// A person ends the answer with Enter, which the terminal echoes;
			// at end of input confirm ends the prompt's line itself.
			if want := prompt + " [y/N] "; tt.wantPrompts && !strings.HasSuffix(tt.input, "\n") {
				if out.String() != want+"\n" {
					t.Errorf("printed %q, want %q", out.String(), want+"\n")
				}
			} else if tt.wantPrompts && out.String() != want {
				t.Errorf("printed %q, want %q", out.String(), want)
			}
		})
	}
}

// An abort exits 1 with a message that says nothing was changed.
func TestAbortedExitCode(t *testing.T) {
	if got := ExitCode(errAborted); got != ExitError {
		t.Errorf("ExitCode(errAborted) = %d, want %d", got, ExitError)
	}
	var buf bytes.Buffer
	HandleError(&buf, nil, errAborted)
	if got := buf.String(); got != "error: aborted; nothing was changed\n" {
		t.Errorf("printed %q", got)
	}
}

// Ctrl-C while the question waits cancels it rather than hanging on stdin.
func TestConfirmInterrupted(t *testing.T) {
	fakeTerminal(t, true, true)
	r, w := io.Pipe()
	defer w.Close()
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	streams := genericiooptions.IOStreams{In: termIn{r}, Out: &bytes.Buffer{}, ErrOut: io.Discard}
	if err := confirm(ctx, streams, false, "Delete snapshot rbd/disk@s1?"); !errors.Is(err, context.Canceled) || ExitCode(err) != ExitInterrupted {
		t.Errorf("confirm = %v, want context.Canceled", err)
	}
}

// The commands ask before they act: "n" leaves Ceph untouched (there is no
// Ceph here to touch: an answer of "n" must not even look for one) and
// exits 1; delete asks too, and protect does not ask at all.
func TestCommandsConfirm(t *testing.T) {
	fakeTerminal(t, true, true)
	for _, tt := range []struct {
		args   []string
		prompt string
	}{
		{[]string{"snapshot", "rollback", "rbd/disk@s1"}, "Roll back rbd/disk to s1? This discards everything written since. [y/N] "},
		{[]string{"snap", "delete", "rbd/disk@s1"}, "Delete snapshot rbd/disk@s1? [y/N] "},
		{[]string{"image", "delete", "rbd/disk"}, "Delete image rbd/disk and all its data? [y/N] "},
		{[]string{"image", "rm", "rbd/a", "rbd/b"}, "Delete 2 images (rbd/a, rbd/b) and all their data? [y/N] "},
	} {
		var out, errOut bytes.Buffer
		streams := genericiooptions.IOStreams{In: termIn{strings.NewReader("n\n")}, Out: &out, ErrOut: &errOut}
		root := NewCmdRoot(streams)
		root.SetArgs(tt.args)
		cmd, err := root.ExecuteContextC(t.Context())
		code := HandleError(&errOut, cmd, err)
		if code != ExitError || out.String() != tt.prompt || errOut.String() != "error: aborted; nothing was changed\n" {
			t.Errorf("%v: exit %d\nstdout %q\nstderr %q", tt.args, code, out.String(), errOut.String())
		}
	}
}

// Deleting an image off a terminal needs --yes: a script must say so.
// Nothing is asked, and Ceph is never looked for (there is none here).
func TestImageDeleteOffTerminal(t *testing.T) {
	for _, tt := range []struct{ in, out bool }{{false, false}, {true, false}, {false, true}} {
		fakeTerminal(t, tt.in, tt.out)
		var out, errOut bytes.Buffer
		streams := genericiooptions.IOStreams{In: termIn{strings.NewReader("y\n")}, Out: &out, ErrOut: &errOut}
		root := NewCmdRoot(streams)
		root.SetArgs([]string{"image", "delete", "rbd/disk"})
		cmd, err := root.ExecuteContextC(t.Context())
		code := HandleError(&errOut, cmd, err)
		if code != ExitUsage || out.Len() != 0 || !strings.Contains(errOut.String(), "pass --yes to confirm") {
			t.Errorf("terminal in %v out %v: exit %d\nstdout %q\nstderr %q", tt.in, tt.out, code, out.String(), errOut.String())
		}
	}
}
