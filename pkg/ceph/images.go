//go:build cgo && pacific

package ceph

import (
	"sync"

	"github.com/ceph/go-ceph/rados"
	"github.com/ceph/go-ceph/rbd"
)

// imageStateMu serializes every change of an image handle's state in the
// worker: open, close, and moving an open image to a snapshot. A worker has
// one connection, so this is per cluster.
//
// Why: librbd 16.2.15 races there. Opening an image with object-map at a
// snapshot (and moving an open one to a snapshot, the same SetSnapRequest)
// loads that snapshot's object map, and the load's completion can run on a
// librados thread after the image's state object was freed: it locks a
// destroyed mutex, and the process aborts with "std::system_error: Invalid
// argument" (or segfaults, asserts in ~AsyncOpTracker, or deadlocks). Seen
// under gdb with the throwing thread at ImageState::handle_open <-
// OpenRequest::handle_set_snap <- SetSnapRequest::handle_open_object_map,
// with read-only opens at snapshots alone (no snapshot creation, no
// DiffIterate), never on images without object-map, and across different
// images of one connection, so a lock per image did not stop it. Serialized
// opens, closes and snapshot moves ran 64 callers for 60 s without it.
// Everything done on an open image (reads, DiffIterate, snapshot calls)
// still runs concurrently.
var imageStateMu sync.Mutex

func openImage(ioctx *rados.IOContext, name, snap string, readOnly bool) (*rbd.Image, error) {
	imageStateMu.Lock()
	defer imageStateMu.Unlock()
	if readOnly {
		return rbd.OpenImageReadOnly(ioctx, name, snap)
	}
	return rbd.OpenImage(ioctx, name, snap)
}

func closeImage(img *rbd.Image) {
	imageStateMu.Lock()
	defer imageStateMu.Unlock()
	_ = img.Close()
}

func setSnap(img *rbd.Image, id uint64) error {
	imageStateMu.Lock()
	defer imageStateMu.Unlock()
	return img.SetSnapByID(id)
}
