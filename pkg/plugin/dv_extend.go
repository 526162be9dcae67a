package plugin

import (
	"context"
	"fmt"

	"connectrpc.com/connect"
	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	instancev1 "github.com/otterscale/kubectl-otterscale/gen/otterscale/instance/v1"
)

var extendExample = examples(`
	# Grow a DataVolume's claim to 20 GiB
	kubectl otterscale datavolume extend debian-12 --size 20Gi`)

// ExtendOptions are the options of `datavolume extend`.
type ExtendOptions struct {
	genericiooptions.IOStreams

	Size string

	f       *Factory
	request *instancev1.ExtendDataVolumeRequest
}

// NewCmdExtend returns `kubectl otterscale datavolume extend`.
func NewCmdExtend(f *Factory, streams genericiooptions.IOStreams) *cobra.Command {
	o := &ExtendOptions{IOStreams: streams, f: f}
	cmd := &cobra.Command{
		Use:               "extend NAME --size SIZE",
		Short:             "Grow a DataVolume's claim to a new size",
		Long:              "Grow a DataVolume's claim to a new size. Claims can only grow, and only when bound and when their storage class allows volume expansion.",
		Example:           extendExample,
		Args:              exactArgs(1, "one DataVolume NAME"),
		RunE:              runE(o),
		ValidArgsFunction: completeDataVolumes(f, true),
	}
	cmd.Flags().StringVar(&o.Size, "size", "", "The new size, e.g. 20Gi (required; larger than the current one)")
	return cmd
}

// Complete builds the request from the flags.
func (o *ExtendOptions) Complete(_ context.Context, args []string) error {
	o.request = &instancev1.ExtendDataVolumeRequest{Name: args[0]}
	if o.Size != "" {
		q, err := resource.ParseQuantity(o.Size)
		if err != nil {
			return usageErrorf("--size: %q is not a size such as 20Gi or 21474836480: %v", o.Size, err)
		}
		o.request.SizeBytes = q.Value()
	}
	return nil
}

// Validate checks the size flag.
func (o *ExtendOptions) Validate() error {
	if o.Size == "" {
		return usageErrorf("--size is required (e.g. --size 20Gi)")
	}
	if o.request.GetSizeBytes() <= 0 {
		return usageErrorf("--size: must be positive, got %q", o.Size)
	}
	return nil
}

// Run extends the claim.
func (o *ExtendOptions) Run(ctx context.Context) error {
	ns, err := o.f.Namespace()
	if err != nil {
		return err
	}
	o.request.Namespace = ns
	if _, err := o.f.Instance().ExtendDataVolume(ctx, connect.NewRequest(o.request)); err != nil {
		return err
	}
	_, err = fmt.Fprintf(o.Out, "%s/%s extended to %s\n", dataVolumeResource, o.request.GetName(),
		resource.NewQuantity(o.request.GetSizeBytes(), resource.BinarySI))
	return err
}
