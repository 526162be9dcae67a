package plugin

import (
	"context"
	"fmt"

	"connectrpc.com/connect"
	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	storagev1 "github.com/otterscale/kubectl-otterscale/gen/otterscale/storage/v1"
)

var snapshotListExample = examples(`
	# Snapshots of an image, oldest first
	kubectl otterscale snapshot list replicapool/csi-vol-0a1b

	# Of the image behind a claim, with exact byte counts
	kubectl otterscale snapshot list --pvc web-disk -n vms -o wide

	# One POOL/IMAGE@SNAP per line, for scripts
	kubectl otterscale snap ls replicapool/csi-vol-0a1b -o name`)

// SnapshotListOptions are the options of `snapshot list`.
type SnapshotListOptions struct {
	genericiooptions.IOStreams
	PrintFlags PrintFlags

	target snapshotTarget
}

// NewCmdSnapshotList returns `kubectl otterscale snapshot list`.
func NewCmdSnapshotList(f *Factory, ceph *CephFlags, streams genericiooptions.IOStreams) *cobra.Command {
	o := &SnapshotListOptions{IOStreams: streams, target: snapshotTarget{f: f, ceph: ceph}}
	cmd := &cobra.Command{
		Use:     "list POOL/IMAGE | --pvc CLAIM",
		Aliases: []string{"ls"},
		Short:   "List an image's snapshots with their size and the space they use",
		Long: `List an RBD image's snapshots, oldest first: whether each is protected, the image's
size when it was taken, and the space it uses as rbd du counts it (the data written
between the previous snapshot and this one, in whole objects).`,
		Example: snapshotListExample,
		RunE:    runCeph(f, o),
	}
	o.target.addFlags(cmd, false)
	cmd.ValidArgsFunction = o.target.completeSpec(imageForm)
	o.PrintFlags.AddFlags(cmd, true)
	return withCephNote(cmd)
}

// Complete parses the image's name.
func (o *SnapshotListOptions) Complete(_ context.Context, args []string) error {
	return o.target.parse(args, false)
}

// Validate checks the flags.
func (o *SnapshotListOptions) Validate() error {
	if err := o.target.ceph.Validate(); err != nil {
		return err
	}
	return o.PrintFlags.Validate()
}

// Run lists and prints.
func (o *SnapshotListOptions) Run(ctx context.Context) error {
	t := &o.target
	if err := t.resolve(ctx); err != nil {
		return err
	}
	resp, err := t.service().ListImageSnapshots(ctx, connect.NewRequest(&storagev1.ListImageSnapshotsRequest{
		PoolName: t.pool, ImageName: t.image,
	}))
	if err != nil {
		return err
	}
	snaps := resp.Msg.GetSnapshots()
	if len(snaps) == 0 && (o.PrintFlags.Output == "" || o.PrintFlags.Output == "wide") {
		_, err := fmt.Fprintf(o.ErrOut, "No snapshots found of %s.\n", t)
		return err
	}
	return printSnapshots(o.Out, o.PrintFlags, t.pool, t.image, snaps, false)
}
