// Package storage owns RBD images and their snapshots: it implements the
// API's StorageService directly against Ceph through go-ceph (librados and
// librbd), with the connection of each scope found through the cluster
// (find.go). Builds without cgo, or without the pacific tag that go-ceph
// needs for Ceph 16.2's headers, keep the API and its validation but answer
// failed_precondition: they have no librbd to call.
package storage

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"unicode/utf8"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/emptypb"

	storagev1 "github.com/otterscale/kubectl-otterscale/gen/otterscale/storage/v1"
	"github.com/otterscale/kubectl-otterscale/gen/otterscale/storage/v1/storagev1connect"
	"github.com/otterscale/kubectl-otterscale/pkg/cluster"
)

// backend is one connected Ceph cluster. rbd.go implements it with go-ceph;
// nocgo.go has none.
type backend interface {
	createSnapshot(pool, image, snap string) (*storagev1.Image_Snapshot, error)
	deleteSnapshot(pool, image, snap string) error
	protectSnapshot(pool, image, snap string) error
	unprotectSnapshot(pool, image, snap string) error
	rollbackSnapshot(pool, image, snap string) error
	listSnapshots(pool, image string) ([]*storagev1.Image_Snapshot, error)
	listImages(pool string) ([]*storagev1.Image, error)
	close()
}

// Service implements StorageService.
type Service struct {
	storagev1connect.UnimplementedStorageServiceHandler

	clusters cluster.Provider
	flags    Flags

	mu    sync.Mutex
	conns map[string]backend
}

var _ storagev1connect.StorageServiceHandler = (*Service)(nil)

// New returns the service. flags are the user's explicit Ceph settings;
// where they say nothing, each scope's cluster is asked (Find).
func New(clusters cluster.Provider, flags Flags) *Service {
	return &Service{clusters: clusters, flags: flags, conns: map[string]backend{}}
}

// Close forgets every cached Ceph connection; the next call connects
// again. The connections themselves end with the process (see
// radosBackend.close: librados' shutdown can abort the process).
func (s *Service) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for scope, b := range s.conns {
		b.close()
		delete(s.conns, scope)
	}
}

// backend returns the scope's connection, connecting on first use.
func (s *Service) backend(ctx context.Context, scope string) (backend, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if b, ok := s.conns[scope]; ok {
		return b, nil
	}
	if !Supported {
		return nil, errNoCeph()
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
	cfg, err := Find(ctx, s.flags, clients)
	if err != nil {
		return nil, err
	}
	b, err := dial(cfg)
	if err != nil {
		return nil, err
	}
	s.conns[scope] = b
	return b, nil
}

// CreateImageSnapshot creates a snapshot and answers with it as Ceph
// reports it right after: protected, its size, and what `rbd du` counts.
func (s *Service) CreateImageSnapshot(ctx context.Context, req *connect.Request[storagev1.CreateImageSnapshotRequest]) (*connect.Response[storagev1.Image_Snapshot], error) {
	r := req.Msg
	b, err := s.snapshotCall(ctx, r.GetScope(), r.GetPoolName(), r.GetImageName(), r.GetSnapshotName())
	if err != nil {
		return nil, err
	}
	snap, err := b.createSnapshot(r.GetPoolName(), r.GetImageName(), r.GetSnapshotName())
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(snap), nil
}

// DeleteImageSnapshot deletes an unprotected snapshot.
func (s *Service) DeleteImageSnapshot(ctx context.Context, req *connect.Request[storagev1.DeleteImageSnapshotRequest]) (*connect.Response[emptypb.Empty], error) {
	r := req.Msg
	return s.snapshotOp(ctx, r.GetScope(), r.GetPoolName(), r.GetImageName(), r.GetSnapshotName(), backend.deleteSnapshot)
}

// ProtectImageSnapshot protects a snapshot, so that it can be cloned and
// cannot be deleted.
func (s *Service) ProtectImageSnapshot(ctx context.Context, req *connect.Request[storagev1.ProtectImageSnapshotRequest]) (*connect.Response[emptypb.Empty], error) {
	r := req.Msg
	return s.snapshotOp(ctx, r.GetScope(), r.GetPoolName(), r.GetImageName(), r.GetSnapshotName(), backend.protectSnapshot)
}

// UnprotectImageSnapshot unprotects a snapshot that has no clones.
func (s *Service) UnprotectImageSnapshot(ctx context.Context, req *connect.Request[storagev1.UnprotectImageSnapshotRequest]) (*connect.Response[emptypb.Empty], error) {
	r := req.Msg
	return s.snapshotOp(ctx, r.GetScope(), r.GetPoolName(), r.GetImageName(), r.GetSnapshotName(), backend.unprotectSnapshot)
}

// RollbackImageSnapshot rolls an image that nothing uses back to a
// snapshot.
func (s *Service) RollbackImageSnapshot(ctx context.Context, req *connect.Request[storagev1.RollbackImageSnapshotRequest]) (*connect.Response[emptypb.Empty], error) {
	r := req.Msg
	return s.snapshotOp(ctx, r.GetScope(), r.GetPoolName(), r.GetImageName(), r.GetSnapshotName(), backend.rollbackSnapshot)
}

// ListImageSnapshots answers one image's snapshots, oldest first.
func (s *Service) ListImageSnapshots(ctx context.Context, req *connect.Request[storagev1.ListImageSnapshotsRequest]) (*connect.Response[storagev1.ListImageSnapshotsResponse], error) {
	r := req.Msg
	if err := validateImageRef(r.GetPoolName(), r.GetImageName()); err != nil {
		return nil, err
	}
	b, err := s.backend(ctx, r.GetScope())
	if err != nil {
		return nil, err
	}
	snaps, err := b.listSnapshots(r.GetPoolName(), r.GetImageName())
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&storagev1.ListImageSnapshotsResponse{Snapshots: snaps}), nil
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
	b, err := s.backend(ctx, r.GetScope())
	if err != nil {
		return nil, err
	}
	images, err := b.listImages(r.GetPoolName())
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&storagev1.ListImagesResponse{Images: images}), nil
}

func (s *Service) snapshotCall(ctx context.Context, scope, pool, image, snap string) (backend, error) {
	if err := validateImageRef(pool, image); err != nil {
		return nil, err
	}
	if err := validateName("snapshot_name", "snapshot", snap); err != nil {
		return nil, err
	}
	return s.backend(ctx, scope)
}

func (s *Service) snapshotOp(ctx context.Context, scope, pool, image, snap string, op func(backend, string, string, string) error) (*connect.Response[emptypb.Empty], error) {
	b, err := s.snapshotCall(ctx, scope, pool, image, snap)
	if err != nil {
		return nil, err
	}
	if err := op(b, pool, image, snap); err != nil {
		return nil, err
	}
	return connect.NewResponse(&emptypb.Empty{}), nil
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

// ErrNoCeph is the reason every RBD call fails in a build without Ceph
// support; errors.Is finds it in the Connect error errNoCeph returns.
var ErrNoCeph = errors.New(
	"this build of kubectl-otterscale has no Ceph support (it was built without cgo, as the release archives' kubectl-otterscale is, or without the pacific tag, so it cannot load librbd); " +
		"RBD commands need otterscale-ceph, the Ceph-enabled build that ships in the linux/amd64 release archive " +
		"(kubectl-otterscale_VERSION_linux_amd64.tar.gz, which Krew installs on linux/amd64) and needs Debian's or Ubuntu's librbd1 and librados2: " +
		"keep it next to kubectl-otterscale or on PATH; " +
		"or build from source with `make build` (CGO_ENABLED=1, -tags pacific, with librados-dev and librbd-dev)")

// errNoCeph is what every RBD call answers in a build without Ceph support.
func errNoCeph() error {
	return connect.NewError(connect.CodeFailedPrecondition, ErrNoCeph)
}
