package launcher

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
)

type closer struct {
	name   string
	closed atomic.Int32
}

func (c *closer) Close() error {
	c.closed.Add(1)
	return nil
}

// TestOpenPoolBoundsWhatItHolds: beyond its limit the pool closes the
// least recently used value, but never one in use before its last
// release, and each value is closed exactly once.
func TestOpenPoolBoundsWhatItHolds(t *testing.T) {
	ctx := context.Background()
	p := newOpenPool[*closer](2)
	opened := map[string]*closer{}
	open := func(key string) func(context.Context) (*closer, error) {
		return func(context.Context) (*closer, error) {
			c := &closer{name: key}
			opened[key] = c
			return c, nil
		}
	}
	a, releaseA, _ := p.acquire(ctx, "a", open("a"))
	_, releaseB, _ := p.acquire(ctx, "b", open("b"))
	releaseB()
	// a is in use and the least recent; c pushes it out of the pool.
	_, releaseC, _ := p.acquire(ctx, "c", open("c"))
	if a.closed.Load() != 0 {
		t.Fatal("a value in use was closed")
	}
	if p.len() != 2 {
		t.Errorf("pool holds %d values, want 2", p.len())
	}
	releaseA()
	releaseA() // a second release changes nothing
	if a.closed.Load() != 1 {
		t.Errorf("an evicted value was closed %d times at its last release, want 1", a.closed.Load())
	}
	// b was used before c: d evicts b, which nobody uses, at once.
	_, releaseD, _ := p.acquire(ctx, "d", open("d"))
	if opened["b"].closed.Load() != 1 || opened["c"].closed.Load() != 0 {
		t.Errorf("after d: b closed %d, c closed %d; want 1, 0", opened["b"].closed.Load(), opened["c"].closed.Load())
	}
	// A key asked for again after eviction is opened again.
	a2, releaseA2, _ := p.acquire(ctx, "a", open("a"))
	if a2 == a {
		t.Error("an evicted value was handed out again")
	}
	releaseC()
	releaseD()
	releaseA2()
	if err := p.close(); err != nil {
		t.Fatal(err)
	}
	for k, c := range opened {
		if c.closed.Load() != 1 {
			t.Errorf("%s closed %d times, want 1", k, c.closed.Load())
		}
	}
}

// TestOpenPoolConcurrentUse: many goroutines over more keys than the
// limit; every value is closed once, none while in use.
func TestOpenPoolConcurrentUse(t *testing.T) {
	ctx := context.Background()
	p := newOpenPool[*closer](3)
	var mu sync.Mutex
	var all []*closer
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				key := fmt.Sprint((g + i) % 7)
				c, release, err := p.acquire(ctx, key, func(context.Context) (*closer, error) {
					c := &closer{name: key}
					mu.Lock()
					all = append(all, c)
					mu.Unlock()
					return c, nil
				})
				if err != nil {
					t.Error(err)
					return
				}
				if c.closed.Load() != 0 {
					t.Error("handed out a closed value")
				}
				release()
			}
		}(g)
	}
	wg.Wait()
	if n := p.len(); n > 3 {
		t.Errorf("pool holds %d values, limit 3", n)
	}
	_ = p.close()
	for _, c := range all {
		if c.closed.Load() != 1 {
			t.Fatalf("value %s closed %d times", c.name, c.closed.Load())
		}
	}
}

// TestStorePoolBoundsRoots: a controller given many pipeline roots keeps
// at most the pool's limit open.
func TestStorePoolBoundsRoots(t *testing.T) {
	ctx := context.Background()
	pool := NewStorePool(4, StoreOptions{})
	defer pool.Close()
	dir := t.TempDir()
	var held []func()
	for i := 0; i < 20; i++ {
		s, release, err := pool.Acquire(ctx, "file://"+filepath.Join(dir, fmt.Sprint(i)))
		if err != nil {
			t.Fatal(err)
		}
		if err := s.WriteAll(ctx, "x", []byte("1")); err != nil {
			t.Fatalf("root %d: %v", i, err)
		}
		if i%5 == 0 {
			held = append(held, release) // in use while others come and go
			continue
		}
		release()
	}
	if pool.Len() != 4 {
		t.Errorf("pool holds %d stores, want 4", pool.Len())
	}
	for _, release := range held {
		release()
	}
	if _, _, err := pool.Acquire(ctx, "ftp://x"); !IsRootError(err) {
		t.Errorf("a malformed root: %v, want a RootError", err)
	}
}
