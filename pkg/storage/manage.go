package storage

import (
	"context"
	"math/bits"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/emptypb"

	storagev1 "github.com/otterscale/kubectl-otterscale/gen/otterscale/storage/v1"
)

// ListPools answers the cluster's pools, or those enabled for one
// application.
func (s *Service) ListPools(ctx context.Context, req *connect.Request[storagev1.ListPoolsRequest]) (*connect.Response[storagev1.ListPoolsResponse], error) {
	r := req.Msg
	if a := r.GetApplication(); storagev1.Pool_Application_name[int32(a)] == "" {
		return nil, invalid("application", "%d is not a Pool.Application (APPLICATION_BLOCK, APPLICATION_FILE, APPLICATION_OBJECT, or unspecified for every pool)", a)
	}
	w, err := s.worker(ctx, r.GetScope())
	if err != nil {
		return nil, err
	}
	return w.Storage.ListPools(ctx, req)
}

// The object sizes rbd accepts: 4 KiB to 32 MiB, powers of two (rbd
// create --object-size; librbd's order 12 to 25).
const (
	MinObjectSize = 4 << 10
	MaxObjectSize = 32 << 20
	// defaultObjectSize is librbd's default order, 22.
	defaultObjectSize = 4 << 20
)

// CreateImage creates an RBD image and answers with it as Ceph reports it.
func (s *Service) CreateImage(ctx context.Context, req *connect.Request[storagev1.CreateImageRequest]) (*connect.Response[storagev1.Image], error) {
	r := req.Msg
	if err := validateImageRef(r.GetPoolName(), r.GetImageName()); err != nil {
		return nil, err
	}
	if err := validateLayout(r); err != nil {
		return nil, err
	}
	w, err := s.worker(ctx, r.GetScope())
	if err != nil {
		return nil, err
	}
	return w.Storage.CreateImage(ctx, req)
}

// validateLayout checks size, object size, striping and the features'
// dependencies as librbd would, so that the caller learns which field
// breaks which rule (librbd itself answers a bare EINVAL).
func validateLayout(r *storagev1.CreateImageRequest) error {
	if r.GetQuotaBytes() == 0 {
		return invalid("quota_bytes", "the image size is required and must be positive")
	}
	obj := r.GetObjectSizeBytes()
	if obj != 0 && (bits.OnesCount64(obj) != 1 || obj < MinObjectSize || obj > MaxObjectSize) {
		return invalid("object_size_bytes", "%d is not a power of two from %d (4 KiB) to %d (32 MiB)", obj, MinObjectSize, MaxObjectSize)
	}
	if obj == 0 {
		obj = defaultObjectSize
	}
	unit, count := r.GetStripeUnitBytes(), r.GetStripeCount()
	switch {
	case (unit == 0) != (count == 0):
		return invalid("stripe_unit_bytes", "give both stripe_unit_bytes and stripe_count, or neither (got %d and %d)", unit, count)
	case unit != 0 && obj%unit != 0:
		return invalid("stripe_unit_bytes", "%d is not a factor of the object size, %d", unit, obj)
	}
	switch {
	case r.GetObjectMap() && !r.GetExclusiveLock():
		return invalid("object_map", "object-map needs exclusive-lock")
	case r.GetFastDiff() && !r.GetObjectMap():
		return invalid("fast_diff", "fast-diff needs object-map")
	}
	return nil
}

// UpdateImage resizes an image to quota_bytes. A shrink needs allow_shrink
// and an image nobody uses; the worker, which sees the current size and
// the image's users, says so.
func (s *Service) UpdateImage(ctx context.Context, req *connect.Request[storagev1.UpdateImageRequest]) (*connect.Response[storagev1.Image], error) {
	r := req.Msg
	if err := validateImageRef(r.GetPoolName(), r.GetImageName()); err != nil {
		return nil, err
	}
	if r.GetQuotaBytes() == 0 {
		return nil, invalid("quota_bytes", "the new image size is required and must be positive")
	}
	w, err := s.worker(ctx, r.GetScope())
	if err != nil {
		return nil, err
	}
	return w.Storage.UpdateImage(ctx, req)
}

// DeleteImage deletes an image that has no snapshots, clones or users.
func (s *Service) DeleteImage(ctx context.Context, req *connect.Request[storagev1.DeleteImageRequest]) (*connect.Response[emptypb.Empty], error) {
	r := req.Msg
	if err := validateImageRef(r.GetPoolName(), r.GetImageName()); err != nil {
		return nil, err
	}
	w, err := s.worker(ctx, r.GetScope())
	if err != nil {
		return nil, err
	}
	return w.Storage.DeleteImage(ctx, req)
}
