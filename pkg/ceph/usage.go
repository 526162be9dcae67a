//go:build cgo && pacific

package ceph

import "sync"

// usageKey names what one line of `rbd du` counts: the objects of image
// (its id, which outlives renames) in pool that differ between snapshot
// ids from (0: the image's creation) and to. Both snapshots are
// immutable, so the figure never changes; a deleted snapshot changes the
// key of the one after it.
type usageKey struct {
	pool     string
	image    string
	from, to uint64
}

// maxUsageEntries bounds the cache: a few MiB at most. It is emptied when
// full, which costs one recomputation per snapshot.
const maxUsageEntries = 1 << 16

// usageCache keeps snapshot usage for the worker's life.
type usageCache struct {
	mu sync.Mutex
	m  map[usageKey]uint64
}

func newUsageCache() *usageCache { return &usageCache{m: map[usageKey]uint64{}} }

func (c *usageCache) get(k usageKey) (uint64, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.m[k]
	return v, ok
}

func (c *usageCache) put(k usageKey, v uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= maxUsageEntries {
		c.m = map[usageKey]uint64{}
	}
	c.m[k] = v
}
