package plugin

import (
	"context"
	"fmt"
	"io"
	"time"

	"connectrpc.com/connect"
	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	instancev1 "github.com/otterscale/kubectl-otterscale/gen/otterscale/instance/v1"
	"github.com/otterscale/kubectl-otterscale/pkg/follow"
	"github.com/otterscale/kubectl-otterscale/pkg/tui"
)

var waitExample = examples(`
	# Follow one import until it ends; exit 0 when it succeeded
	kubectl otterscale datavolume wait debian-12 -n vms

	# Give up after 20 minutes
	kubectl otterscale dv wait debian-12 --timeout 20m`)

// DefaultWaitTimeout bounds wait and create --wait unless --timeout says.
const DefaultWaitTimeout = 30 * time.Minute

// WaitFlags are the flags of wait and create --wait.
type WaitFlags struct {
	Timeout     time.Duration
	MaxRestarts int32
}

func defaultWaitFlags() WaitFlags {
	return WaitFlags{Timeout: DefaultWaitTimeout, MaxRestarts: follow.DefaultMaxRestarts}
}

func (w *WaitFlags) add(cmd *cobra.Command, output *string) {
	cmd.Flags().DurationVar(&w.Timeout, "timeout", w.Timeout, "How long to wait before giving up")
	cmd.Flags().Int32Var(&w.MaxRestarts, "max-restarts", w.MaxRestarts,
		"Give up (exit 8) once CDI has restarted a failing importer more than this many times; a source that refuses the request (HTTP 4xx) ends the wait at once")
	if output != nil {
		cmd.Flags().StringVarP(output, "output", "o", "", "Output format off a terminal: json (one DataVolume per line)")
		completeFlag(cmd, "output", fixed("json"))
	}
}

func (w WaitFlags) validate() error {
	if w.Timeout <= 0 {
		return usageErrorf("--timeout: must be positive, got %s", w.Timeout)
	}
	if w.MaxRestarts < 0 {
		return usageErrorf("--max-restarts: must be 0 or more, got %d", w.MaxRestarts)
	}
	return nil
}

func (w WaitFlags) rules() follow.Rules {
	r := follow.DefaultRules
	r.MaxRestarts = w.MaxRestarts
	return r
}

// WaitOptions are the options of `datavolume wait`.
type WaitOptions struct {
	genericiooptions.IOStreams

	WaitFlags WaitFlags
	Output    string

	f    *Factory
	name string
}

// NewCmdWait returns `kubectl otterscale datavolume wait`.
func NewCmdWait(f *Factory, streams genericiooptions.IOStreams) *cobra.Command {
	o := &WaitOptions{IOStreams: streams, f: f, WaitFlags: defaultWaitFlags()}
	cmd := &cobra.Command{
		Use:   "wait NAME",
		Short: "Follow one DataVolume until its import ends",
		Long: `Follow one DataVolume until its import ends. Exits 0 when it succeeded; otherwise
non-zero with the reason:
  8  it failed: CDI set phase Failed, the source refused the request (HTTP 4xx),
     or the importer kept failing past --max-restarts (CDI itself never gives up
     on a failing import; it restarts the importer until the DataVolume is deleted)
  5  something blocks it that waiting will not fix: the claim waits for a first
     consumer, population is pending, provisioning failed, the claim is not
     valid, or no node can run the importer pod for a minute
  7  --timeout passed
  3  it was deleted
Ctrl-C stops waiting (exit 130) and leaves the DataVolume as it is.

On a terminal this is a compact live view; off a terminal it prints one line per
change (-o json: one JSON DataVolume per change).`,
		Example:           waitExample,
		Args:              exactArgs(1, "one DataVolume NAME"),
		RunE:              runE(o),
		ValidArgsFunction: completeDataVolumes(f, true),
	}
	o.WaitFlags.add(cmd, &o.Output)
	return cmd
}

// Complete takes the name.
func (o *WaitOptions) Complete(_ context.Context, args []string) error {
	o.name = args[0]
	return nil
}

// Validate checks the flags.
func (o *WaitOptions) Validate() error {
	if err := o.WaitFlags.validate(); err != nil {
		return err
	}
	if o.Output != "" && o.Output != "json" {
		return usageErrorf("--output: unknown format %q: wait prints json or, by default, lines", o.Output)
	}
	return nil
}

// Run waits.
func (o *WaitOptions) Run(ctx context.Context) error {
	ns, err := o.f.Namespace()
	if err != nil {
		return err
	}
	return waitFor(ctx, o.f, o.IOStreams, ns, o.name, o.WaitFlags, o.Output == "json", false)
}

// waitFor follows one DataVolume until it ends, on a terminal in the
// compact view, elsewhere as lines, and turns how it ended into the
// command's error (nil when it succeeded). created says the command has
// just created it: if the watch then finds none, it was deleted.
func waitFor(ctx context.Context, f *Factory, streams genericiooptions.IOStreams, ns, name string, flags WaitFlags, asJSON, created bool) error {
	watchCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	events, err := f.Instance().Watch(watchCtx, &instancev1.WatchDataVolumesRequest{Namespace: ns, Names: []string{name}})
	if err != nil {
		return err
	}
	var res follow.Result
	if !asJSON && interactive(streams) {
		final, err := runProgram(watchCtx, streams, tui.NewWait(events, tui.WaitOptions{
			Namespace: ns, Name: name, Timeout: flags.Timeout, Rules: flags.rules(), Hint: hintText,
		}))
		if err != nil {
			return err
		}
		res = tui.WaitResultOf(final)
	} else {
		undo := logToFile()
		res = waitPlain(watchCtx, streams.Out, follow.NewWait(ns, name, flags.rules()), events, flags.Timeout, asJSON)
		undo()
	}
	if ctx.Err() != nil {
		res.Outcome = follow.Interrupted
	}
	if created && res.Outcome == follow.Deleted {
		res.Reason = ""
	}
	return waitError(ns, name, flags.Timeout, res)
}

// hintText says a hint in the CLI's words, naming its flags.
func hintText(r follow.Result) string {
	switch r.Hint {
	case follow.HintFirstConsumer, follow.HintPendingPopulation:
		return r.Hint.String() + " (dv create --force-bind)"
	case follow.HintRestarts:
		return r.Hint.String() + "; delete it, or wait longer with --max-restarts"
	case follow.HintSource:
		return r.Hint.String() + "; delete it and create it again with the right --url"
	}
	return r.Hint.String()
}

// waitPlain follows the watch off a terminal: a line per change, and the
// same rules as the view for when to stop.
func waitPlain(ctx context.Context, out io.Writer, w *follow.Wait, events <-chan *instancev1.WatchDataVolumesResponse, timeout time.Duration, asJSON bool) follow.Result {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	// A grace period can run out without a new message.
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	last := map[string]string{}
	for {
		select {
		case <-ctx.Done():
			return follow.Result{Outcome: follow.Interrupted}
		case <-timer.C:
			return w.TimedOut()
		case <-tick.C:
			if res, done := w.Check(time.Now()); done {
				return res
			}
		case r, ok := <-events:
			if !ok {
				return follow.Result{Outcome: follow.Interrupted}
			}
			_ = printChange(out, r, last, false, asJSON)
			if res, done, _ := w.Apply(r, time.Now()); done {
				return res
			}
		}
	}
}

// waitFailedError is an import that failed, for its own exit code.
type waitFailedError struct{ msg string }

func (e *waitFailedError) Error() string { return e.msg }

// waitError turns how a wait ended into the command's error.
func waitError(ns, name string, timeout time.Duration, res follow.Result) error {
	what := fmt.Sprintf("data volume %q in namespace %q", name, ns)
	detail := res.Reason
	if d := res.Detail(); d != "" {
		if detail != "" {
			detail += ": "
		}
		detail += d
	}
	if h := hintText(res); h != "" {
		detail += "; " + h
	}
	switch res.Outcome {
	case follow.Succeeded:
		return nil
	case follow.Failed:
		return &waitFailedError{fmt.Sprintf("%s failed: %s", what, detail)}
	case follow.TimedOut:
		return connect.NewError(connect.CodeDeadlineExceeded, fmt.Errorf("gave up waiting for %s after %s (now %s)", what, timeout, detail))
	case follow.Blocked:
		return connect.NewError(connect.CodeFailedPrecondition, fmt.Errorf("%s is blocked: %s", what, detail))
	case follow.Deleted:
		if res.Reason == "NotFound" {
			return connect.NewError(connect.CodeNotFound, fmt.Errorf("%s not found", what))
		}
		return connect.NewError(connect.CodeNotFound, fmt.Errorf("%s was deleted while waiting", what))
	}
	return connect.NewError(connect.CodeCanceled, fmt.Errorf("stopped waiting; %s is left as it is", what))
}
