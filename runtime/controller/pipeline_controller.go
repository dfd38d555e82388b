package controller

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	"github.com/kfstack/terraform-provider-kubeflow/runtime/api/v1alpha1"
	"github.com/kfstack/terraform-provider-kubeflow/runtime/api/validation"
	"github.com/kfstack/terraform-provider-kubeflow/runtime/api/versions"
)

// PipelineReconciler turns content changes into new versions, each with
// its content in an immutable ConfigMap (runtime/api/versions), prunes old
// versions, and collects the ConfigMaps of versions no longer kept (pruned,
// or of a deleted pipeline) once no unfinished run uses them.
type PipelineReconciler struct {
	client.Client
	// APIReader reads a version's ConfigMap past the cache, which holds
	// only their metadata.
	APIReader client.Reader
	// Recorder emits an event for each new version and for invalid content.
	Recorder events.EventRecorder

	// versions holds the metadata of version ConfigMaps, and no other
	// ConfigMap. It is the reconciler's own cache, not the manager's: a
	// cache's selector is one per kind, and the manager's ConfigMap
	// selector belongs to whoever else shares it (the MPIJob controller
	// selects its own).
	versions cache.Cache
}

// Reconcile adds a version when the content changed, prunes old ones and
// collects the content nobody needs any more.
func (r *PipelineReconciler) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	cached := &v1alpha1.Pipeline{}
	if err := r.Get(ctx, req.NamespacedName, cached); err != nil {
		if apierrors.IsNotFound(err) {
			return reconcile.Result{}, r.collect(ctx, req.NamespacedName, nil)
		}
		return reconcile.Result{}, fmt.Errorf("getting Pipeline: %w", err)
	}
	if !cached.DeletionTimestamp.IsZero() {
		return reconcile.Result{}, r.collect(ctx, req.NamespacedName, nil)
	}
	p := cached.DeepCopy()
	// A version whose content could not be stored is retried with
	// backoff, after the status says why.
	retry := r.version(ctx, p)
	if !equality.Semantic.DeepEqual(cached.Status, p.Status) {
		if err := r.Status().Update(ctx, p); err != nil {
			if apierrors.IsConflict(err) {
				return reconcile.Result{RequeueAfter: conflictRetry}, nil
			}
			return reconcile.Result{}, fmt.Errorf("updating Pipeline status: %w", err)
		}
	}
	if retry != nil {
		return reconcile.Result{}, retry
	}
	return reconcile.Result{}, r.collect(ctx, req.NamespacedName, p)
}

// version brings p's status up to its content: a new version (its content
// stored first) when the content changed and compiles, the Ready
// condition, and the versions kept. It returns the error of a store that
// failed, which the Ready condition reports too.
func (r *PipelineReconciler) version(ctx context.Context, p *v1alpha1.Pipeline) error {
	st := &p.Status
	hash := p.Spec.ContentHash()
	gen := p.Generation
	ready := func(status metav1.ConditionStatus, reason, msg string) {
		apimeta.SetStatusCondition(&st.Conditions, metav1.Condition{Type: v1alpha1.ConditionReady, Status: status, Reason: reason, Message: truncate(msg, 32768), ObservedGeneration: gen})
	}
	refuse := func(msg string) {
		ready(metav1.ConditionFalse, v1alpha1.ReasonInvalidContent, msg)
		r.Recorder.Eventf(p, nil, corev1.EventTypeWarning, v1alpha1.ReasonInvalidContent, "Validating", "%s", truncate(msg, 32768))
	}
	if hash == st.ContentHash {
		ready(metav1.ConditionTrue, v1alpha1.ReasonUpToDate, fmt.Sprintf("version %d is current", st.LatestVersion))
	} else if _, err := validation.CompileContent(p.Spec.Spec, p.Spec.DAG); err != nil {
		refuse("the content does not compile, so no version was added: " + err.Error())
	} else {
		next := st.LatestVersion + 1
		cm, err := versions.ConfigMap(p, next, p.Spec)
		if err != nil {
			refuse("the content cannot be stored, so no version was added: " + err.Error())
		} else {
			if err := r.store(ctx, cm, hash); err != nil {
				ready(metav1.ConditionFalse, v1alpha1.ReasonContentNotStored, fmt.Sprintf("version %d is not added yet: %v", next, err))
				st.ObservedGeneration = gen
				return err
			}
			st.Versions = append(st.Versions, v1alpha1.PipelineVersion{Number: next, ContentHash: hash, Created: metav1.Now(), ConfigMap: cm.Name})
			st.LatestVersion, st.ContentHash = next, hash
			ready(metav1.ConditionTrue, v1alpha1.ReasonVersionAdded, fmt.Sprintf("version %d added", next))
			r.Recorder.Eventf(p, nil, corev1.EventTypeNormal, v1alpha1.ReasonVersionAdded, "Versioning", "version %d added", next)
		}
	}
	keep := int(p.Spec.MaxVersions)
	if keep <= 0 {
		keep = v1alpha1.DefaultMaxVersions
	}
	if over := len(st.Versions) - keep; over > 0 {
		st.Versions = append([]v1alpha1.PipelineVersion(nil), st.Versions[over:]...)
	}
	st.ObservedGeneration = gen
	return nil
}

// store creates a version's ConfigMap. One that exists already is kept
// when it holds this content (made by a step whose status update was
// lost), and replaced otherwise: no status names it, so no run uses it.
func (r *PipelineReconciler) store(ctx context.Context, cm *corev1.ConfigMap, hash string) error {
	err := r.Create(ctx, cm)
	if !apierrors.IsAlreadyExists(err) {
		if err != nil {
			return fmt.Errorf("creating ConfigMap %s for a new version: %w", cm.Name, err)
		}
		return nil
	}
	existing := &corev1.ConfigMap{}
	if err := r.APIReader.Get(ctx, client.ObjectKeyFromObject(cm), existing); err != nil {
		return fmt.Errorf("reading ConfigMap %s: %w", cm.Name, err)
	}
	if _, err := versions.Content(existing, hash); err == nil && existing.Labels[versions.LabelPipelineUID] == cm.Labels[versions.LabelPipelineUID] {
		return nil
	}
	if err := r.Delete(ctx, existing, client.Preconditions{UID: &existing.UID}); client.IgnoreNotFound(err) != nil {
		return fmt.Errorf("replacing ConfigMap %s: %w", cm.Name, err)
	}
	return fmt.Errorf("ConfigMap %s held other content; it was deleted and is made again", cm.Name)
}

// collect deletes the ConfigMaps of the pipeline's versions that are no
// longer kept, and all of them when the pipeline is gone (live nil, or
// one of another UID), except those an unfinished run executes: they go
// when their last run ends (a run's end or deletion triggers collect).
// While a run of the pipeline has not resolved its version yet, pruned
// versions wait too: it may be resolving one of them from a cache that
// still shows it.
func (r *PipelineReconciler) collect(ctx context.Context, key types.NamespacedName, live *v1alpha1.Pipeline) error {
	cms := &metav1.PartialObjectMetadataList{}
	cms.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("ConfigMapList"))
	if err := r.versions.List(ctx, cms, client.InNamespace(key.Namespace), client.HasLabels{versions.LabelPipelineUID}); err != nil {
		return fmt.Errorf("listing version ConfigMaps: %w", err)
	}
	floor := int32(0)
	if live != nil {
		floor = live.Status.LatestVersion + 1
		for _, v := range live.Status.Versions {
			floor = min(floor, v.Number)
		}
	}
	var unresolved *bool
	for i := range cms.Items {
		cm := &cms.Items[i]
		uid, n, ok := versions.Of(cm)
		if !ok || cm.Annotations[versions.AnnotationPipeline] != key.Name || !cm.DeletionTimestamp.IsZero() {
			continue
		}
		current := live != nil && uid == live.UID
		// Kept, or newer than the status this cache shows.
		if current && n >= floor {
			continue
		}
		used, err := r.inUse(ctx, key.Namespace, cm.Name)
		if err != nil {
			return err
		}
		if used {
			continue
		}
		if current {
			if unresolved == nil {
				u, err := r.unresolvedRuns(ctx, key)
				if err != nil {
					return err
				}
				unresolved = &u
			}
			if *unresolved {
				continue
			}
		}
		if err := r.Delete(ctx, cm, client.Preconditions{UID: &cm.UID}); client.IgnoreNotFound(err) != nil && !apierrors.IsConflict(err) {
			return fmt.Errorf("deleting ConfigMap %s of a version no longer kept: %w", cm.Name, err)
		}
		log.FromContext(ctx).V(1).Info("collected the content of a version no longer kept", "configMap", cm.Name, "version", n)
	}
	return nil
}

// inUse reports whether an unfinished run executes the version whose
// content is in ConfigMap name. It asks the API server (the runs'
// selectable fields), not this controller's cache, which may hold only
// some runs (--run-selector) and may lag.
func (r *PipelineReconciler) inUse(ctx context.Context, ns, name string) (bool, error) {
	return r.anyRun(ctx, ns, fields.OneTermEqualSelector("status.versionConfigMap", name))
}

// unresolvedRuns reports whether an unfinished run of the pipeline has not
// recorded its version yet.
func (r *PipelineReconciler) unresolvedRuns(ctx context.Context, key types.NamespacedName) (bool, error) {
	return r.anyRun(ctx, key.Namespace, fields.AndSelectors(
		fields.OneTermEqualSelector("spec.pipeline", key.Name),
		fields.OneTermEqualSelector("status.versionConfigMap", ""),
	))
}

// anyRun reports whether a run of the namespace that has not ended and is
// not being deleted matches sel.
func (r *PipelineReconciler) anyRun(ctx context.Context, ns string, sel fields.Selector) (bool, error) {
	for _, phase := range []v1alpha1.RunPhase{v1alpha1.RunSucceeded, v1alpha1.RunFailed, v1alpha1.RunCancelled} {
		sel = fields.AndSelectors(sel, fields.OneTermNotEqualSelector("status.phase", string(phase)))
	}
	runs := &v1alpha1.PipelineRunList{}
	if err := r.APIReader.List(ctx, runs, client.InNamespace(ns), client.MatchingFieldsSelector{Selector: sel}); err != nil {
		return false, fmt.Errorf("listing runs (%s): %w", sel, err)
	}
	for i := range runs.Items {
		if unfinished(&runs.Items[i]) {
			return true, nil
		}
	}
	return false, nil
}

// unfinished is true for a run that has not ended and is not being deleted.
func unfinished(run *v1alpha1.PipelineRun) bool {
	return !run.Status.Phase.Terminal() && run.DeletionTimestamp.IsZero()
}

// versionsSelector selects the ConfigMaps of versions, the only ones the
// reconciler's cache holds (their metadata).
func versionsSelector() labels.Selector {
	req, _ := labels.NewRequirement(versions.LabelPipelineUID, selection.Exists, nil)
	return labels.NewSelector().Add(*req)
}

// SetupWithManager registers the reconciler: content changes and
// deletions of pipelines, runs that free a version's content (ended,
// deleted, or resolved while pruned versions waited for them), and the
// version ConfigMaps (a restarted controller collects what its
// predecessor left).
func (r *PipelineReconciler) SetupWithManager(mgr ctrl.Manager) error {
	c, err := cache.New(mgr.GetConfig(), cache.Options{
		HTTPClient:       mgr.GetHTTPClient(),
		Scheme:           mgr.GetScheme(),
		Mapper:           mgr.GetRESTMapper(),
		DefaultTransform: cache.TransformStripManagedFields(),
		ByObject:         map[client.Object]cache.ByObject{&corev1.ConfigMap{}: {Label: versionsSelector()}},
	})
	if err != nil {
		return fmt.Errorf("making the cache of version ConfigMaps: %w", err)
	}
	// Added as a cache, it starts and syncs before the controllers.
	if err := mgr.Add(ownCache{c}); err != nil {
		return fmt.Errorf("adding the cache of version ConfigMaps: %w", err)
	}
	r.versions = c
	cms := &metav1.PartialObjectMetadata{}
	cms.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("ConfigMap"))
	releases := predicate.Funcs{
		CreateFunc: func(event.CreateEvent) bool { return false },
		UpdateFunc: func(e event.UpdateEvent) bool {
			o, n := e.ObjectOld.(*v1alpha1.PipelineRun), e.ObjectNew.(*v1alpha1.PipelineRun)
			return (!o.Status.Phase.Terminal() && n.Status.Phase.Terminal()) || o.Status.VersionConfigMap != n.Status.VersionConfigMap ||
				(o.DeletionTimestamp.IsZero() && !n.DeletionTimestamp.IsZero())
		},
		DeleteFunc: func(event.DeleteEvent) bool { return true },
	}
	runPipeline := func(_ context.Context, o client.Object) []reconcile.Request {
		return []reconcile.Request{{NamespacedName: types.NamespacedName{Namespace: o.GetNamespace(), Name: o.(*v1alpha1.PipelineRun).Spec.Pipeline}}}
	}
	versionPipeline := func(_ context.Context, o *metav1.PartialObjectMetadata) []reconcile.Request {
		name := o.GetAnnotations()[versions.AnnotationPipeline]
		if name == "" {
			return nil
		}
		return []reconcile.Request{{NamespacedName: types.NamespacedName{Namespace: o.GetNamespace(), Name: name}}}
	}
	return ctrl.NewControllerManagedBy(mgr).
		For(&v1alpha1.Pipeline{}, builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Watches(&v1alpha1.PipelineRun{}, handler.EnqueueRequestsFromMapFunc(runPipeline), builder.WithPredicates(releases)).
		WatchesRawSource(source.Kind(c, cms, handler.TypedEnqueueRequestsFromMapFunc(versionPipeline), predicate.TypedFuncs[*metav1.PartialObjectMetadata]{
			UpdateFunc: func(event.TypedUpdateEvent[*metav1.PartialObjectMetadata]) bool { return false },
		})).
		Complete(r)
}

// ownCache is a cache the manager starts with its own, before the
// controllers.
type ownCache struct{ cache.Cache }

// GetCache makes the manager start ownCache in its caches group.
func (c ownCache) GetCache() cache.Cache { return c.Cache }
