package plugin

import (
	"context"
	"fmt"

	"connectrpc.com/connect"
	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	instancev1 "github.com/otterscale/kubectl-otterscale/gen/otterscale/instance/v1"
)

var getExample = examples(`
	# DataVolumes of the current namespace
	kubectl otterscale datavolume list

	# Of every namespace, with claims, classes and conditions
	kubectl otterscale dv list -A -o wide

	# Boot images only
	kubectl otterscale dv list --filter bootable

	# One DataVolume as the API's JSON
	kubectl otterscale dv get debian-12 -o json`)

var filters = map[string]instancev1.DataVolumeFilter{
	"all":          instancev1.DataVolumeFilter_ALL,
	"bootable":     instancev1.DataVolumeFilter_BOOTABLE,
	"non-bootable": instancev1.DataVolumeFilter_NON_BOOTABLE,
}

// GetOptions are the options of `datavolume get` and `datavolume list`.
type GetOptions struct {
	genericiooptions.IOStreams
	PrintFlags PrintFlags

	AllNamespaces bool
	Filter        string

	f         *Factory
	names     []string
	namespace string
}

// NewCmdGet returns `kubectl otterscale datavolume get` (or list: the same
// command under the name users of either habit type).
func NewCmdGet(f *Factory, streams genericiooptions.IOStreams, verb string) *cobra.Command {
	o := &GetOptions{IOStreams: streams, f: f, Filter: "all"}
	cmd := &cobra.Command{
		Use:               verb + " [NAME...]",
		Short:             "List DataVolumes, or show the ones named",
		Example:           getExample,
		RunE:              runE(o),
		ValidArgsFunction: completeDataVolumes(f, false),
	}
	cmd.Flags().BoolVarP(&o.AllNamespaces, "all-namespaces", "A", false, "List DataVolumes of every namespace")
	cmd.Flags().StringVar(&o.Filter, "filter", o.Filter, "Which DataVolumes to list: all, bootable or non-bootable (OtterScale's boot-image label)")
	completeFlag(cmd, "filter", fixed("all", "bootable", "non-bootable"))
	o.PrintFlags.AddFlags(cmd, true)
	return cmd
}

// Complete takes the names.
func (o *GetOptions) Complete(_ context.Context, args []string) error {
	o.names = args
	return nil
}

// Validate checks flag combinations.
func (o *GetOptions) Validate() error {
	if _, ok := filters[o.Filter]; !ok {
		return usageErrorf("--filter: unknown filter %q: use all, bootable or non-bootable", o.Filter)
	}
	if o.AllNamespaces && len(o.names) > 0 {
		return usageErrorf("--all-namespaces: cannot be combined with names; name the namespace with -n")
	}
	if len(o.names) > 0 && o.Filter != "all" {
		return usageErrorf("--filter: applies to listing, not to named DataVolumes")
	}
	return o.PrintFlags.Validate()
}

// Run fetches and prints.
func (o *GetOptions) Run(ctx context.Context) error {
	if !o.AllNamespaces {
		ns, err := o.f.Namespace()
		if err != nil {
			return err
		}
		o.namespace = ns
	}
	svc := o.f.Instance()
	if len(o.names) == 0 {
		resp, err := svc.ListDataVolumes(ctx, connect.NewRequest(&instancev1.ListDataVolumesRequest{
			Namespace: o.namespace,
			Filter:    filters[o.Filter],
		}))
		if err != nil {
			return err
		}
		dvs := resp.Msg.GetDataVolumes()
		if len(dvs) == 0 && (o.PrintFlags.Output == "" || o.PrintFlags.Output == "wide") {
			where := fmt.Sprintf("in %s namespace", o.namespace)
			if o.AllNamespaces {
				where = "in any namespace"
			}
			_, err := fmt.Fprintf(o.ErrOut, "No DataVolumes found %s.\n", where)
			return err
		}
		return printDataVolumes(o.Out, o.PrintFlags, dvs, o.AllNamespaces, false)
	}
	// Like kubectl: show what was found, then fail for what was not.
	var dvs []*instancev1.DataVolume
	var errs []error
	for _, name := range o.names {
		resp, err := svc.GetDataVolume(ctx, connect.NewRequest(&instancev1.GetDataVolumeRequest{Namespace: o.namespace, Name: name}))
		if err != nil {
			errs = append(errs, err)
			continue
		}
		dvs = append(dvs, resp.Msg)
	}
	if len(dvs) > 0 {
		if err := printDataVolumes(o.Out, o.PrintFlags, dvs, false, len(o.names) == 1); err != nil {
			return err
		}
	}
	return lastError(o.ErrOut, errs)
}
