//go:build cgo && pacific

package ceph

import (
	"context"
	"sync"
)

// maxCalls bounds the calls a worker runs at once against its cluster;
// the rest wait their turn (within their deadline). It bounds the librbd
// threads, memory and OSD load one busy proxy can cause; the crash that
// concurrent calls once caused is imageStateMu's business, not this.
const maxCalls = 8

// limiter is a counting semaphore.
type limiter struct{ slots chan struct{} }

func newLimiter(n int) *limiter { return &limiter{slots: make(chan struct{}, n)} }

func (l *limiter) acquire(ctx context.Context) error {
	select {
	case l.slots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (l *limiter) release() { <-l.slots }

// imageLocks serialises, within this worker, the calls that change one
// image or its snapshots (image create, resize and delete; snapshot
// create, delete, protect, unprotect, roll back).
// librbd does not: two creates of one name at once, from two opens of the
// image, both succeed (Operations::snap_create, in ceph's
// src/librbd/Operations.cc, checks the name against the handle's own view
// and runs the create through C_InvokeAsyncRequest with -EEXIST among the
// errors it turns into success), and a rollback while another open of the
// image holds its exclusive lock fails with EROFS. Calls waiting here hold
// no slot of the limiter.
type imageLocks struct {
	mu    sync.Mutex
	locks map[string]*imageLock
}

type imageLock struct {
	held    chan struct{}
	waiters int
}

func newImageLocks() *imageLocks { return &imageLocks{locks: map[string]*imageLock{}} }

// lock waits until no other call changes pool/image and answers the
// function that lets the next one go.
func (l *imageLocks) lock(ctx context.Context, pool, image string) (func(), error) {
	k := pool + "/" + image
	l.mu.Lock()
	il := l.locks[k]
	if il == nil {
		il = &imageLock{held: make(chan struct{}, 1)}
		l.locks[k] = il
	}
	il.waiters++
	l.mu.Unlock()
	done := func() {
		l.mu.Lock()
		defer l.mu.Unlock()
		if il.waiters--; il.waiters == 0 {
			delete(l.locks, k)
		}
	}
	select {
	case il.held <- struct{}{}:
		return func() { <-il.held; done() }, nil
	case <-ctx.Done():
		done()
		return nil, ctx.Err()
	}
}
