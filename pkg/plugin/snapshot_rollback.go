package plugin

import (
	"context"
	"fmt"

	"connectrpc.com/connect"
	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	storagev1 "github.com/otterscale/kubectl-otterscale/gen/otterscale/storage/v1"
	"github.com/otterscale/kubectl-otterscale/gen/otterscale/storage/v1/storagev1connect"
)

var snapshotRollbackExample = examples(`
	# Roll an image back to a snapshot; on a terminal, after asking
	kubectl otterscale snapshot rollback replicapool/csi-vol-0a1b@before-upgrade

	# A claim's image, from a script (no question is asked off a terminal)
	kubectl otterscale snapshot rollback before-upgrade --pvc web-disk -n vms`)

// NewCmdSnapshotRollback returns `kubectl otterscale snapshot rollback`.
func NewCmdSnapshotRollback(f *Factory, ceph *CephFlags, streams genericiooptions.IOStreams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "rollback POOL/IMAGE@SNAP | SNAP --pvc CLAIM",
		Short: "Roll an image back to a snapshot, discarding what was written since",
		Long: `Roll an RBD image back to one of its snapshots: everything written to the image since
the snapshot is lost. The image must not be in use: stop the VM (or whatever mounts the
claim) first.

When stdin and stdout are terminals it asks for confirmation first, unless --yes;
off a terminal (scripts, pipes) it rolls back without asking, as kubectl delete does.`,
		Example: snapshotRollbackExample,
	}
	return newSnapshotAction(f, ceph, streams, cmd, &SnapshotActionOptions{
		done: "rolled back",
		prompt: func(pool, image, snap string) string {
			return fmt.Sprintf("Roll back %s to %s? This discards everything written since.", imageSpec(pool, image), snap)
		},
		call: func(ctx context.Context, svc storagev1connect.StorageServiceHandler, pool, image, snap string) error {
			_, err := svc.RollbackImageSnapshot(ctx, connect.NewRequest(&storagev1.RollbackImageSnapshotRequest{
				PoolName: pool, ImageName: image, SnapshotName: snap,
			}))
			return err
		},
	})
}
