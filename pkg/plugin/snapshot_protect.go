package plugin

import (
	"context"

	"connectrpc.com/connect"
	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	storagev1 "github.com/otterscale/kubectl-otterscale/gen/otterscale/storage/v1"
	"github.com/otterscale/kubectl-otterscale/gen/otterscale/storage/v1/storagev1connect"
)

var snapshotProtectExample = examples(`
	# Protect a snapshot, so that it can be cloned and cannot be deleted
	kubectl otterscale snapshot protect replicapool/csi-vol-0a1b@golden

	# The snapshot of a claim's image
	kubectl otterscale snapshot protect golden --pvc web-disk -n vms`)

var snapshotUnprotectExample = examples(`
	# Unprotect a snapshot that has no clones, so that it can be deleted
	kubectl otterscale snapshot unprotect replicapool/csi-vol-0a1b@golden`)

// NewCmdSnapshotProtect returns `kubectl otterscale snapshot protect`.
func NewCmdSnapshotProtect(f *Factory, ceph *CephFlags, streams genericiooptions.IOStreams) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "protect POOL/IMAGE@SNAP | SNAP --pvc CLAIM",
		Short:   "Protect a snapshot from deletion, so that it can be cloned",
		Example: snapshotProtectExample,
	}
	return newSnapshotAction(f, ceph, streams, cmd, &SnapshotActionOptions{
		done: "protected",
		call: func(ctx context.Context, svc storagev1connect.StorageServiceHandler, pool, image, snap string) error {
			_, err := svc.ProtectImageSnapshot(ctx, connect.NewRequest(&storagev1.ProtectImageSnapshotRequest{
				PoolName: pool, ImageName: image, SnapshotName: snap,
			}))
			return err
		},
	})
}

// NewCmdSnapshotUnprotect returns `kubectl otterscale snapshot unprotect`.
func NewCmdSnapshotUnprotect(f *Factory, ceph *CephFlags, streams genericiooptions.IOStreams) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "unprotect POOL/IMAGE@SNAP | SNAP --pvc CLAIM",
		Short:   "Unprotect a snapshot that has no clones",
		Example: snapshotUnprotectExample,
	}
	return newSnapshotAction(f, ceph, streams, cmd, &SnapshotActionOptions{
		done: "unprotected",
		call: func(ctx context.Context, svc storagev1connect.StorageServiceHandler, pool, image, snap string) error {
			_, err := svc.UnprotectImageSnapshot(ctx, connect.NewRequest(&storagev1.UnprotectImageSnapshotRequest{
				PoolName: pool, ImageName: image, SnapshotName: snap,
			}))
			return err
		},
	})
}
