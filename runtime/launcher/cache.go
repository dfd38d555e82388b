package launcher

import (
	"context"
	"encoding/json"

	"github.com/kfstack/terraform-provider-kubeflow/runtime/engine"
)

// StoreCache keeps task results next to the artifacts they point at, under
// <pipeline root>/.cache/<key>.json, so every executor that reaches the
// artifact store shares one cache.
type StoreCache struct {
	// Store is the pipeline root.
	Store *Store
}

var _ engine.Cache = StoreCache{}

// Get implements engine.Cache.
func (c StoreCache) Get(ctx context.Context, key string) (*engine.CachedResult, bool) {
	b, err := c.Store.ReadAll(ctx, ".cache/"+key+".json")
	if err != nil {
		return nil, false
	}
	var r engine.CachedResult
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, false
	}
	return &r, true
}

// Put implements engine.Cache.
func (c StoreCache) Put(ctx context.Context, key string, r *engine.CachedResult) error {
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	return c.Store.WriteAll(ctx, ".cache/"+key+".json", b)
}
