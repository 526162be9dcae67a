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

var snapshotDeleteExample = examples(`
	# Delete a snapshot; on a terminal, after asking
	kubectl otterscale snapshot delete replicapool/csi-vol-0a1b@before-upgrade

	# The snapshot of a claim's image, without asking
	kubectl otterscale snapshot delete before-upgrade --pvc web-disk -n vms --yes`)

// NewCmdSnapshotDelete returns `kubectl otterscale snapshot delete`.
func NewCmdSnapshotDelete(f *Factory, ceph *CephFlags, streams genericiooptions.IOStreams) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "delete POOL/IMAGE@SNAP | SNAP --pvc CLAIM",
		Aliases: []string{"rm"},
		Short:   "Delete a snapshot",
		Long: `Delete an RBD snapshot. A protected snapshot must be unprotected first.

When stdin and stdout are terminals it asks for confirmation first, unless --yes;
off a terminal (scripts, pipes) it deletes without asking, as kubectl delete does.`,
		Example: snapshotDeleteExample,
	}
	return newSnapshotAction(f, ceph, streams, cmd, &SnapshotActionOptions{
		done: "deleted",
		prompt: func(pool, image, snap string) string {
			return fmt.Sprintf("Delete snapshot %s?", snapshotSpec(pool, image, snap))
		},
		call: func(ctx context.Context, svc storagev1connect.StorageServiceHandler, pool, image, snap string) error {
			_, err := svc.DeleteImageSnapshot(ctx, connect.NewRequest(&storagev1.DeleteImageSnapshotRequest{
				PoolName: pool, ImageName: image, SnapshotName: snap,
			}))
			return err
		},
	})
}
