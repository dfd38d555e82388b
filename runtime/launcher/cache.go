package launcher

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"strings"
	"time"

	"github.com/kfstack/terraform-provider-kubeflow/runtime/engine"
	"github.com/kfstack/terraform-provider-kubeflow/runtime/pipeline"
)

// StoreCache keeps task results next to the artifacts they point at, so
// every executor that reaches the artifact store shares one cache:
// <pipeline root>/.cache/<namespace>/<key>.json, or .cache/<key>.json for
// local runs (no namespace).
//
// The pipeline root is writable by every task that runs against it, so an
// entry read back is checked before it is trusted: it must name the key
// and the namespace it is read for and the root it lives in, and, with a
// SigningKey, carry an HMAC of its content under that key, which only the
// controller holds. A task can delete entries (a cache miss: the task
// runs), but cannot plant one that another run, or another namespace,
// takes for a result.
type StoreCache struct {
	// Store is the pipeline root.
	Store *Store
	// Namespace scopes the entries: a run reads and writes only its own
	// namespace's. Empty for local runs (kfstack-runtime run).
	Namespace string
	// SigningKey signs the entries written and is required of the entries
	// read (HMAC-SHA256); nil writes and reads unsigned entries (local
	// runs, where the user owns the root and the cache alike).
	SigningKey []byte
	// Producer names the run that writes entries (namespace/name and
	// UID), recorded in each entry so that one can be traced to its run.
	Producer string
}

var _ engine.Cache = StoreCache{}

// ErrCacheMiss is a cache lookup that found no entry.
var ErrCacheMiss = errors.New("no cache entry")

// RefusedEntryError is a cache entry that exists but cannot be trusted: it
// is for another key, namespace or root, unsigned or not signed with the
// signing key, or unreadable.
type RefusedEntryError struct {
	// Path is the entry's path under the root.
	Path string
	// Reason says why it is refused.
	Reason string
}

func (e *RefusedEntryError) Error() string {
	return fmt.Sprintf("cache entry %s refused: %s", e.Path, e.Reason)
}

// cacheFormat is the version of the entry format.
const cacheFormat = 1

// cacheFile is what an entry's object holds: the entry, as written, and
// the HMAC of exactly those bytes.
type cacheFile struct {
	Entry json.RawMessage `json:"entry"`
	MAC   string          `json:"mac,omitempty"`
}

// cacheEntry is a cached result and what a reader checks it against.
type cacheEntry struct {
	Format    int                  `json:"format"`
	Key       string               `json:"key"`
	Namespace string               `json:"namespace,omitempty"`
	Root      string               `json:"root"`
	Producer  string               `json:"producer,omitempty"`
	Created   time.Time            `json:"created"`
	Result    *engine.CachedResult `json:"result"`
}

// entryPath is where the entry of key lives under the root.
func (c StoreCache) entryPath(key string) (string, error) {
	if key == "" || strings.Trim(key, "0123456789abcdef") != "" {
		return "", fmt.Errorf("cache key %q is not a hex digest", key)
	}
	if c.Namespace == "" {
		return ".cache/" + key + ".json", nil
	}
	if err := pipeline.CheckPathName(c.Namespace); err != nil {
		return "", fmt.Errorf("cache namespace: %w", err)
	}
	return path.Join(".cache", c.Namespace, key+".json"), nil
}

// Lookup returns the entry of key: ErrCacheMiss when there is none, a
// *RefusedEntryError when there is one that cannot be trusted, and the
// store's error when it could not be read.
func (c StoreCache) Lookup(ctx context.Context, key string) (*engine.CachedResult, error) {
	p, err := c.entryPath(key)
	if err != nil {
		return nil, err
	}
	b, err := c.Store.ReadAll(ctx, p)
	if err != nil {
		if IsNotFound(err) {
			return nil, ErrCacheMiss
		}
		return nil, fmt.Errorf("reading cache entry %s: %w", p, err)
	}
	refuse := func(format string, args ...any) error {
		return &RefusedEntryError{Path: p, Reason: fmt.Sprintf(format, args...)}
	}
	var f cacheFile
	if err := json.Unmarshal(b, &f); err != nil || len(f.Entry) == 0 {
		return nil, refuse("not a cache entry")
	}
	if c.SigningKey != nil {
		got, err := hex.DecodeString(f.MAC)
		if err != nil || !hmac.Equal(got, c.mac(f.Entry)) {
			return nil, refuse("its signature does not match: it was not written by this runtime")
		}
	}
	var e cacheEntry
	if err := json.Unmarshal(f.Entry, &e); err != nil {
		return nil, refuse("decoding: %v", err)
	}
	switch {
	case e.Format != cacheFormat:
		return nil, refuse("format %d, not %d", e.Format, cacheFormat)
	case e.Key != key:
		return nil, refuse("it is the entry of key %s", e.Key)
	case e.Namespace != c.Namespace:
		return nil, refuse("it belongs to namespace %q", e.Namespace)
	case e.Root != c.Store.URI(""):
		return nil, refuse("it belongs to pipeline root %s", e.Root)
	case e.Result == nil:
		return nil, refuse("it holds no result")
	}
	return e.Result, nil
}

// Get implements engine.Cache: a hit only for an entry that passes
// Lookup's checks.
func (c StoreCache) Get(ctx context.Context, key string) (*engine.CachedResult, bool) {
	r, err := c.Lookup(ctx, key)
	return r, err == nil
}

// Put implements engine.Cache.
func (c StoreCache) Put(ctx context.Context, key string, r *engine.CachedResult) error {
	p, err := c.entryPath(key)
	if err != nil {
		return err
	}
	entry, err := json.Marshal(cacheEntry{
		Format: cacheFormat, Key: key, Namespace: c.Namespace, Root: c.Store.URI(""),
		Producer: c.Producer, Created: time.Now().UTC(), Result: r,
	})
	if err != nil {
		return fmt.Errorf("encoding cache entry: %w", err)
	}
	f := cacheFile{Entry: entry}
	if c.SigningKey != nil {
		f.MAC = hex.EncodeToString(c.mac(entry))
	}
	b, err := json.Marshal(f)
	if err != nil {
		return fmt.Errorf("encoding cache entry: %w", err)
	}
	return c.Store.WriteAll(ctx, p, b)
}

func (c StoreCache) mac(entry []byte) []byte {
	h := hmac.New(sha256.New, c.SigningKey)
	h.Write(entry)
	return h.Sum(nil)
}
