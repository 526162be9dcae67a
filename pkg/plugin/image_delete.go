package plugin

import (
	"context"
	"fmt"
	"strings"

	"connectrpc.com/connect"
	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	storagev1 "github.com/otterscale/kubectl-otterscale/gen/otterscale/storage/v1"
)

var imageDeleteExample = examples(`
	# Delete an image; on a terminal, after asking
	kubectl otterscale image delete replicapool/scratch

	# Several, in a script
	kubectl otterscale image delete replicapool/tmp-1 replicapool/tmp-2 --yes`)

// ImageDeleteOptions are the options of `image delete`.
type ImageDeleteOptions struct {
	genericiooptions.IOStreams
	Yes bool

	f      *Factory
	ceph   *CephFlags
	images [][2]string // pool, image
}

// NewCmdImageDelete returns `kubectl otterscale image delete`.
func NewCmdImageDelete(f *Factory, ceph *CephFlags, streams genericiooptions.IOStreams) *cobra.Command {
	o := &ImageDeleteOptions{IOStreams: streams, f: f, ceph: ceph}
	cmd := &cobra.Command{
		Use:     "delete POOL/IMAGE...",
		Aliases: []string{"rm"},
		Short:   "Delete RBD images and their data",
		Long: `Delete RBD images and all their data. An image that has snapshots (and through them
clones) or that a client uses (a VM, rbd map) is refused, and nothing of it is deleted.

It asks for confirmation when stdin and stdout are terminals; off a terminal (scripts,
pipes) it deletes nothing unless --yes.`,
		Example:           imageDeleteExample,
		Args:              minArgs(1, "one or more "+imageSpecForm),
		RunE:              runCeph(f, o),
		ValidArgsFunction: completeImageSpecs(f, ceph, false),
	}
	cmd.Flags().BoolVarP(&o.Yes, "yes", "y", false, "Don't ask for confirmation; needed off a terminal")
	return withCephNote(cmd)
}

// Complete parses the images.
func (o *ImageDeleteOptions) Complete(_ context.Context, args []string) error {
	for _, a := range args {
		pool, image, err := parseImageSpec(a)
		if err != nil {
			return err
		}
		o.images = append(o.images, [2]string{pool, image})
	}
	return nil
}

// Validate checks the Ceph flags.
func (o *ImageDeleteOptions) Validate() error { return o.ceph.Validate() }

// Run asks, then deletes each image, going on past failures.
func (o *ImageDeleteOptions) Run(ctx context.Context) error {
	specs := make([]string, len(o.images))
	for i, im := range o.images {
		specs[i] = imageSpec(im[0], im[1])
	}
	prompt := fmt.Sprintf("Delete image %s and all its data?", specs[0])
	if len(specs) > 1 {
		prompt = fmt.Sprintf("Delete %d images (%s) and all their data?", len(specs), strings.Join(specs, ", "))
	}
	if err := confirmOrRefuse(ctx, o.IOStreams, o.Yes, "delete "+strings.Join(specs, ", "), prompt); err != nil {
		return err
	}
	svc := o.f.Storage(o.ceph.Storage())
	var errs []error
	for i, im := range o.images {
		_, err := svc.DeleteImage(ctx, connect.NewRequest(&storagev1.DeleteImageRequest{PoolName: im[0], ImageName: im[1]}))
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if _, err := fmt.Fprintf(o.Out, "image %s deleted\n", specs[i]); err != nil {
			return err
		}
	}
	return lastError(o.ErrOut, errs)
}
