//go:build cgo && pacific

package ceph

import (
	"context"
	"fmt"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/emptypb"

	workerv1 "github.com/otterscale/kubectl-otterscale/gen/kubectlotterscale/worker/v1"
	"github.com/otterscale/kubectl-otterscale/gen/kubectlotterscale/worker/v1/workerv1connect"
	storagev1 "github.com/otterscale/kubectl-otterscale/gen/otterscale/storage/v1"
	"github.com/otterscale/kubectl-otterscale/gen/otterscale/storage/v1/storagev1connect"
	"github.com/otterscale/kubectl-otterscale/pkg/cephconf"
	"github.com/otterscale/kubectl-otterscale/pkg/worker"
)

// Connect connects to the cluster cfg describes and answers the handlers
// the worker serves. Requests come from kubectl-otterscale, which has
// validated them and picked this worker by their scope.
func Connect(cfg cephconf.Config) (worker.Handlers, error) {
	c, err := dial(&cfg)
	if err != nil {
		return worker.Handlers{}, err
	}
	s := &service{c: c}
	return worker.Handlers{Storage: s, Worker: s}, nil
}

// service is the handlers over one cluster connection.
type service struct {
	storagev1connect.UnimplementedStorageServiceHandler
	c *cluster
}

var (
	_ storagev1connect.StorageServiceHandler = (*service)(nil)
	_ workerv1connect.WorkerServiceHandler   = (*service)(nil)
)

func (s *service) CreateImageSnapshot(ctx context.Context, req *connect.Request[storagev1.CreateImageSnapshotRequest]) (*connect.Response[storagev1.Image_Snapshot], error) {
	r := req.Msg
	unlock, err := s.lockImage(ctx, r.GetPoolName(), r.GetImageName())
	if err != nil {
		return nil, err
	}
	defer unlock()
	return answer(ctx, s.c.calls, func() (*storagev1.Image_Snapshot, error) {
		return s.c.createSnapshot(r.GetPoolName(), r.GetImageName(), r.GetSnapshotName())
	})
}

func (s *service) DeleteImageSnapshot(ctx context.Context, req *connect.Request[storagev1.DeleteImageSnapshotRequest]) (*connect.Response[emptypb.Empty], error) {
	r := req.Msg
	return s.op(ctx, r.GetPoolName(), r.GetImageName(), r.GetSnapshotName(), (*cluster).deleteSnapshot)
}

func (s *service) ProtectImageSnapshot(ctx context.Context, req *connect.Request[storagev1.ProtectImageSnapshotRequest]) (*connect.Response[emptypb.Empty], error) {
	r := req.Msg
	return s.op(ctx, r.GetPoolName(), r.GetImageName(), r.GetSnapshotName(), (*cluster).protectSnapshot)
}

func (s *service) UnprotectImageSnapshot(ctx context.Context, req *connect.Request[storagev1.UnprotectImageSnapshotRequest]) (*connect.Response[emptypb.Empty], error) {
	r := req.Msg
	return s.op(ctx, r.GetPoolName(), r.GetImageName(), r.GetSnapshotName(), (*cluster).unprotectSnapshot)
}

func (s *service) RollbackImageSnapshot(ctx context.Context, req *connect.Request[storagev1.RollbackImageSnapshotRequest]) (*connect.Response[emptypb.Empty], error) {
	r := req.Msg
	return s.op(ctx, r.GetPoolName(), r.GetImageName(), r.GetSnapshotName(), (*cluster).rollbackSnapshot)
}

func (s *service) ListImageSnapshots(ctx context.Context, req *connect.Request[storagev1.ListImageSnapshotsRequest]) (*connect.Response[storagev1.ListImageSnapshotsResponse], error) {
	r := req.Msg
	return answer(ctx, s.c.calls, func() (*storagev1.ListImageSnapshotsResponse, error) {
		snaps, err := s.c.listSnapshots(r.GetPoolName(), r.GetImageName())
		return &storagev1.ListImageSnapshotsResponse{Snapshots: snaps}, err
	})
}

func (s *service) ListImages(ctx context.Context, req *connect.Request[storagev1.ListImagesRequest]) (*connect.Response[storagev1.ListImagesResponse], error) {
	r := req.Msg
	return answer(ctx, s.c.calls, func() (*storagev1.ListImagesResponse, error) {
		images, err := s.c.listImages(r.GetPoolName())
		return &storagev1.ListImagesResponse{Images: images}, err
	})
}

func (s *service) ListPools(ctx context.Context, req *connect.Request[storagev1.ListPoolsRequest]) (*connect.Response[storagev1.ListPoolsResponse], error) {
	r := req.Msg
	return answer(ctx, s.c.calls, func() (*storagev1.ListPoolsResponse, error) {
		pools, err := s.c.listPools(r.GetApplication())
		return &storagev1.ListPoolsResponse{Pools: pools}, err
	})
}

func (s *service) CreateImage(ctx context.Context, req *connect.Request[storagev1.CreateImageRequest]) (*connect.Response[storagev1.Image], error) {
	r := req.Msg
	unlock, err := s.lockImage(ctx, r.GetPoolName(), r.GetImageName())
	if err != nil {
		return nil, err
	}
	defer unlock()
	return answer(ctx, s.c.calls, func() (*storagev1.Image, error) { return s.c.createImage(r) })
}

func (s *service) UpdateImage(ctx context.Context, req *connect.Request[storagev1.UpdateImageRequest]) (*connect.Response[storagev1.Image], error) {
	r := req.Msg
	unlock, err := s.lockImage(ctx, r.GetPoolName(), r.GetImageName())
	if err != nil {
		return nil, err
	}
	defer unlock()
	return answer(ctx, s.c.calls, func() (*storagev1.Image, error) {
		return s.c.resizeImage(r.GetPoolName(), r.GetImageName(), r.GetQuotaBytes(), r.GetAllowShrink())
	})
}

func (s *service) DeleteImage(ctx context.Context, req *connect.Request[storagev1.DeleteImageRequest]) (*connect.Response[emptypb.Empty], error) {
	r := req.Msg
	unlock, err := s.lockImage(ctx, r.GetPoolName(), r.GetImageName())
	if err != nil {
		return nil, err
	}
	defer unlock()
	return answer(ctx, s.c.calls, func() (*emptypb.Empty, error) {
		return &emptypb.Empty{}, s.c.deleteImage(r.GetPoolName(), r.GetImageName())
	})
}

func (s *service) ListNames(ctx context.Context, req *connect.Request[workerv1.ListNamesRequest]) (*connect.Response[workerv1.ListNamesResponse], error) {
	r := req.Msg
	return answer(ctx, s.c.calls, func() (*workerv1.ListNamesResponse, error) {
		var names []string
		var err error
		switch {
		case r.GetPoolName() == "":
			names, err = s.c.poolNames()
		case r.GetImageName() == "":
			names, err = s.c.imageNames(r.GetPoolName())
		default:
			names, err = s.c.snapshotNames(r.GetPoolName(), r.GetImageName())
		}
		return &workerv1.ListNamesResponse{Names: names}, err
	})
}

// op runs a call that changes pool/image's snapshots, one at a time per
// image.
func (s *service) op(ctx context.Context, pool, image, snap string, op func(*cluster, string, string, string) error) (*connect.Response[emptypb.Empty], error) {
	unlock, err := s.lockImage(ctx, pool, image)
	if err != nil {
		return nil, err
	}
	defer unlock()
	return answer(ctx, s.c.calls, func() (*emptypb.Empty, error) {
		return &emptypb.Empty{}, op(s.c, pool, image, snap)
	})
}

// lockImage waits for the other calls changing pool/image (imageLocks).
func (s *service) lockImage(ctx context.Context, pool, image string) (func(), error) {
	unlock, err := s.c.images.lock(ctx, pool, image)
	if err != nil {
		return nil, connect.NewError(connect.CodeOf(err), fmt.Errorf("waiting for another change to %s/%s: %w", pool, image, err))
	}
	return unlock, nil
}

// answer runs call within the cluster's concurrency limit.
func answer[T any](ctx context.Context, l *limiter, call func() (*T, error)) (*connect.Response[T], error) {
	if err := l.acquire(ctx); err != nil {
		return nil, connect.NewError(connect.CodeOf(err), fmt.Errorf("waiting for a free Ceph slot: %w", err))
	}
	defer l.release()
	msg, err := call()
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(msg), nil
}
