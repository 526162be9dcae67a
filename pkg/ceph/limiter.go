//go:build cgo && pacific

package ceph

import "context"

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
