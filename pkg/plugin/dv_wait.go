package plugin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"connectrpc.com/connect"
	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	instancev1 "github.com/otterscale/kubectl-otterscale/gen/otterscale/instance/v1"
	"github.com/otterscale/kubectl-otterscale/pkg/tui"
)

var waitExample = examples(`
	# Follow one import until it ends; exit 0 when it succeeded
	kubectl otterscale datavolume wait debian-12 -n vms

	# Give up after 20 minutes
	kubectl otterscale dv wait debian-12 --timeout 20m`)

// DefaultWaitTimeout bounds wait and create --wait unless --timeout says.
const DefaultWaitTimeout = 30 * time.Minute

// WaitOptions are the options of `datavolume wait`.
type WaitOptions struct {
	genericiooptions.IOStreams

	Timeout time.Duration
	Output  string

	f    *Factory
	name string
}

// NewCmdWait returns `kubectl otterscale datavolume wait`.
func NewCmdWait(f *Factory, streams genericiooptions.IOStreams) *cobra.Command {
	o := &WaitOptions{IOStreams: streams, f: f, Timeout: DefaultWaitTimeout}
	cmd := &cobra.Command{
		Use:   "wait NAME",
		Short: "Follow one DataVolume until its import ends",
		Long: `Follow one DataVolume until its import ends. Exits 0 when it succeeded; otherwise
non-zero with the reason: 8 when it failed, 7 on --timeout, 5 when something blocks it
that waiting will not fix (the claim waits for a first consumer, population is pending,
provisioning failed, the claim is not valid), 3 when it is deleted. Ctrl-C stops waiting
(exit 130) and leaves the DataVolume as it is.

On a terminal this is a compact live view; off a terminal it prints one line per
change (-o json: one JSON DataVolume per change).`,
		Example:           waitExample,
		Args:              exactArgs(1, "one DataVolume NAME"),
		RunE:              runE(o),
		ValidArgsFunction: completeDataVolumes(f, true),
	}
	addWaitFlags(cmd, &o.Timeout, &o.Output)
	return cmd
}

func addWaitFlags(cmd *cobra.Command, timeout *time.Duration, output *string) {
	cmd.Flags().DurationVar(timeout, "timeout", *timeout, "How long to wait before giving up")
	if output != nil {
		cmd.Flags().StringVarP(output, "output", "o", "", "Output format off a terminal: json (one DataVolume per line)")
		completeFlag(cmd, "output", fixed("json"))
	}
}

// Complete takes the name.
func (o *WaitOptions) Complete(_ context.Context, args []string) error {
	o.name = args[0]
	return nil
}

// Validate checks the flags.
func (o *WaitOptions) Validate() error {
	if o.Timeout <= 0 {
		return usageErrorf("--timeout: must be positive, got %s", o.Timeout)
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
	return waitFor(ctx, o.f, o.IOStreams, ns, o.name, o.Timeout, o.Output == "json", false)
}

// waitFor follows one DataVolume until it ends, on a terminal in the
// compact view, elsewhere as lines, and turns how it ended into the
// command's error (nil when it succeeded). created says the command has
// just created it: if the watch then finds none, it was deleted.
func waitFor(ctx context.Context, f *Factory, streams genericiooptions.IOStreams, ns, name string, timeout time.Duration, asJSON, created bool) error {
	watchCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	events, err := f.Instance().Watch(watchCtx, &instancev1.WatchDataVolumesRequest{Namespace: ns, Names: []string{name}})
	if err != nil {
		return err
	}
	var res tui.WaitResult
	if !asJSON && interactive(streams) {
		final, err := runProgram(watchCtx, streams, tui.NewWait(events, tui.WaitOptions{Namespace: ns, Name: name, Timeout: timeout}))
		if err != nil {
			return err
		}
		res = tui.WaitResultOf(final)
	} else {
		undo := logToFile()
		res = waitPlain(watchCtx, streams.Out, events, timeout, asJSON)
		undo()
	}
	if ctx.Err() != nil {
		res.Outcome = tui.Interrupted
	}
	if created && res.Outcome == tui.Deleted {
		res.Reason = ""
	}
	return waitError(ns, name, timeout, res)
}

// waitPlain follows the watch off a terminal: a line per change, and the
// same rules as the view for when to stop.
func waitPlain(ctx context.Context, out io.Writer, events <-chan *instancev1.WatchDataVolumesResponse, timeout time.Duration, asJSON bool) tui.WaitResult {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	last := map[string]string{}
	var dv *instancev1.DataVolume
	var recent []*instancev1.Event
	for {
		select {
		case <-ctx.Done():
			return tui.WaitResult{Outcome: tui.Interrupted}
		case <-timer.C:
			return tui.WaitResult{Outcome: tui.TimedOut, Reason: dv.GetPhase(), Message: dv.GetProgress()}
		case r, ok := <-events:
			if !ok {
				return tui.WaitResult{Outcome: tui.Interrupted}
			}
			_ = printChange(out, r, last, false, asJSON)
			switch r.GetType() {
			case instancev1.WatchDataVolumesResponse_SYNCED:
				if dv == nil {
					return tui.WaitResult{Outcome: tui.Deleted, Reason: "NotFound"}
				}
				continue
			case instancev1.WatchDataVolumesResponse_DELETED:
				return tui.WaitResult{Outcome: tui.Deleted}
			case instancev1.WatchDataVolumesResponse_EVENT:
				recent = append(recent, r.GetEvent())
			default:
				dv = r.GetDataVolume()
			}
			if dv == nil {
				continue
			}
			if done, res := tui.Classify(dv, recent); done {
				return res
			}
		}
	}
}

// errWaitFailed marks an import that failed, for its own exit code.
var errWaitFailed = errors.New("data volume failed")

// waitError turns how a wait ended into the command's error.
func waitError(ns, name string, timeout time.Duration, res tui.WaitResult) error {
	what := fmt.Sprintf("data volume %q in namespace %q", name, ns)
	detail := res.Reason
	if res.Message != "" {
		detail += ": " + res.Message
	}
	switch res.Outcome {
	case tui.Succeeded:
		return nil
	case tui.Failed:
		return fmt.Errorf("%s failed: %s: %w", what, detail, errWaitFailed)
	case tui.TimedOut:
		return connect.NewError(connect.CodeDeadlineExceeded, fmt.Errorf("gave up waiting for %s after %s (now %s)", what, timeout, detail))
	case tui.Blocked:
		return connect.NewError(connect.CodeFailedPrecondition, fmt.Errorf("%s is blocked: %s", what, detail))
	case tui.Deleted:
		if res.Reason == "NotFound" {
			return connect.NewError(connect.CodeNotFound, fmt.Errorf("%s not found", what))
		}
		return connect.NewError(connect.CodeNotFound, fmt.Errorf("%s was deleted while waiting", what))
	}
	return connect.NewError(connect.CodeCanceled, fmt.Errorf("stopped waiting; %s is left as it is", what))
}
