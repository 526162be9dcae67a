package plugin

import (
	"context"
	"fmt"
	"strings"

	"connectrpc.com/connect"
	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	instancev1 "github.com/otterscale/kubectl-otterscale/gen/otterscale/instance/v1"
)

var createExample = examples(`
	# A blank 10 GiB disk in the current namespace
	kubectl otterscale datavolume create scratch --size 10Gi

	# Import a cloud image over HTTPS, marked bootable
	kubectl otterscale dv create debian-12 --size 20Gi --boot-image \
	  --url https://cloud.debian.org/images/cloud/bookworm/latest/debian-12-generic-amd64.qcow2

	# Clone a claim from another namespace; the size defaults to the source's
	kubectl otterscale dv create web-disk -n vms --clone golden/debian-12

	# Ask for a storage class, access mode and volume mode
	kubectl otterscale dv create shared --size 5Gi --storage-class ceph-block --access-mode ReadWriteMany --volume-mode Block`)

// CreateOptions are the options of `datavolume create`.
type CreateOptions struct {
	genericiooptions.IOStreams
	PrintFlags PrintFlags

	Size         string
	Blank        bool
	URL          string
	Clone        string
	BootImage    bool
	StorageClass string
	AccessMode   string
	VolumeMode   string
	ForceBind    bool
	Wait         bool
	WaitFlags    WaitFlags

	f       *Factory
	request *instancev1.CreateDataVolumeRequest
}

// NewCmdCreate returns `kubectl otterscale datavolume create`.
func NewCmdCreate(f *Factory, streams genericiooptions.IOStreams) *cobra.Command {
	o := &CreateOptions{IOStreams: streams, f: f, WaitFlags: defaultWaitFlags()}
	cmd := &cobra.Command{
		Use:     "create NAME --size SIZE [--blank | --url URL | --clone [NAMESPACE/]CLAIM]",
		Short:   "Create a DataVolume: a blank disk, an HTTP(S) import or a clone",
		Example: createExample,
		Args:    exactArgs(1, "one DataVolume NAME"),
		RunE:    runE(o),
	}
	fl := cmd.Flags()
	fl.StringVar(&o.Size, "size", "", "Size of the disk, e.g. 10Gi or 1073741824 (required unless --clone)")
	fl.BoolVar(&o.Blank, "blank", false, "Create a blank disk (the default source)")
	fl.StringVar(&o.URL, "url", "", "Import from this http:// or https:// URL")
	fl.StringVar(&o.Clone, "clone", "", "Clone this claim: CLAIM in the same namespace, or NAMESPACE/CLAIM")
	fl.BoolVar(&o.BootImage, "boot-image", false, "Mark the DataVolume as a boot image (OtterScale's boot-image label)")
	fl.StringVar(&o.StorageClass, "storage-class", "", "Storage class (default: the cluster's default class)")
	fl.StringVar(&o.AccessMode, "access-mode", "", "Access mode: ReadWriteOnce (default), ReadOnlyMany, ReadWriteMany or ReadWriteOncePod")
	fl.StringVar(&o.VolumeMode, "volume-mode", "", "Volume mode: Filesystem or Block (default: the storage profile's)")
	fl.BoolVar(&o.ForceBind, "force-bind", false, "Bind the claim now even if the storage class waits for a first consumer (CDI's bind-immediate annotation)")
	fl.BoolVar(&o.Wait, "wait", false, "Follow the import until it ends, as `datavolume wait` does (exit codes likewise)")
	completeFlag(cmd, "clone", completeCloneSource(f))
	completeFlag(cmd, "storage-class", completeStorageClasses(f))
	completeFlag(cmd, "access-mode", fixed("ReadWriteOnce", "ReadOnlyMany", "ReadWriteMany", "ReadWriteOncePod"))
	completeFlag(cmd, "volume-mode", fixed("Filesystem", "Block"))
	o.WaitFlags.add(cmd, nil)
	o.PrintFlags.AddFlags(cmd, false)
	return cmd
}

// Complete turns the flags into the request. The namespace comes from the
// kubeconfig in Run, so that flag mistakes are reported without reading it.
func (o *CreateOptions) Complete(_ context.Context, args []string) error {
	o.request = &instancev1.CreateDataVolumeRequest{
		Name:            args[0],
		Source:          &instancev1.DataVolume_Source{Type: instancev1.DataVolume_Source_BLANK_IMAGE},
		BootImage:       o.BootImage,
		StorageClass:    o.StorageClass,
		AccessMode:      o.AccessMode,
		VolumeMode:      o.VolumeMode,
		BindImmediately: o.ForceBind,
	}
	switch {
	case o.URL != "":
		o.request.Source = &instancev1.DataVolume_Source{Type: instancev1.DataVolume_Source_HTTP_URL, Data: o.URL}
	case o.Clone != "":
		o.request.Source = &instancev1.DataVolume_Source{Type: instancev1.DataVolume_Source_EXISTING_PERSISTENT_VOLUME_CLAIM, Data: o.Clone}
	}
	if o.Size != "" {
		q, err := resource.ParseQuantity(o.Size)
		if err != nil {
			return usageErrorf("--size: %q is not a size such as 10Gi or 1073741824: %v", o.Size, err)
		}
		o.request.SizeBytes = q.Value()
	}
	return nil
}

// Validate checks what only the command line can get wrong; the service
// validates the request itself.
func (o *CreateOptions) Validate() error {
	var sources []string
	if o.Blank {
		sources = append(sources, "--blank")
	}
	if o.URL != "" {
		sources = append(sources, "--url")
	}
	if o.Clone != "" {
		sources = append(sources, "--clone")
	}
	if len(sources) > 1 {
		return usageErrorf("%s: give one source only", strings.Join(sources, ", "))
	}
	if o.Size != "" && o.request.GetSizeBytes() <= 0 {
		return usageErrorf("--size: must be positive, got %q", o.Size)
	}
	if o.Size == "" && o.Clone == "" {
		return usageErrorf("--size is required (e.g. --size 10Gi), except with --clone")
	}
	if err := o.WaitFlags.validate(); err != nil {
		return err
	}
	return o.PrintFlags.Validate()
}

// Run creates the DataVolume and prints it.
func (o *CreateOptions) Run(ctx context.Context) error {
	ns, err := o.f.Namespace()
	if err != nil {
		return err
	}
	o.request.Namespace = ns
	resp, err := o.f.Instance().CreateDataVolume(ctx, connect.NewRequest(o.request))
	if err != nil {
		return err
	}
	if o.PrintFlags.Output == "" {
		_, err = fmt.Fprintf(o.Out, "%s/%s created\n", dataVolumeResource, resp.Msg.GetName())
	} else {
		err = printDataVolumes(o.Out, o.PrintFlags, []*instancev1.DataVolume{resp.Msg}, false, true)
	}
	if err != nil || !o.Wait {
		return err
	}
	return waitFor(ctx, o.f, o.IOStreams, ns, o.request.GetName(), o.WaitFlags, o.PrintFlags.Output == "json", true)
}
