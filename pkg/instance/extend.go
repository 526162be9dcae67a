package instance

import (
	"context"
	"fmt"
	"strings"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/emptypb"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	instancev1 "github.com/otterscale/kubectl-otterscale/gen/otterscale/instance/v1"
	"github.com/otterscale/kubectl-otterscale/pkg/cluster"
)

// ExtendDataVolume grows the DataVolume's claim, as upstream does, by
// patching the claim's storage request; the CSI driver and kubelet then
// grow the volume and file system. It checks first what Kubernetes would
// otherwise refuse with a less helpful message.
func (s *Service) ExtendDataVolume(ctx context.Context, req *connect.Request[instancev1.ExtendDataVolumeRequest]) (*connect.Response[emptypb.Empty], error) {
	r := req.Msg
	if err := validateRef(r.GetNamespace(), r.GetName()); err != nil {
		return nil, err
	}
	if err := validateSize("size_bytes", r.GetSizeBytes(), true); err != nil {
		return nil, err
	}
	c, err := s.clusters.Clients(ctx, r.GetScope())
	if err != nil {
		return nil, err
	}
	ns, name := r.GetNamespace(), r.GetName()
	op := fmt.Sprintf("extend data volume %q in namespace %q", name, ns)
	dv, err := getDataVolume(ctx, c, "extend", ns, name)
	if err != nil {
		return nil, err
	}
	claims := c.Core.PersistentVolumeClaims(ns)
	pvc, err := claims.Get(ctx, claimName(dv), metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return nil, connect.NewError(connect.CodeFailedPrecondition,
			fmt.Errorf("%s: its claim %q does not exist yet; CDI creates it, try again once it has", op, claimName(dv)))
	case err != nil:
		return nil, cluster.Error(err, op)
	}
	want := resource.NewQuantity(r.GetSizeBytes(), resource.BinarySI)
	if cur, ok := pvc.Spec.Resources.Requests[corev1.ResourceStorage]; ok && want.Cmp(cur) <= 0 {
		return nil, invalid("size_bytes", "%s is not larger than the claim's current %s: claims can only grow", want, &cur)
	}
	if pvc.Status.Phase != corev1.ClaimBound {
		return nil, connect.NewError(connect.CodeFailedPrecondition,
			fmt.Errorf("%s: claim %q is %s, and only a bound claim can be extended", op, pvc.Name, phaseOrPending(pvc.Status.Phase)))
	}
	if n := deref(pvc.Spec.StorageClassName); n != "" {
		if sc, err := c.Storage.StorageClasses().Get(ctx, n, metav1.GetOptions{}); err == nil &&
			(sc.AllowVolumeExpansion == nil || !*sc.AllowVolumeExpansion) {
			return nil, connect.NewError(connect.CodeFailedPrecondition,
				fmt.Errorf("%s: storage class %q does not allow volume expansion (allowVolumeExpansion is not true)", op, n))
		}
	}
	patch := fmt.Sprintf(`{"spec":{"resources":{"requests":{"storage":%q}}}}`, want.String())
	if _, err := claims.Patch(ctx, pvc.Name, types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
		// The resize admission plugin answers 403 for a class that cannot
		// grow: that is the claim's state, not the user's permissions.
		if apierrors.IsForbidden(err) && strings.Contains(err.Error(), "resize") {
			return nil, connect.NewError(connect.CodeFailedPrecondition, fmt.Errorf("%s: %w", op, err))
		}
		return nil, cluster.Error(err, op)
	}
	return connect.NewResponse(&emptypb.Empty{}), nil
}

func phaseOrPending(p corev1.PersistentVolumeClaimPhase) string {
	if p == "" {
		return string(corev1.ClaimPending)
	}
	return string(p)
}
