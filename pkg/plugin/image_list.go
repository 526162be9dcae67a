package plugin

import (
	"context"
	"fmt"

	"connectrpc.com/connect"
	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	storagev1 "github.com/otterscale/kubectl-otterscale/gen/otterscale/storage/v1"
)

var imageListExample = examples(`
	# RBD images of every pool
	kubectl otterscale image list

	# Of one pool, with their object layout
	kubectl otterscale image list replicapool -o wide

	# One POOL/IMAGE per line, for scripts
	kubectl otterscale img list -o name`)

// ImageListOptions are the options of `image list`.
type ImageListOptions struct {
	genericiooptions.IOStreams
	PrintFlags PrintFlags

	f    *Factory
	ceph *CephFlags
	pool string
}

// NewCmdImageList returns `kubectl otterscale image list`.
func NewCmdImageList(f *Factory, ceph *CephFlags, streams genericiooptions.IOStreams) *cobra.Command {
	o := &ImageListOptions{IOStreams: streams, f: f, ceph: ceph}
	cmd := &cobra.Command{
		Use:     "list [POOL]",
		Aliases: []string{"ls"},
		Short:   "List RBD images of every pool, or of one",
		Long: `List RBD images of every pool, or of the one named: provisioned size, the space used
as rbd du counts it, the number of snapshots, the features that are on, and age.`,
		Example:           imageListExample,
		Args:              maxArgs(1, "at most one POOL"),
		RunE:              runCeph(f, o),
		ValidArgsFunction: completePools(f, ceph),
	}
	o.PrintFlags.AddFlags(cmd, true)
	return withCephNote(cmd)
}

// Complete takes the pool.
func (o *ImageListOptions) Complete(_ context.Context, args []string) error {
	if len(args) == 1 {
		o.pool = args[0]
	}
	return nil
}

// Validate checks the flags; the service checks the pool's name.
func (o *ImageListOptions) Validate() error {
	if err := o.ceph.Validate(); err != nil {
		return err
	}
	return o.PrintFlags.Validate()
}

// Run lists and prints.
func (o *ImageListOptions) Run(ctx context.Context) error {
	resp, err := o.f.Storage(o.ceph.Storage()).ListImages(ctx, connect.NewRequest(&storagev1.ListImagesRequest{PoolName: o.pool}))
	if err != nil {
		return err
	}
	images := resp.Msg.GetImages()
	if len(images) == 0 && (o.PrintFlags.Output == "" || o.PrintFlags.Output == "wide") {
		where := "in any pool"
		if o.pool != "" {
			where = fmt.Sprintf("in pool %s", o.pool)
		}
		_, err := fmt.Fprintf(o.ErrOut, "No RBD images found %s.\n", where)
		return err
	}
	return printImages(o.Out, o.PrintFlags, images)
}

func maxArgs(n int, what string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) > n {
			return usageErrorf("%s: expected %s, got %d arguments", cmd.CommandPath(), what, len(args))
		}
		return nil
	}
}
