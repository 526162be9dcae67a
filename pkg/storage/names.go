package storage

import (
	"context"

	"connectrpc.com/connect"

	workerv1 "github.com/otterscale/kubectl-otterscale/gen/kubectlotterscale/worker/v1"
)

// PoolNames answers the names of the scope's RBD pools: the pools enabled
// for the rbd application, or every pool when the cluster does not say.
// It is not an RPC of the API: shell completion calls it, and the worker
// answers it without the sizes and disk usage that ListImages reads.
func (s *Service) PoolNames(ctx context.Context, scope string) ([]string, error) {
	return s.names(ctx, scope, "", "")
}

// ImageNames answers the names of the images in pool, sorted.
func (s *Service) ImageNames(ctx context.Context, scope, pool string) ([]string, error) {
	if err := validateName("pool_name", "pool", pool); err != nil {
		return nil, err
	}
	return s.names(ctx, scope, pool, "")
}

// SnapshotNames answers the names of pool/image's snapshots, oldest first.
func (s *Service) SnapshotNames(ctx context.Context, scope, pool, image string) ([]string, error) {
	if err := validateImageRef(pool, image); err != nil {
		return nil, err
	}
	return s.names(ctx, scope, pool, image)
}

func (s *Service) names(ctx context.Context, scope, pool, image string) ([]string, error) {
	w, err := s.worker(ctx, scope)
	if err != nil {
		return nil, err
	}
	resp, err := w.Names.ListNames(ctx, connect.NewRequest(&workerv1.ListNamesRequest{PoolName: pool, ImageName: image}))
	if err != nil {
		return nil, err
	}
	return resp.Msg.GetNames(), nil
}
