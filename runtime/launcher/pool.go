package launcher

import (
	"container/list"
	"context"
	"io"
	"sync"
)

// openPool keeps at most max values open, by key, and closes the least
// recently used beyond that. A value handed out is counted until its
// release: one that falls out of the pool while in use is closed by its
// last release, never under its user. It bounds what user-supplied names
// (pipeline roots, buckets of artifact URIs) can make a long-lived process
// hold open.
type openPool[V io.Closer] struct {
	max int

	mu      sync.Mutex
	order   *list.List // of *pooled[V], most recently used first
	entries map[string]*list.Element
	closed  bool
}

type pooled[V io.Closer] struct {
	key     string
	value   V
	refs    int
	evicted bool
}

func newOpenPool[V io.Closer](limit int) *openPool[V] {
	return &openPool[V]{max: max(limit, 1), order: list.New(), entries: map[string]*list.Element{}}
}

// acquire returns the value of key, opening it with open when the pool
// does not hold it, and a release func that must be called once the
// caller is done with it. Opening happens outside the lock, so a slow
// open (credentials, a remote endpoint) blocks only callers of that key's
// first use; of two concurrent opens of one key, one is kept.
func (p *openPool[V]) acquire(ctx context.Context, key string, open func(context.Context) (V, error)) (V, func(), error) {
	p.mu.Lock()
	if e, ok := p.entries[key]; ok {
		v := p.use(e)
		p.mu.Unlock()
		return v.value, p.releaser(v), nil
	}
	p.mu.Unlock()
	value, err := open(ctx)
	if err != nil {
		var zero V
		return zero, nil, err
	}
	p.mu.Lock()
	if e, ok := p.entries[key]; ok {
		// Another caller opened it meanwhile: use theirs.
		v := p.use(e)
		p.mu.Unlock()
		_ = value.Close()
		return v.value, p.releaser(v), nil
	}
	v := &pooled[V]{key: key, value: value, refs: 1}
	if p.closed {
		v.evicted = true
		p.mu.Unlock()
		return value, p.releaser(v), nil
	}
	p.entries[key] = p.order.PushFront(v)
	var drop []V
	for p.order.Len() > p.max {
		old := p.order.Back().Value.(*pooled[V])
		p.order.Remove(p.order.Back())
		delete(p.entries, old.key)
		old.evicted = true
		if old.refs == 0 {
			drop = append(drop, old.value)
		}
	}
	p.mu.Unlock()
	for _, d := range drop {
		_ = d.Close()
	}
	return value, p.releaser(v), nil
}

func (p *openPool[V]) use(e *list.Element) *pooled[V] {
	p.order.MoveToFront(e)
	v := e.Value.(*pooled[V])
	v.refs++
	return v
}

func (p *openPool[V]) releaser(v *pooled[V]) func() {
	var once sync.Once
	return func() {
		once.Do(func() {
			p.mu.Lock()
			v.refs--
			last := v.evicted && v.refs == 0
			p.mu.Unlock()
			if last {
				_ = v.value.Close()
			}
		})
	}
}

// len is how many values the pool holds (in use or not).
func (p *openPool[V]) len() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.order.Len()
}

// close closes every value not in use and marks the others to be closed
// by their last release; values acquired later are closed on release.
func (p *openPool[V]) close() error {
	p.mu.Lock()
	p.closed = true
	var drop []V
	for e := p.order.Front(); e != nil; e = e.Next() {
		v := e.Value.(*pooled[V])
		v.evicted = true
		if v.refs == 0 {
			drop = append(drop, v.value)
		}
	}
	p.order.Init()
	clear(p.entries)
	p.mu.Unlock()
	var first error
	for _, d := range drop {
		if err := d.Close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// StorePool keeps artifact stores open by pipeline root, at most a fixed
// number: roots come from users (a run's pipelineRoot), so a long-lived
// controller must not hold one open for every root it ever saw.
type StorePool struct {
	opts StoreOptions
	pool *openPool[*Store]
}

// NewStorePool returns a pool of at most limit open stores, each opened
// with opts.
func NewStorePool(limit int, opts StoreOptions) *StorePool {
	return &StorePool{opts: opts, pool: newOpenPool[*Store](limit)}
}

// Acquire returns the store of root and its release, which the caller
// calls once done with it; a store that leaves the pool is closed by its
// last release.
func (p *StorePool) Acquire(ctx context.Context, root string) (*Store, func(), error) {
	return p.pool.acquire(ctx, root, func(ctx context.Context) (*Store, error) {
		return OpenStore(context.WithoutCancel(ctx), root, p.opts)
	})
}

// Len is how many stores the pool holds open.
func (p *StorePool) Len() int { return p.pool.len() }

// Close closes the stores not in use, and the others once released.
func (p *StorePool) Close() error { return p.pool.close() }
