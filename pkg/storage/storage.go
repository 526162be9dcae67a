// Package storage owns Ceph pools, RBD images and their snapshots as
// kubectl-otterscale serves them: it implements the API's StorageService by validating each
// request, finding the Ceph cluster of its scope (package cephconf/discover), and calling
// that cluster's Ceph worker (package worker), the process in which
// librados and librbd run. This package itself never loads them: where no
// worker can run, every call answers failed_precondition saying what to
// install.
package storage

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"unicode/utf8"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/emptypb"

	storagev1 "github.com/otterscale/kubectl-otterscale/gen/otterscale/storage/v1"
	"github.com/otterscale/kubectl-otterscale/gen/otterscale/storage/v1/storagev1connect"
	"github.com/otterscale/kubectl-otterscale/pkg/cephconf"
	"github.com/otterscale/kubectl-otterscale/pkg/cephconf/discover"
	"github.com/otterscale/kubectl-otterscale/pkg/cluster"
	"github.com/otterscale/kubectl-otterscale/pkg/worker"
)

// Service implements StorageService.
type Service struct {
	storagev1connect.UnimplementedStorageServiceHandler

	clusters cluster.Provider
	flags    cephconf.Flags
	workers  *worker.Pool

	mu sync.Mutex
	// configs are the scopes' clusters, found once each.
	configs map[string]*cephconf.Config
}

var _ storagev1connect.StorageServiceHandler = (*Service)(nil)

// New returns the service. flags are the user's explicit Ceph settings;
// where they say nothing, each scope's cluster is asked (discover.Find). Its
// workers start on first use; Close stops them.
func New(clusters cluster.Provider, flags cephconf.Flags) *Service {
	return NewWithWorkers(clusters, flags, worker.NewPool(worker.Options{}))
}

// NewWithWorkers is New with the caller's pool of Ceph workers, which
// Close stops.
func NewWithWorkers(clusters cluster.Provider, flags cephconf.Flags, workers *worker.Pool) *Service {
	return &Service{clusters: clusters, flags: flags, workers: workers, configs: map[string]*cephconf.Config{}}
}

// Close stops the Ceph workers; the next call starts them again.
func (s *Service) Close() { s.workers.Close() }

// worker answers the scope's cluster's worker, finding the cluster on
// first use.
func (s *Service) worker(ctx context.Context, scope string) (*worker.Worker, error) {
	// Without a worker, finding the cluster is no use.
	if err := s.workers.Usable(); err != nil {
		return nil, err
	}
	cfg, err := s.config(ctx, scope)
	if err != nil {
		return nil, err
	}
	w, err := s.workers.Get(ctx, cfg)
	if err != nil {
		// Look again next time: the cluster's objects may change.
		s.mu.Lock()
		delete(s.configs, scope)
		s.mu.Unlock()
		return nil, err
	}
	return w, nil
}

func (s *Service) config(ctx context.Context, scope string) (*cephconf.Config, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if cfg, ok := s.configs[scope]; ok {
		return cfg, nil
	}
	var clients *cluster.Clients
	if s.clusters != nil {
		c, err := s.clusters.Clients(ctx, scope)
		switch {
		case connect.CodeOf(err) == connect.CodeNotFound:
			return nil, err // an unknown scope
		case err == nil:
			clients = c
		}
	}
	cfg, err := discover.Find(ctx, s.flags, clients)
	if err != nil {
		return nil, err
	}
	s.configs[scope] = cfg
	return cfg, nil
}

// CreateImageSnapshot creates a snapshot and answers with it: not
// protected, its size, and what `rbd du` counts for it (read just before
// the create).
func (s *Service) CreateImageSnapshot(ctx context.Context, req *connect.Request[storagev1.CreateImageSnapshotRequest]) (*connect.Response[storagev1.Image_Snapshot], error) {
	r := req.Msg
	w, err := s.snapshotCall(ctx, r.GetScope(), r.GetPoolName(), r.GetImageName(), r.GetSnapshotName())
	if err != nil {
		return nil, err
	}
	return w.Storage.CreateImageSnapshot(ctx, req)
}

// DeleteImageSnapshot deletes an unprotected snapshot.
func (s *Service) DeleteImageSnapshot(ctx context.Context, req *connect.Request[storagev1.DeleteImageSnapshotRequest]) (*connect.Response[emptypb.Empty], error) {
	r := req.Msg
	w, err := s.snapshotCall(ctx, r.GetScope(), r.GetPoolName(), r.GetImageName(), r.GetSnapshotName())
	if err != nil {
		return nil, err
	}
	return w.Storage.DeleteImageSnapshot(ctx, req)
}

// ProtectImageSnapshot protects a snapshot, so that it can be cloned and
// cannot be deleted.
func (s *Service) ProtectImageSnapshot(ctx context.Context, req *connect.Request[storagev1.ProtectImageSnapshotRequest]) (*connect.Response[emptypb.Empty], error) {
	r := req.Msg
	w, err := s.snapshotCall(ctx, r.GetScope(), r.GetPoolName(), r.GetImageName(), r.GetSnapshotName())
	if err != nil {
		return nil, err
	}
	return w.Storage.ProtectImageSnapshot(ctx, req)
}

// UnprotectImageSnapshot unprotects a snapshot that has no clones.
func (s *Service) UnprotectImageSnapshot(ctx context.Context, req *connect.Request[storagev1.UnprotectImageSnapshotRequest]) (*connect.Response[emptypb.Empty], error) {
	r := req.Msg
	w, err := s.snapshotCall(ctx, r.GetScope(), r.GetPoolName(), r.GetImageName(), r.GetSnapshotName())
	if err != nil {
		return nil, err
	}
	return w.Storage.UnprotectImageSnapshot(ctx, req)
}

// RollbackImageSnapshot rolls an image that nothing uses back to a
// snapshot.
func (s *Service) RollbackImageSnapshot(ctx context.Context, req *connect.Request[storagev1.RollbackImageSnapshotRequest]) (*connect.Response[emptypb.Empty], error) {
	r := req.Msg
	w, err := s.snapshotCall(ctx, r.GetScope(), r.GetPoolName(), r.GetImageName(), r.GetSnapshotName())
	if err != nil {
		return nil, err
	}
	return w.Storage.RollbackImageSnapshot(ctx, req)
}

// ListImageSnapshots answers one image's snapshots, oldest first.
func (s *Service) ListImageSnapshots(ctx context.Context, req *connect.Request[storagev1.ListImageSnapshotsRequest]) (*connect.Response[storagev1.ListImageSnapshotsResponse], error) {
	r := req.Msg
	if err := validateImageRef(r.GetPoolName(), r.GetImageName()); err != nil {
		return nil, err
	}
	w, err := s.worker(ctx, r.GetScope())
	if err != nil {
		return nil, err
	}
	return w.Storage.ListImageSnapshots(ctx, req)
}

// ListImages answers the images of every pool (or of pool_name), snapshots
// included.
func (s *Service) ListImages(ctx context.Context, req *connect.Request[storagev1.ListImagesRequest]) (*connect.Response[storagev1.ListImagesResponse], error) {
	r := req.Msg
	if p := r.GetPoolName(); p != "" {
		if err := validateName("pool_name", "pool", p); err != nil {
			return nil, err
		}
	}
	w, err := s.worker(ctx, r.GetScope())
	if err != nil {
		return nil, err
	}
	return w.Storage.ListImages(ctx, req)
}

func (s *Service) snapshotCall(ctx context.Context, scope, pool, image, snap string) (*worker.Worker, error) {
	if err := validateImageRef(pool, image); err != nil {
		return nil, err
	}
	if err := validateName("snapshot_name", "snapshot", snap); err != nil {
		return nil, err
	}
	return s.worker(ctx, scope)
}

// MaxNameLength is the longest pool, image or snapshot name accepted.
const MaxNameLength = 255

// validateName refuses what `rbd` would refuse or misread, before anything
// reaches Ceph: "/" and "@" separate pool, image and snapshot in rbd's
// POOL/IMAGE@SNAP.
func validateName(field, what, name string) error {
	switch {
	case name == "":
		return invalid(field, "the %s name is required", what)
	case len(name) > MaxNameLength:
		return invalid(field, "the %s name is %d bytes long; at most %d are allowed", what, len(name), MaxNameLength)
	case !utf8.ValidString(name):
		return invalid(field, "the %s name is not valid UTF-8", what)
	case strings.ContainsAny(name, "/@"):
		return invalid(field, "the %s name %q contains \"/\" or \"@\", which rbd uses to separate POOL/IMAGE@SNAP", what, name)
	case strings.IndexFunc(name, func(r rune) bool { return r < 0x20 || r == 0x7f }) >= 0:
		return invalid(field, "the %s name %q contains a control character", what, name)
	case name == "." || name == "..":
		return invalid(field, "%q is not a usable %s name", name, what)
	}
	return nil
}

func validateImageRef(pool, image string) error {
	if err := validateName("pool_name", "pool", pool); err != nil {
		return err
	}
	return validateName("image_name", "image", image)
}

func invalid(field, format string, args ...any) error {
	return connect.NewError(connect.CodeInvalidArgument, fmt.Errorf("%s: %s", field, fmt.Sprintf(format, args...)))
}

// ErrNoCeph is the reason every RBD call fails where no Ceph worker can
// run; errors.Is finds it in the Connect error the call answers.
var ErrNoCeph = worker.ErrNoCeph
