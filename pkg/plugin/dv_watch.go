package plugin

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/encoding/protojson"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	instancev1 "github.com/otterscale/kubectl-otterscale/gen/otterscale/instance/v1"
	"github.com/otterscale/kubectl-otterscale/pkg/follow"
	"github.com/otterscale/kubectl-otterscale/pkg/tui"
)

var watchExample = examples(`
	# Follow the DataVolumes of the current namespace (a full-screen view on a terminal)
	kubectl otterscale datavolume watch

	# Two of them, in another namespace
	kubectl otterscale dv watch debian-12 web-disk -n vms

	# Every namespace, only some labels
	kubectl otterscale dv watch -A -l app=web

	# In a pipe or CI: one line per change, or one JSON DataVolume per line
	kubectl otterscale dv watch -n vms | tee imports.log
	kubectl otterscale dv watch -n vms -o json | jq -c '{name, phase, progress}'`)

// WatchOptions are the options of `datavolume watch`.
type WatchOptions struct {
	genericiooptions.IOStreams

	AllNamespaces bool
	Selector      string
	Output        string

	f     *Factory
	names []string
}

// NewCmdWatch returns `kubectl otterscale datavolume watch`.
func NewCmdWatch(f *Factory, streams genericiooptions.IOStreams) *cobra.Command {
	o := &WatchOptions{IOStreams: streams, f: f}
	cmd := &cobra.Command{
		Use:   "watch [NAME...]",
		Short: "Follow DataVolumes and their imports live",
		Long: `Follow DataVolumes and their imports live: phase, progress, the Running/Ready reason,
importer restarts, the claim, and the events that explain a stall.

On a terminal this is a full-screen view (? shows its keys; q quits). Off a terminal
(a pipe, CI, TERM=dumb) it prints one line per change; -o json prints one JSON
DataVolume per change. It uses one watch per resource, never polling, and resumes by
itself when the API server's watch expires or the connection drops.`,
		Example:           watchExample,
		RunE:              runE(o),
		ValidArgsFunction: completeDataVolumes(f, false),
	}
	cmd.Flags().BoolVarP(&o.AllNamespaces, "all-namespaces", "A", false, "Watch DataVolumes of every namespace")
	cmd.Flags().StringVarP(&o.Selector, "selector", "l", "", "Label selector, e.g. app=web")
	cmd.Flags().StringVarP(&o.Output, "output", "o", "", "Output format off a terminal: json (one DataVolume per line)")
	completeFlag(cmd, "output", fixed("json"))
	return cmd
}

// Complete takes the names.
func (o *WatchOptions) Complete(_ context.Context, args []string) error {
	o.names = args
	return nil
}

// Validate checks flag combinations.
func (o *WatchOptions) Validate() error {
	if o.Output != "" && o.Output != "json" {
		return usageErrorf("--output: unknown format %q: watch prints json or, by default, lines", o.Output)
	}
	if o.AllNamespaces && len(o.names) > 0 {
		return usageErrorf("--all-namespaces: cannot be combined with names; name the namespace with -n")
	}
	return nil
}

// Run watches until Ctrl-C (or, off a terminal, until the watch ends).
func (o *WatchOptions) Run(ctx context.Context) error {
	req := &instancev1.WatchDataVolumesRequest{Names: o.names, LabelSelector: o.Selector}
	if !o.AllNamespaces {
		ns, err := o.f.Namespace()
		if err != nil {
			return err
		}
		req.Namespace = ns
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	events, err := o.f.Instance().Watch(ctx, req)
	if err != nil {
		return err
	}
	if o.Output == "" && interactive(o.IOStreams) {
		_, err := runProgram(ctx, o.IOStreams, tui.NewWatch(events, tui.WatchOptions{Namespace: req.Namespace, AllNamespaces: o.AllNamespaces}))
		return err
	}
	// client-go logs the watch's reconnections; they belong in the log
	// file, not between the lines a script reads.
	defer logToFile()()
	return watchPlain(ctx, o.Out, events, o.AllNamespaces, o.Output == "json")
}

// watchPlain prints one line (or JSON object) per change until the watch
// ends; it never writes an escape sequence.
func watchPlain(ctx context.Context, out io.Writer, events <-chan *instancev1.WatchDataVolumesResponse, allNamespaces, asJSON bool) error {
	last := map[string]string{}
	for {
		select {
		case <-ctx.Done():
			return nil
		case r, ok := <-events:
			if !ok {
				return nil
			}
			if err := printChange(out, r, last, allNamespaces, asJSON); err != nil {
				return err
			}
		}
	}
}

// eventPrefix marks the events printed in printChange's last map, apart
// from the DataVolumes' "namespace/name" keys.
const eventPrefix = "\x00event\x00"

// printChange prints one watch message, skipping a DataVolume's line when
// it reads as the last one printed for it (a change in a field the line
// does not show) and an event already printed (a repeat that only counted
// it up). last remembers both.
func printChange(out io.Writer, r *instancev1.WatchDataVolumesResponse, last map[string]string, allNamespaces, asJSON bool) error {
	dv := r.GetDataVolume()
	key := dv.GetNamespace() + "/" + dv.GetName()
	switch r.GetType() {
	case instancev1.WatchDataVolumesResponse_ADDED, instancev1.WatchDataVolumesResponse_MODIFIED:
		if asJSON {
			return printJSONLine(out, dv)
		}
		line := tui.PlainLine(dv, allNamespaces)
		if last[key] == line {
			return nil
		}
		last[key] = line
		_, err := fmt.Fprintln(out, line)
		return err
	case instancev1.WatchDataVolumesResponse_DELETED:
		delete(last, key)
		// A DataVolume made again under the name gets Events of its own.
		for k := range last {
			if strings.HasPrefix(k, eventPrefix+key+"\x00") {
				delete(last, k)
			}
		}
		if asJSON {
			return printJSONLine(out, dv)
		}
		name := dv.GetName()
		if allNamespaces {
			name = dv.GetNamespace() + "  " + name
		}
		_, err := fmt.Fprintf(out, "%s  deleted\n", name)
		return err
	case instancev1.WatchDataVolumesResponse_EVENT:
		if asJSON {
			return nil // -o json is DataVolumes only
		}
		// A repeat only counts up an event already printed (CDI repeats
		// ErrImportFailed every few seconds); print each event once.
		ev := r.GetEvent()
		seen := eventPrefix + ev.GetNamespace() + "/" + ev.GetDataVolume() + "\x00" + follow.EventKey(ev)
		if _, ok := last[seen]; ok {
			return nil
		}
		last[seen] = ""
		_, err := fmt.Fprintln(out, tui.PlainEvent(ev))
		return err
	}
	return nil
}

func printJSONLine(out io.Writer, dv *instancev1.DataVolume) error {
	data, err := protojson.MarshalOptions{EmitUnpopulated: true}.Marshal(dv)
	if err != nil {
		return err
	}
	// protojson may space its output differently from run to run; a line
	// per object is what matters here, and it never holds a newline.
	_, err = fmt.Fprintf(out, "%s\n", compactJSON(data))
	return err
}

// interactive says whether a person is at a terminal that can show the
// full-screen view: both streams are terminals and TERM is not dumb.
func interactive(streams genericiooptions.IOStreams) bool {
	return isTerminal(streams.In) && isTerminal(streams.Out) && os.Getenv("TERM") != "dumb"
}
