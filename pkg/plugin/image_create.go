package plugin

import (
	"context"
	"fmt"
	"strings"

	"connectrpc.com/connect"
	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	storagev1 "github.com/otterscale/kubectl-otterscale/gen/otterscale/storage/v1"
)

var imageCreateExample = examples(`
	# A 20 GiB image with Ceph's default features
	kubectl otterscale image create replicapool/scratch --size 20Gi

	# With 1 MiB objects, striped 64 KiB over 4 objects, layering and exclusive-lock only
	kubectl otterscale image create replicapool/db --size 100Gi --object-size 1Mi \
	  --stripe-unit 64Ki --stripe-count 4 --features layering,exclusive-lock`)

// imageFeatureNames are --features' values, rbd's names.
var imageFeatureNames = []string{"layering", "exclusive-lock", "object-map", "fast-diff", "deep-flatten"}

// ImageCreateOptions are the options of `image create`.
type ImageCreateOptions struct {
	genericiooptions.IOStreams
	PrintFlags  PrintFlags
	Size        string
	ObjectSize  string
	StripeUnit  string
	StripeCount uint64
	Features    []string

	f       *Factory
	ceph    *CephFlags
	request storagev1.CreateImageRequest
}

// NewCmdImageCreate returns `kubectl otterscale image create`.
func NewCmdImageCreate(f *Factory, ceph *CephFlags, streams genericiooptions.IOStreams) *cobra.Command {
	o := &ImageCreateOptions{IOStreams: streams, f: f, ceph: ceph}
	cmd := &cobra.Command{
		Use:   "create POOL/IMAGE --size SIZE",
		Short: "Create an RBD image",
		Long: `Create an RBD image (format 2). Without --features it gets Ceph's default features
(rbd_default_features); with it, exactly those named. object-map needs exclusive-lock, and
fast-diff needs object-map. Sizes take binary suffixes: Ki, Mi, Gi, Ti.`,
		Example:           imageCreateExample,
		Args:              exactArgs(1, imageSpecForm),
		RunE:              runCeph(f, o),
		ValidArgsFunction: completeImageSpecs(f, ceph, true),
	}
	fs := cmd.Flags()
	fs.StringVar(&o.Size, "size", "", "The image's size, e.g. 20Gi (required)")
	fs.StringVar(&o.ObjectSize, "object-size", "", "Object size, a power of two from 4Ki to 32Mi (default Ceph's, 4Mi)")
	fs.StringVar(&o.StripeUnit, "stripe-unit", "", "Stripe unit, a factor of the object size (with --stripe-count)")
	fs.Uint64Var(&o.StripeCount, "stripe-count", 0, "Objects a stripe spans (with --stripe-unit)")
	fs.StringSliceVar(&o.Features, "features", nil, "Features to enable, comma-separated: "+strings.Join(imageFeatureNames, ", ")+" (default Ceph's)")
	completeFlag(cmd, "features", fixed(imageFeatureNames...))
	o.PrintFlags.AddFlags(cmd, false)
	return withCephNote(cmd)
}

// parseBytes reads a size flag: a Kubernetes quantity, e.g. 20Gi.
func parseBytes(flag, value string) (uint64, error) {
	q, err := resource.ParseQuantity(value)
	if err != nil {
		return 0, usageErrorf("--%s: %q is not a size such as 20Gi or 21474836480: %v", flag, value, err)
	}
	if q.Sign() <= 0 {
		return 0, usageErrorf("--%s: must be positive, got %q", flag, value)
	}
	return uint64(q.Value()), nil
}

// Complete parses the image and the sizes.
func (o *ImageCreateOptions) Complete(_ context.Context, args []string) error {
	r := &o.request
	var err error
	if r.PoolName, r.ImageName, err = parseImageSpec(args[0]); err != nil {
		return err
	}
	if o.Size == "" {
		return usageErrorf("--size is required (e.g. --size 20Gi)")
	}
	if r.QuotaBytes, err = parseBytes("size", o.Size); err != nil {
		return err
	}
	if o.ObjectSize != "" {
		if r.ObjectSizeBytes, err = parseBytes("object-size", o.ObjectSize); err != nil {
			return err
		}
	}
	if o.StripeUnit != "" {
		if r.StripeUnitBytes, err = parseBytes("stripe-unit", o.StripeUnit); err != nil {
			return err
		}
	}
	r.StripeCount = o.StripeCount
	for _, name := range o.Features {
		switch strings.TrimSpace(name) {
		case "layering":
			r.Layering = true
		case "exclusive-lock":
			r.ExclusiveLock = true
		case "object-map":
			r.ObjectMap = true
		case "fast-diff":
			r.FastDiff = true
		case "deep-flatten":
			r.DeepFlatten = true
		default:
			return usageErrorf("--features: unknown feature %q: use %s", name, strings.Join(imageFeatureNames, ", "))
		}
	}
	return nil
}

// Validate checks the flags; the service checks the layout's rules.
func (o *ImageCreateOptions) Validate() error {
	if err := o.ceph.Validate(); err != nil {
		return err
	}
	return o.PrintFlags.Validate()
}

// Run creates the image and prints it.
func (o *ImageCreateOptions) Run(ctx context.Context) error {
	resp, err := o.f.Storage(o.ceph.Storage()).CreateImage(ctx, connect.NewRequest(&o.request))
	if err != nil {
		return err
	}
	if o.PrintFlags.Output == "" {
		_, err = fmt.Fprintf(o.Out, "image %s created\n", imageSpec(o.request.GetPoolName(), o.request.GetImageName()))
		return err
	}
	return printImages(o.Out, o.PrintFlags, []*storagev1.Image{resp.Msg})
}
