package plugin

import (
	"context"
	"fmt"

	"connectrpc.com/connect"
	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	storagev1 "github.com/otterscale/kubectl-otterscale/gen/otterscale/storage/v1"
)

var snapshotCreateExample = examples(`
	# Snapshot an image, naming it as rbd does
	kubectl otterscale snapshot create replicapool/csi-vol-0a1b@before-upgrade

	# Snapshot the image behind a claim
	kubectl otterscale snapshot create before-upgrade --pvc web-disk -n vms

	# The snapshot as the API's JSON: its size and what rbd du counts for it
	kubectl otterscale snap create replicapool/csi-vol-0a1b@nightly -o json`)

// SnapshotCreateOptions are the options of `snapshot create`.
type SnapshotCreateOptions struct {
	genericiooptions.IOStreams
	PrintFlags PrintFlags

	target snapshotTarget
}

// NewCmdSnapshotCreate returns `kubectl otterscale snapshot create`.
func NewCmdSnapshotCreate(f *Factory, ceph *CephFlags, streams genericiooptions.IOStreams) *cobra.Command {
	o := &SnapshotCreateOptions{IOStreams: streams, target: snapshotTarget{f: f, ceph: ceph}}
	cmd := &cobra.Command{
		Use:     "create POOL/IMAGE@SNAP | SNAP --pvc CLAIM",
		Short:   "Create a snapshot of an RBD image",
		Example: snapshotCreateExample,
		RunE:    runCeph(f, o),
	}
	o.target.addFlags(cmd, true)
	cmd.ValidArgsFunction = o.target.completeSpec(newSnapshotForm)
	o.PrintFlags.AddFlags(cmd, false)
	return withCephNote(cmd)
}

// Complete parses the snapshot's name.
func (o *SnapshotCreateOptions) Complete(_ context.Context, args []string) error {
	return o.target.parse(args, true)
}

// Validate checks the flags.
func (o *SnapshotCreateOptions) Validate() error {
	if err := o.target.ceph.Validate(); err != nil {
		return err
	}
	return o.PrintFlags.Validate()
}

// Run creates the snapshot and prints it.
func (o *SnapshotCreateOptions) Run(ctx context.Context) error {
	t := &o.target
	if err := t.resolve(ctx); err != nil {
		return err
	}
	resp, err := t.service().CreateImageSnapshot(ctx, connect.NewRequest(&storagev1.CreateImageSnapshotRequest{
		PoolName: t.pool, ImageName: t.image, SnapshotName: t.snap,
	}))
	if err != nil {
		return err
	}
	if o.PrintFlags.Output == "" {
		_, err = fmt.Fprintf(o.Out, "snapshot %s created\n", t)
		return err
	}
	return printSnapshots(o.Out, o.PrintFlags, t.pool, t.image, []*storagev1.Image_Snapshot{resp.Msg}, true)
}
