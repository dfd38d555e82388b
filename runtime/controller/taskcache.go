package controller

import (
	"context"
	"crypto/rand"
	"errors"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/kfstack/terraform-provider-kubeflow/runtime/api/v1alpha1"
	"github.com/kfstack/terraform-provider-kubeflow/runtime/engine"
	"github.com/kfstack/terraform-provider-kubeflow/runtime/launcher"
)

// taskCache is the run's view of the shared cache in its pipeline root:
// its namespace's entries only, signed with the controller's key.
func (r *PipelineRunReconciler) taskCache(run *v1alpha1.PipelineRun, store *launcher.Store) launcher.StoreCache {
	return launcher.StoreCache{
		Store: store, Namespace: run.Namespace, SigningKey: r.Options.CacheSigningKey,
		Producer: run.Namespace + "/" + run.Name + " (" + string(run.UID) + ")",
	}
}

// cacheHit looks a task's cache key up. An entry that is refused is
// reported on the run (a task or a user planted or altered it) and
// counts as a miss, as does a store that cannot be read: the task runs.
func (r *PipelineRunReconciler) cacheHit(ctx context.Context, run *v1alpha1.PipelineRun, store *launcher.Store, task, key string) (*engine.CachedResult, bool) {
	hit, err := r.taskCache(run, store).Lookup(ctx, key)
	var refused *launcher.RefusedEntryError
	switch {
	case err == nil:
		return hit, true
	case errors.As(err, &refused):
		r.Recorder.Eventf(run, nil, corev1.EventTypeWarning, v1alpha1.ReasonCacheEntryRefused, "LookingUpCache", "task %s: %v; running the task", task, err)
	case !errors.Is(err, launcher.ErrCacheMiss):
		log.FromContext(ctx).Error(err, "looking up the cache; running the task", "task", task)
	}
	return nil, false
}

// newSigningKey is a random cache signing key for a controller given
// none: entries it writes are trusted by this process only.
func newSigningKey() []byte {
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	return key
}
