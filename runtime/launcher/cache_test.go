package launcher

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kfstack/terraform-provider-kubeflow/runtime/engine"
)

// TestCacheEntriesAreScopedAndSigned: one namespace never reads
// another's entry, and an entry that a task planted or changed in the
// pipeline root (unsigned, signed with another key, moved to another key,
// namespace or root) is refused, not taken for a result.
func TestCacheEntriesAreScopedAndSigned(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	rootDir := filepath.Join(dir, "root")
	s, err := OpenStore(ctx, "file://"+rootDir, StoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	signing := []byte("0123456789abcdef0123456789abcdef")
	key, other := strings.Repeat("ab", 32), strings.Repeat("cd", 32)
	teamA := StoreCache{Store: s, Namespace: "team-a", SigningKey: signing, Producer: "team-a/r1 (uid-1)"}
	teamB := StoreCache{Store: s, Namespace: "team-b", SigningKey: signing, Producer: "team-b/r9 (uid-9)"}
	result := &engine.CachedResult{Params: map[string]any{"model": "team a's"}}
	if err := teamA.Put(ctx, key, result); err != nil {
		t.Fatal(err)
	}
	if got, err := teamA.Lookup(ctx, key); err != nil || got.Params["model"] != "team a's" {
		t.Fatalf("team a's own entry: %+v, %v", got, err)
	}
	if _, err := teamB.Lookup(ctx, key); !errors.Is(err, ErrCacheMiss) {
		t.Fatalf("team b looked up team a's key: %v, want a miss", err)
	}
	entryOf := func(c StoreCache, k string) string {
		p, err := c.entryPath(k)
		if err != nil {
			t.Fatal(err)
		}
		return filepath.Join(rootDir, filepath.FromSlash(p))
	}
	aEntry, err := os.ReadFile(entryOf(teamA, key))
	if err != nil {
		t.Fatal(err)
	}
	plant := func(c StoreCache, k string, data []byte) {
		t.Helper()
		p := entryOf(c, k)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	refused := func(what string, c StoreCache, k, reason string) {
		t.Helper()
		_, err := c.Lookup(ctx, k)
		var re *RefusedEntryError
		if !errors.As(err, &re) || !strings.Contains(re.Reason, reason) {
			t.Errorf("%s: %v; want a refusal because %s", what, err, reason)
		}
		if _, ok := c.Get(ctx, k); ok {
			t.Errorf("%s: Get reports a hit", what)
		}
	}
	// Team a's entry copied into team b's scope: signed, but not for b.
	plant(teamB, key, aEntry)
	refused("an entry copied from another namespace", teamB, key, `belongs to namespace "team-a"`)
	// Under another key of the same namespace.
	plant(teamA, other, aEntry)
	refused("an entry moved to another key", teamA, other, "entry of key "+key)
	// Unsigned, as a task without the key writes it.
	forged := StoreCache{Store: s, Namespace: "team-b", Producer: "a task"}
	if err := forged.Put(ctx, key, &engine.CachedResult{Params: map[string]any{"model": "poisoned"}}); err != nil {
		t.Fatal(err)
	}
	refused("an unsigned entry", teamB, key, "signature does not match")
	// Signed with a key of the task's own.
	forged.SigningKey = []byte("not the controller's key, 32 b..")
	if err := forged.Put(ctx, key, &engine.CachedResult{Params: map[string]any{"model": "poisoned"}}); err != nil {
		t.Fatal(err)
	}
	refused("an entry signed with another key", teamB, key, "signature does not match")
	// An edited result under a kept signature.
	plant(teamA, key, []byte(strings.Replace(string(aEntry), "team a's", "poisoned", 1)))
	refused("an edited entry", teamA, key, "signature does not match")
	plant(teamA, key, []byte("garbage"))
	refused("garbage", teamA, key, "not a cache entry")
	// The same entry in another pipeline root.
	s2, err := OpenStore(ctx, "file://"+filepath.Join(dir, "root2"), StoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	teamA2 := teamA
	teamA2.Store = s2
	p, _ := teamA2.entryPath(key)
	if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, "root2", p)), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "root2", p), aEntry, 0o644); err != nil {
		t.Fatal(err)
	}
	refused("an entry copied from another root", teamA2, key, "belongs to pipeline root")

	for _, bad := range []string{"../x", "", "AB", "ab/cd"} {
		if _, err := teamA.Lookup(ctx, bad); err == nil || errors.Is(err, ErrCacheMiss) {
			t.Errorf("key %q: %v", bad, err)
		}
	}
	if _, err := (StoreCache{Store: s, Namespace: ".."}).Lookup(ctx, key); err == nil || errors.Is(err, ErrCacheMiss) {
		t.Errorf("namespace ..: %v", err)
	}
	// Local runs (no namespace, no key) keep their own unsigned entries.
	local := StoreCache{Store: s}
	if err := local.Put(ctx, key, result); err != nil {
		t.Fatal(err)
	}
	if _, ok := local.Get(ctx, key); !ok {
		t.Error("a local run's entry missed")
	}
}
