package storage

import (
	"context"
	"fmt"
	"strings"

	"connectrpc.com/connect"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/otterscale/kubectl-otterscale/pkg/cluster"
)

// ResolveClaim finds the RBD image behind a ceph-csi claim: the claim names
// its PersistentVolume, whose spec.csi.volumeAttributes carry the pool and
// image that ceph-csi provisioned.
func ResolveClaim(ctx context.Context, clients *cluster.Clients, namespace, claim string) (pool, image string, err error) {
	op := fmt.Sprintf("find the RBD image of claim %q in namespace %q", claim, namespace)
	pvc, err := clients.Core.PersistentVolumeClaims(namespace).Get(ctx, claim, metav1.GetOptions{})
	if err != nil {
		if apierrors.IsNotFound(err) {
			return "", "", connect.NewError(connect.CodeNotFound, fmt.Errorf("%s: no such claim", op))
		}
		return "", "", cluster.Error(err, op)
	}
	if pvc.Spec.VolumeName == "" {
		return "", "", connect.NewError(connect.CodeFailedPrecondition,
			fmt.Errorf("%s: the claim is %s and has no volume yet", op, orPending(string(pvc.Status.Phase))))
	}
	pv, err := clients.Core.PersistentVolumes().Get(ctx, pvc.Spec.VolumeName, metav1.GetOptions{})
	if err != nil {
		if apierrors.IsNotFound(err) {
			return "", "", connect.NewError(connect.CodeFailedPrecondition, fmt.Errorf("%s: its volume %q does not exist", op, pvc.Spec.VolumeName))
		}
		return "", "", cluster.Error(err, fmt.Sprintf("%s: read volume %q", op, pvc.Spec.VolumeName))
	}
	csi := pv.Spec.CSI
	if csi == nil || !strings.HasSuffix(csi.Driver, "rbd.csi.ceph.com") {
		driver := "not a CSI volume"
		if csi != nil {
			driver = "driver " + csi.Driver
		}
		return "", "", connect.NewError(connect.CodeFailedPrecondition,
			fmt.Errorf("%s: volume %q is not a ceph-csi RBD volume (%s)", op, pv.Name, driver))
	}
	pool, image = csi.VolumeAttributes["pool"], csi.VolumeAttributes["imageName"]
	if pool == "" || image == "" {
		return "", "", connect.NewError(connect.CodeFailedPrecondition,
			fmt.Errorf("%s: volume %q lacks the pool or imageName attribute that ceph-csi sets", op, pv.Name))
	}
	return pool, image, nil
}

func orPending(phase string) string {
	if phase == "" {
		return "Pending"
	}
	return phase
}
