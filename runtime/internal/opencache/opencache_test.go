package opencache

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
)

type handle struct {
	key    string
	closed bool
}

type opener struct {
	mu     sync.Mutex
	opened []*handle
}

func (o *opener) cache(limit int) *Cache[*handle] {
	return &Cache[*handle]{
		Max: limit,
		Open: func(_ context.Context, key string) (*handle, error) {
			if key == "bad" {
				return nil, errors.New("cannot open")
			}
			h := &handle{key: key}
			o.mu.Lock()
			o.opened = append(o.opened, h)
			o.mu.Unlock()
			return h, nil
		},
		Close: func(h *handle) {
			if h.closed {
				panic("closed twice: " + h.key)
			}
			h.closed = true
		},
	}
}

func (o *opener) open() (n int) {
	for _, h := range o.opened {
		if !h.closed {
			n++
		}
	}
	return n
}

// TestBounded: 100 keys used one after the other leave Max handles open,
// the most recently used; the others were closed.
func TestBounded(t *testing.T) {
	o := &opener{}
	c := o.cache(3)
	for i := range 100 {
		h, release, err := c.Get(context.Background(), fmt.Sprint("root-", i))
		if err != nil {
			t.Fatal(err)
		}
		if h.closed {
			t.Fatalf("got a closed handle for %d", i)
		}
		release()
		release() // a second release is a no-op
	}
	if c.Len() != 3 || o.open() != 3 || len(o.opened) != 100 {
		t.Fatalf("%d in the cache, %d open of %d opened; want 3, 3, 100", c.Len(), o.open(), len(o.opened))
	}
	for _, h := range o.opened[97:] {
		if h.closed {
			t.Errorf("%s was closed, but it is among the 3 used last", h.key)
		}
	}
	// Used again: the same handle, not a new one.
	h, release, _ := c.Get(context.Background(), "root-99")
	release()
	if h != o.opened[99] {
		t.Error("an open handle was opened again")
	}
	c.CloseAll()
	if o.open() != 0 || c.Len() != 0 {
		t.Errorf("%d open after CloseAll", o.open())
	}
}

// TestInUseNeverClosed: handles in use stay open beyond Max and are
// closed once given back.
func TestInUseNeverClosed(t *testing.T) {
	o := &opener{}
	c := o.cache(1)
	var releases []func()
	for i := range 5 {
		_, release, err := c.Get(context.Background(), fmt.Sprint("root-", i))
		if err != nil {
			t.Fatal(err)
		}
		releases = append(releases, release)
	}
	if o.open() != 5 {
		t.Fatalf("%d open while 5 are in use", o.open())
	}
	// A second user of root-0 keeps it open after the first gives it back.
	h0, again, _ := c.Get(context.Background(), "root-0")
	for _, release := range releases {
		release()
	}
	if h0.closed {
		t.Fatal("root-0 was closed while in use")
	}
	if o.open() != 1 {
		t.Fatalf("%d open once 4 were given back, want root-0 alone", o.open())
	}
	again()
	if c.Len() != 1 {
		t.Fatalf("%d in the cache, want 1", c.Len())
	}
}

// TestOpenError: an error is returned and nothing is kept.
func TestOpenError(t *testing.T) {
	o := &opener{}
	c := o.cache(2)
	if _, release, err := c.Get(context.Background(), "bad"); err == nil || release != nil {
		t.Fatal("want an error and no release")
	}
	if c.Len() != 0 {
		t.Fatal("a failed open was kept")
	}
}

// TestConcurrent: many users of few keys at once end with every handle
// either in the cache or closed, never one leaked or closed twice.
func TestConcurrent(t *testing.T) {
	o := &opener{}
	c := o.cache(2)
	var wg sync.WaitGroup
	for i := range 200 {
		wg.Go(func() {
			h, release, err := c.Get(context.Background(), fmt.Sprint("root-", i%7))
			if err != nil {
				t.Error(err)
				return
			}
			if h.closed {
				t.Errorf("%s: got a closed handle", h.key)
			}
			release()
		})
	}
	wg.Wait()
	if o.open() != c.Len() || c.Len() > 2 {
		t.Fatalf("%d open, %d in the cache (max 2)", o.open(), c.Len())
	}
}
