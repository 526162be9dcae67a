package plugin

import (
	"context"
	"fmt"

	"connectrpc.com/connect"
	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	instancev1 "github.com/otterscale/kubectl-otterscale/gen/otterscale/instance/v1"
)

var deleteExample = examples(`
	# Delete a DataVolume (CDI deletes its claim and data with it)
	kubectl otterscale datavolume delete scratch

	# Several at once, in another namespace
	kubectl otterscale dv delete disk-a disk-b -n vms`)

// DeleteOptions are the options of `datavolume delete`.
type DeleteOptions struct {
	genericiooptions.IOStreams

	f         *Factory
	names     []string
	namespace string
}

// NewCmdDelete returns `kubectl otterscale datavolume delete`.
func NewCmdDelete(f *Factory, streams genericiooptions.IOStreams) *cobra.Command {
	o := &DeleteOptions{IOStreams: streams, f: f}
	return &cobra.Command{
		Use:               "delete NAME...",
		Short:             "Delete DataVolumes, and with them their claims and data",
		Example:           deleteExample,
		Args:              minArgs(1, "at least one DataVolume NAME"),
		RunE:              runE(o),
		ValidArgsFunction: completeDataVolumes(f, false),
	}
}

// Complete takes the names.
func (o *DeleteOptions) Complete(_ context.Context, args []string) error {
	o.names = args
	return nil
}

// Validate has nothing to check beyond the arguments' count.
func (o *DeleteOptions) Validate() error { return nil }

// Run deletes each DataVolume, going on past failures as kubectl does.
func (o *DeleteOptions) Run(ctx context.Context) error {
	ns, err := o.f.Namespace()
	if err != nil {
		return err
	}
	o.namespace = ns
	svc := o.f.Instance()
	var errs []error
	for _, name := range o.names {
		_, err := svc.DeleteDataVolume(ctx, connect.NewRequest(&instancev1.DeleteDataVolumeRequest{Namespace: o.namespace, Name: name}))
		if err != nil {
			errs = append(errs, err)
			continue
		}
		_, _ = fmt.Fprintf(o.Out, "%s %q deleted\n", dataVolumeResource, name)
	}
	return lastError(o.ErrOut, errs)
}
