// Package opencache keeps open handles (artifact stores, buckets) by key,
// and bounds how many: the keys come from users (a run's pipeline root, an
// importer's URI), so a cache that only grows would let them make the
// controller hold any number of clients and connections. A handle in use
// is never closed; of the idle ones, the least recently used are closed
// once more than Max are open.
package opencache

import (
	"context"
	"sync"
)

// Cache opens handles with Open and closes them with Close. The zero value
// is not usable: set Open, Close and Max.
type Cache[V any] struct {
	// Max is how many handles may stay open; more are open only while in
	// use.
	Max   int
	Open  func(ctx context.Context, key string) (V, error)
	Close func(V)

	mu      sync.Mutex
	entries map[string]*entry[V]
	clock   uint64
}

type entry[V any] struct {
	v    V
	refs int
	used uint64
}

// Get returns the handle of key, opening it if it is not open, and the
// function that gives it back: the handle stays open at least until then.
func (c *Cache[V]) Get(ctx context.Context, key string) (V, func(), error) {
	c.mu.Lock()
	if e, ok := c.entries[key]; ok {
		e.refs++
		c.mu.Unlock()
		return e.v, c.releaser(e), nil
	}
	c.mu.Unlock()

	// Opened outside the lock: opening a bucket may take a while (a
	// credentials lookup) and must not hold up the others.
	v, err := c.Open(ctx, key)
	if err != nil {
		var zero V
		return zero, nil, err
	}
	c.mu.Lock()
	if e, ok := c.entries[key]; ok {
		// Opened meanwhile by another caller: use theirs.
		e.refs++
		c.mu.Unlock()
		c.Close(v)
		return e.v, c.releaser(e), nil
	}
	if c.entries == nil {
		c.entries = map[string]*entry[V]{}
	}
	e := &entry[V]{v: v, refs: 1}
	c.entries[key] = e
	c.mu.Unlock()
	return v, c.releaser(e), nil
}

func (c *Cache[V]) releaser(e *entry[V]) func() {
	var once sync.Once
	return func() {
		once.Do(func() {
			c.mu.Lock()
			e.refs--
			c.clock++
			e.used = c.clock
			evicted := c.evict()
			c.mu.Unlock()
			for _, v := range evicted {
				c.Close(v)
			}
		})
	}
}

// evict removes the least recently used idle handles while more than Max
// are open, and returns them to be closed. c.mu is held.
func (c *Cache[V]) evict() []V {
	var out []V
	for len(c.entries) > c.Max {
		var oldest string
		var found *entry[V]
		for k, e := range c.entries {
			if e.refs == 0 && (found == nil || e.used < found.used) {
				oldest, found = k, e
			}
		}
		if found == nil {
			break // all in use
		}
		delete(c.entries, oldest)
		out = append(out, found.v)
	}
	return out
}

// Len is the number of open handles.
func (c *Cache[V]) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}

// CloseAll closes every handle, in use or not, and empties the cache.
func (c *Cache[V]) CloseAll() {
	c.mu.Lock()
	entries := c.entries
	c.entries = nil
	c.mu.Unlock()
	for _, e := range entries {
		c.Close(e.v)
	}
}
