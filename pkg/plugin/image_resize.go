package plugin

import (
	"context"
	"fmt"

	"connectrpc.com/connect"
	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	storagev1 "github.com/otterscale/kubectl-otterscale/gen/otterscale/storage/v1"
)

var imageResizeExample = examples(`
	# Grow an image, also while a VM uses it
	kubectl otterscale image resize replicapool/scratch --size 40Gi

	# Shrink one that nothing uses, discarding what lies beyond 10 GiB
	kubectl otterscale image resize replicapool/scratch --size 10Gi --allow-shrink`)

// ImageResizeOptions are the options of `image resize`.
type ImageResizeOptions struct {
	genericiooptions.IOStreams
	PrintFlags  PrintFlags
	Size        string
	AllowShrink bool

	f       *Factory
	ceph    *CephFlags
	request storagev1.UpdateImageRequest
}

// NewCmdImageResize returns `kubectl otterscale image resize`.
func NewCmdImageResize(f *Factory, ceph *CephFlags, streams genericiooptions.IOStreams) *cobra.Command {
	o := &ImageResizeOptions{IOStreams: streams, f: f, ceph: ceph}
	cmd := &cobra.Command{
		Use:   "resize POOL/IMAGE --size SIZE [--allow-shrink]",
		Short: "Grow or shrink an RBD image",
		Long: `Set an RBD image's size. Growing is safe while the image is in use (the VM still has to
grow its partitions and file systems). Shrinking discards the data beyond the new size: it
needs --allow-shrink, and is refused while any client (a VM, rbd map) uses the image.`,
		Example:           imageResizeExample,
		Args:              exactArgs(1, imageSpecForm),
		RunE:              runCeph(f, o),
		ValidArgsFunction: completeImageSpecs(f, ceph, false),
	}
	cmd.Flags().StringVar(&o.Size, "size", "", "The new size, e.g. 40Gi (required)")
	cmd.Flags().BoolVar(&o.AllowShrink, "allow-shrink", false, "Allow a size below the current one, discarding the data beyond it")
	o.PrintFlags.AddFlags(cmd, false)
	return withCephNote(cmd)
}

// Complete parses the image and the size.
func (o *ImageResizeOptions) Complete(_ context.Context, args []string) error {
	r := &o.request
	var err error
	if r.PoolName, r.ImageName, err = parseImageSpec(args[0]); err != nil {
		return err
	}
	if o.Size == "" {
		return usageErrorf("--size is required (e.g. --size 40Gi)")
	}
	if r.QuotaBytes, err = parseBytes("size", o.Size); err != nil {
		return err
	}
	r.AllowShrink = o.AllowShrink
	return nil
}

// Validate checks the flags.
func (o *ImageResizeOptions) Validate() error {
	if err := o.ceph.Validate(); err != nil {
		return err
	}
	return o.PrintFlags.Validate()
}

// Run resizes the image and prints it.
func (o *ImageResizeOptions) Run(ctx context.Context) error {
	resp, err := o.f.Storage(o.ceph.Storage()).UpdateImage(ctx, connect.NewRequest(&o.request))
	if err != nil {
		return err
	}
	if o.PrintFlags.Output == "" {
		_, err = fmt.Fprintf(o.Out, "image %s resized to %s\n",
			imageSpec(o.request.GetPoolName(), o.request.GetImageName()), iecBytes(resp.Msg.GetQuotaBytes()))
		return err
	}
	return printImages(o.Out, o.PrintFlags, []*storagev1.Image{resp.Msg})
}
