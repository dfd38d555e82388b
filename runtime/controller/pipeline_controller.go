package controller

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/kfstack/terraform-provider-kubeflow/runtime/api/v1alpha1"
	"github.com/kfstack/terraform-provider-kubeflow/runtime/api/validation"
)

// PipelineReconciler turns content changes into new versions.
type PipelineReconciler struct {
	client.Client
	// Recorder emits an event for each new version and for invalid content.
	Recorder events.EventRecorder
}

// +kubebuilder:rbac:groups=pipelines.kfstack.dev,resources=pipelines,verbs=get;list;watch
// +kubebuilder:rbac:groups=pipelines.kfstack.dev,resources=pipelines/status,verbs=get;update;patch

// Reconcile adds a version when the content changed and prunes old ones.
func (r *PipelineReconciler) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	cached := &v1alpha1.Pipeline{}
	if err := r.Get(ctx, req.NamespacedName, cached); err != nil {
		return reconcile.Result{}, client.IgnoreNotFound(err)
	}
	if !cached.DeletionTimestamp.IsZero() {
		return reconcile.Result{}, nil
	}
	p := cached.DeepCopy()
	st := &p.Status
	hash := p.Spec.ContentHash()
	gen := p.Generation
	if hash == st.ContentHash {
		apimeta.SetStatusCondition(&st.Conditions, metav1.Condition{Type: v1alpha1.ConditionReady, Status: metav1.ConditionTrue, Reason: v1alpha1.ReasonUpToDate, Message: fmt.Sprintf("version %d is current", st.LatestVersion), ObservedGeneration: gen})
	} else if _, err := validation.CompileContent(p.Spec.Spec, p.Spec.DAG); err != nil {
		msg := truncate("the content does not compile, so no version was added: "+err.Error(), 32768)
		apimeta.SetStatusCondition(&st.Conditions, metav1.Condition{Type: v1alpha1.ConditionReady, Status: metav1.ConditionFalse, Reason: v1alpha1.ReasonInvalidContent, Message: msg, ObservedGeneration: gen})
		r.Recorder.Eventf(p, nil, corev1.EventTypeWarning, v1alpha1.ReasonInvalidContent, "Validating", "%s", msg)
	} else {
		next := st.LatestVersion + 1
		st.Versions = append(st.Versions, v1alpha1.PipelineVersion{Number: next, ContentHash: hash, Created: metav1.Now(), Spec: p.Spec.Spec, DAG: p.Spec.DAG})
		st.LatestVersion, st.ContentHash = next, hash
		apimeta.SetStatusCondition(&st.Conditions, metav1.Condition{Type: v1alpha1.ConditionReady, Status: metav1.ConditionTrue, Reason: v1alpha1.ReasonVersionAdded, Message: fmt.Sprintf("version %d added", next), ObservedGeneration: gen})
		r.Recorder.Eventf(p, nil, corev1.EventTypeNormal, v1alpha1.ReasonVersionAdded, "Versioning", "version %d added", next)
	}
	keep := int(p.Spec.MaxVersions)
	if keep <= 0 {
		keep = v1alpha1.DefaultMaxVersions
	}
	if over := len(st.Versions) - keep; over > 0 {
		st.Versions = append([]v1alpha1.PipelineVersion(nil), st.Versions[over:]...)
	}
	st.ObservedGeneration = gen
	if equality.Semantic.DeepEqual(cached.Status, p.Status) {
		return reconcile.Result{}, nil
	}
	if err := r.Status().Update(ctx, p); err != nil {
		if apierrors.IsConflict(err) {
			return reconcile.Result{RequeueAfter: conflictRetry}, nil
		}
		return reconcile.Result{}, fmt.Errorf("updating Pipeline status: %w", err)
	}
	return reconcile.Result{}, nil
}

// SetupWithManager registers the reconciler; only spec changes matter.
func (r *PipelineReconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		For(&v1alpha1.Pipeline{}, builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Complete(r)
}
