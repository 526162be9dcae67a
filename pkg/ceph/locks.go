//go:build cgo && pacific

package ceph

import "sync"

// imageLocks serializes the calls of this worker that change one image.
//
// Two handles of one image in one process that both write fight over its
// exclusive lock, and librbd hides what that costs: Operations::snap_create
// (ceph's src/librbd/Operations.cc) checks the name against the handle's
// own, possibly stale, view of the image and then runs the create through
// C_InvokeAsyncRequest with -EEXIST among the errors it turns into success,
// so two concurrent creates of one name both answer ok. One at a time, the second opens the
// image after the first is done, sees the snapshot and answers
// already_exists.
type imageLocks struct {
	mu    sync.Mutex
	locks map[string]*imageLock
}

type imageLock struct {
	sync.Mutex
	users int
}

func newImageLocks() *imageLocks { return &imageLocks{locks: map[string]*imageLock{}} }

// lock locks pool/image and returns the unlock.
func (l *imageLocks) lock(pool, image string) func() {
	key := pool + "/" + image
	l.mu.Lock()
	il := l.locks[key]
	if il == nil {
		il = &imageLock{}
		l.locks[key] = il
	}
	il.users++
	l.mu.Unlock()
	il.Lock()
	return func() {
		il.Unlock()
		l.mu.Lock()
		if il.users--; il.users == 0 {
			delete(l.locks, key)
		}
		l.mu.Unlock()
	}
}
