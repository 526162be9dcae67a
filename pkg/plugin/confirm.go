package plugin

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/term"
	"k8s.io/cli-runtime/pkg/genericiooptions"
)

// errAborted is a "no" to a confirmation. It is no Connect code and no
// usage error, so it exits 1.
var errAborted = errors.New("aborted; nothing was changed")

// isTerminal says whether a stream is a terminal; tests replace it.
var isTerminal = func(stream any) bool {
	f, ok := stream.(interface{ Fd() uintptr })
	return ok && term.IsTerminal(int(f.Fd()))
}

// confirm asks prompt when a person is there to answer, that is when both
// stdin and stdout are terminals, and returns errAborted unless the answer
// is y or yes. Off a terminal (pipes, CI) it asks nothing and goes ahead, as
// kubectl delete does; yes (--yes) skips the question everywhere.
func confirm(ctx context.Context, streams genericiooptions.IOStreams, yes bool, prompt string) error {
	if yes || !isTerminal(streams.In) || !isTerminal(streams.Out) {
		return nil
	}
	if _, err := fmt.Fprintf(streams.Out, "%s [y/N] ", prompt); err != nil {
		return err
	}
	// Read aside, so that Ctrl-C (which cancels ctx rather than killing the
	// process) is not stuck behind a blocked read.
	answer := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(streams.In).ReadString('\n')
		answer <- line
	}()
	select {
	case <-ctx.Done():
		_, _ = fmt.Fprintln(streams.Out)
		return ctx.Err()
	case line := <-answer:
		if !strings.HasSuffix(line, "\n") {
			// End of input: end the prompt's line before the error.
			_, _ = fmt.Fprintln(streams.Out)
		}
		switch strings.ToLower(strings.TrimSpace(line)) {
		case "y", "yes":
			return nil
		}
		return errAborted
	}
}

// confirmOrRefuse is confirm for what cannot be undone, such as deleting
// an image with its data: off a terminal it refuses unless yes, rather
// than going ahead, so that a script has to say --yes. what names the
// action in the error.
func confirmOrRefuse(ctx context.Context, streams genericiooptions.IOStreams, yes bool, what, prompt string) error {
	if yes {
		return nil
	}
	if !isTerminal(streams.In) || !isTerminal(streams.Out) {
		return usageErrorf("%s: there is no terminal to ask for confirmation on; pass --yes to confirm", what)
	}
	return confirm(ctx, streams, false, prompt)
}
