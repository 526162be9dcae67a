// Package instance owns DataVolumes: it implements the API's InstanceService
// over CDI's typed clientset. The CLI calls it in-process and the proxy
// mounts it as a Connect handler; both see the same validation, the same
// messages and the same errors.
package instance

import (
	"context"
	"fmt"
	"strconv"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/emptypb"
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	cdiv1 "kubevirt.io/containerized-data-importer-api/pkg/apis/core/v1beta1"

	instancev1 "github.com/otterscale/kubectl-otterscale/gen/otterscale/instance/v1"
	"github.com/otterscale/kubectl-otterscale/gen/otterscale/instance/v1/instancev1connect"
	"github.com/otterscale/kubectl-otterscale/pkg/cluster"
)

// Service implements InstanceService.
type Service struct {
	// Embedded so that methods added to the API later answer unimplemented
	// until this package implements them.
	instancev1connect.UnimplementedInstanceServiceHandler

	clusters cluster.Provider
	// watchList, when set, says whether Watch's first lists stream (see
	// watcher.start); nil leaves it to client-go.
	watchList *bool
}

var _ instancev1connect.InstanceServiceHandler = (*Service)(nil)

// New returns the service over the clusters that clusters hands out.
func New(clusters cluster.Provider) *Service {
	return &Service{clusters: clusters}
}

// CreateDataVolume validates the request in full before anything is
// written, then creates the DataVolume and answers with it as stored.
func (s *Service) CreateDataVolume(ctx context.Context, req *connect.Request[instancev1.CreateDataVolumeRequest]) (*connect.Response[instancev1.DataVolume], error) {
	r := req.Msg
	if err := validateCreate(r); err != nil {
		return nil, err
	}
	c, err := s.clusters.Clients(ctx, r.GetScope())
	if err != nil {
		return nil, err
	}
	ns, name := r.GetNamespace(), r.GetName()
	op := fmt.Sprintf("create data volume %q in namespace %q", name, ns)

	source := &cdiv1.DataVolumeSource{}
	switch r.GetSource().GetType() {
	case instancev1.DataVolume_Source_HTTP_URL:
		source.HTTP = &cdiv1.DataVolumeSourceHTTP{URL: r.GetSource().GetData()}
	case instancev1.DataVolume_Source_EXISTING_PERSISTENT_VOLUME_CLAIM:
		srcNS, srcName, _ := parseClaimRef("source.data", r.GetSource().GetData(), ns)
		if _, err := c.Core.PersistentVolumeClaims(srcNS).Get(ctx, srcName, metav1.GetOptions{}); err != nil {
			if apierrors.IsNotFound(err) {
				return nil, connect.NewError(connect.CodeNotFound,
					fmt.Errorf("%s: source claim %q not found in namespace %q", op, srcName, srcNS))
			}
			return nil, cluster.Error(err, fmt.Sprintf("%s: read source claim %q in namespace %q", op, srcName, srcNS))
		}
		source.PVC = &cdiv1.DataVolumeSourcePVC{Namespace: srcNS, Name: srcName}
	default:
		source.Blank = &cdiv1.DataVolumeBlankImage{}
	}

	// CDI would refuse to adopt a claim it did not create, leaving a
	// DataVolume that never completes: refuse up front instead.
	switch _, err := c.Core.PersistentVolumeClaims(ns).Get(ctx, name, metav1.GetOptions{}); {
	case err == nil:
		return nil, connect.NewError(connect.CodeAlreadyExists,
			fmt.Errorf("%s: a claim named %q already exists in namespace %q", op, name, ns))
	case apierrors.IsNotFound(err), apierrors.IsForbidden(err):
	default:
		return nil, cluster.Error(err, op)
	}

	mode := corev1.ReadWriteOnce
	if m := r.GetAccessMode(); m != "" {
		mode = corev1.PersistentVolumeAccessMode(m)
	}
	storage := &cdiv1.StorageSpec{AccessModes: []corev1.PersistentVolumeAccessMode{mode}}
	if size := r.GetSizeBytes(); size > 0 {
		storage.Resources.Requests = corev1.ResourceList{
			corev1.ResourceStorage: *resource.NewQuantity(size, resource.BinarySI),
		}
	}
	if sc := r.GetStorageClass(); sc != "" {
		storage.StorageClassName = &sc
	}
	if vm := r.GetVolumeMode(); vm != "" {
		m := corev1.PersistentVolumeMode(vm)
		storage.VolumeMode = &m
	}
	dv := &cdiv1.DataVolume{
		ObjectMeta: metav1.ObjectMeta{
			Name:      name,
			Namespace: ns,
			Labels:    map[string]string{BootImageLabel: strconv.FormatBool(r.GetBootImage())},
		},
		Spec: cdiv1.DataVolumeSpec{Source: source, Storage: storage},
	}
	if r.GetBindImmediately() {
		dv.Annotations = map[string]string{BindImmediateAnnotation: "true"}
	}
	created, err := c.CDI.CdiV1beta1().DataVolumes(ns).Create(ctx, dv, metav1.CreateOptions{})
	if err != nil {
		if apierrors.IsAlreadyExists(err) {
			return nil, connect.NewError(connect.CodeAlreadyExists,
				fmt.Errorf("%s: a data volume of that name already exists", op))
		}
		return nil, cluster.Error(err, op)
	}
	return connect.NewResponse(toDataVolume(created, nil, nil)), nil
}

// GetDataVolume answers one DataVolume with its claim and storage class.
func (s *Service) GetDataVolume(ctx context.Context, req *connect.Request[instancev1.GetDataVolumeRequest]) (*connect.Response[instancev1.DataVolume], error) {
	r := req.Msg
	if err := validateRef(r.GetNamespace(), r.GetName()); err != nil {
		return nil, err
	}
	c, err := s.clusters.Clients(ctx, r.GetScope())
	if err != nil {
		return nil, err
	}
	dv, err := getDataVolume(ctx, c, "get", r.GetNamespace(), r.GetName())
	if err != nil {
		return nil, err
	}
	// The claim and class are extras: a user who may read DataVolumes but
	// not claims or classes still gets the DataVolume.
	var sc *storagev1.StorageClass
	pvc, err := c.Core.PersistentVolumeClaims(dv.Namespace).Get(ctx, claimName(dv), metav1.GetOptions{})
	if err != nil {
		pvc = nil
	} else if n := deref(pvc.Spec.StorageClassName); n != "" {
		if sc, err = c.Storage.StorageClasses().Get(ctx, n, metav1.GetOptions{}); err != nil {
			sc = nil
		}
	}
	return connect.NewResponse(toDataVolume(dv, pvc, sc)), nil
}

// ListDataVolumes answers the DataVolumes of a namespace, or of every
// namespace when it is empty, joined with their claims and classes in three
// requests however many there are.
func (s *Service) ListDataVolumes(ctx context.Context, req *connect.Request[instancev1.ListDataVolumesRequest]) (*connect.Response[instancev1.ListDataVolumesResponse], error) {
	r := req.Msg
	ns := r.GetNamespace()
	if ns != "" {
		if err := validateNamespace("namespace", ns); err != nil {
			return nil, err
		}
	}
	var selector string
	switch r.GetFilter() {
	case instancev1.DataVolumeFilter_ALL:
	case instancev1.DataVolumeFilter_BOOTABLE:
		selector = BootImageLabel + "=true"
	case instancev1.DataVolumeFilter_NON_BOOTABLE:
		selector = BootImageLabel + "!=true"
	default:
		return nil, invalid("filter", "unknown filter %d: use ALL, BOOTABLE or NON_BOOTABLE", int32(r.GetFilter()))
	}
	c, err := s.clusters.Clients(ctx, r.GetScope())
	if err != nil {
		return nil, err
	}
	dvs, err := c.CDI.CdiV1beta1().DataVolumes(ns).List(ctx, metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		where := fmt.Sprintf("in namespace %q", ns)
		if ns == "" {
			where = "in all namespaces"
		}
		return nil, cluster.Error(err, "list data volumes "+where)
	}
	claims := map[string]*corev1.PersistentVolumeClaim{}
	classes := map[string]*storagev1.StorageClass{}
	if len(dvs.Items) > 0 {
		if list, err := c.Core.PersistentVolumeClaims(ns).List(ctx, metav1.ListOptions{}); err == nil {
			for i := range list.Items {
				p := &list.Items[i]
				claims[p.Namespace+"/"+p.Name] = p
			}
		}
		if list, err := c.Storage.StorageClasses().List(ctx, metav1.ListOptions{}); err == nil {
			for i := range list.Items {
				classes[list.Items[i].Name] = &list.Items[i]
			}
		}
	}
	resp := &instancev1.ListDataVolumesResponse{DataVolumes: make([]*instancev1.DataVolume, 0, len(dvs.Items))}
	for i := range dvs.Items {
		dv := &dvs.Items[i]
		pvc := claims[dv.Namespace+"/"+claimName(dv)]
		var sc *storagev1.StorageClass
		if pvc != nil {
			sc = classes[deref(pvc.Spec.StorageClassName)]
		}
		resp.DataVolumes = append(resp.DataVolumes, toDataVolume(dv, pvc, sc))
	}
	return connect.NewResponse(resp), nil
}

// DeleteDataVolume deletes a DataVolume; CDI's owner reference on the claim
// lets the garbage collector delete the claim after it.
func (s *Service) DeleteDataVolume(ctx context.Context, req *connect.Request[instancev1.DeleteDataVolumeRequest]) (*connect.Response[emptypb.Empty], error) {
	r := req.Msg
	if err := validateRef(r.GetNamespace(), r.GetName()); err != nil {
		return nil, err
	}
	c, err := s.clusters.Clients(ctx, r.GetScope())
	if err != nil {
		return nil, err
	}
	background := metav1.DeletePropagationBackground
	err = c.CDI.CdiV1beta1().DataVolumes(r.GetNamespace()).Delete(ctx, r.GetName(), metav1.DeleteOptions{PropagationPolicy: &background})
	if err != nil {
		return nil, dataVolumeError(err, "delete", r.GetNamespace(), r.GetName())
	}
	return connect.NewResponse(&emptypb.Empty{}), nil
}

func validateRef(ns, name string) error {
	if err := validateNamespace("namespace", ns); err != nil {
		return err
	}
	return validateName("name", name)
}

func getDataVolume(ctx context.Context, c *cluster.Clients, verb, ns, name string) (*cdiv1.DataVolume, error) {
	dv, err := c.CDI.CdiV1beta1().DataVolumes(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil, dataVolumeError(err, verb, ns, name)
	}
	return dv, nil
}

// dataVolumeError words a missing DataVolume the way a user would look for
// it; every other error is the cluster's.
func dataVolumeError(err error, verb, ns, name string) error {
	if apierrors.IsNotFound(err) && !cluster.IsMissingResource(err) {
		return connect.NewError(connect.CodeNotFound,
			fmt.Errorf("%s data volume: data volume %q not found in namespace %q", verb, name, ns))
	}
	return cluster.Error(err, fmt.Sprintf("%s data volume %q in namespace %q", verb, name, ns))
}

// claimName is the DataVolume's claim: CDI names it after the DataVolume and
// records it in status.claimName.
func claimName(dv *cdiv1.DataVolume) string {
	if dv.Status.ClaimName != "" {
		return dv.Status.ClaimName
	}
	return dv.Name
}
