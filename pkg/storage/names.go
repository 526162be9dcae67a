package storage

import (
	"context"
	"errors"

	"connectrpc.com/connect"
)

// namer is the cheap listing that shell completion needs: names only,
// without the sizes and the disk usage (a DiffIterate per snapshot) that
// ListImages reads for every image.
type namer interface {
	poolNames() ([]string, error)
	imageNames(pool string) ([]string, error)
	snapshotNames(pool, image string) ([]string, error)
}

// PoolNames answers the names of the scope's RBD pools: the pools enabled
// for the rbd application, or every pool when the cluster does not say.
// It is not an RPC: shell completion calls it in-process.
func (s *Service) PoolNames(ctx context.Context, scope string) ([]string, error) {
	n, err := s.namer(ctx, scope)
	if err != nil {
		return nil, err
	}
	return n.poolNames()
}

// ImageNames answers the names of the images in pool, sorted.
func (s *Service) ImageNames(ctx context.Context, scope, pool string) ([]string, error) {
	if err := validateName("pool_name", "pool", pool); err != nil {
		return nil, err
	}
	n, err := s.namer(ctx, scope)
	if err != nil {
		return nil, err
	}
	return n.imageNames(pool)
}

// SnapshotNames answers the names of pool/image's snapshots, oldest first.
func (s *Service) SnapshotNames(ctx context.Context, scope, pool, image string) ([]string, error) {
	if err := validateImageRef(pool, image); err != nil {
		return nil, err
	}
	n, err := s.namer(ctx, scope)
	if err != nil {
		return nil, err
	}
	return n.snapshotNames(pool, image)
}

func (s *Service) namer(ctx context.Context, scope string) (namer, error) {
	b, err := s.backend(ctx, scope)
	if err != nil {
		return nil, err
	}
	n, ok := b.(namer)
	if !ok {
		return nil, connect.NewError(connect.CodeUnimplemented, errors.New("this Ceph connection cannot list names"))
	}
	return n, nil
}
