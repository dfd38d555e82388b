package controller

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"sync"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/kfstack/terraform-provider-kubeflow/runtime/api/v1alpha1"
)

// localExecutorNotice publishes, while a controller that allows the local
// executor runs, that the runtime allows it: the annotation
// v1alpha1.AnnotationLocalExecutor on the PipelineRun CRD, which
// kubeflow_run reads at plan time (it cannot see the controller's flags).
// It sets the annotation once for each CRD it sees (also one made after
// the controller started, or made again), unless another controller's is
// there, and removes it when the controller stops if it is still its own;
// an annotation removed by hand stays removed (the plans of local runs
// are then refused) until the CRD or the controller is replaced. The annotation grants
// nothing: a controller without --allow-local-executor refuses such runs
// whatever it says; a stale one (a controller killed) only lets a plan
// through that the runtime then refuses. Only a controller outside the
// cluster allows the local executor, so only one there, with its user's
// credentials, needs to patch the CRD; the installed controller's role
// cannot.
type localExecutorNotice struct {
	client client.Client
	reader client.Reader
	// holder identifies this controller process.
	holder string
	// seen is the UID of the CRD this controller annotated (or found
	// annotated).
	mu   sync.Mutex
	seen types.UID
}

var (
	_ manager.Runnable     = (*localExecutorNotice)(nil)
	_ reconcile.Reconciler = (*localExecutorNotice)(nil)
)

// LocalExecutorNoticeLog is what the controller logs once it has said, on
// the PipelineRun CRD, that it allows the local executor (make demo waits
// for it before planning).
const LocalExecutorNoticeLog = "the local executor is allowed: said so on the PipelineRun CRD for kubeflow_run's plan"

// setupLocalExecutorNotice sets the notice at once, when the CRD exists (a
// plan right after the controller starts must see it), watches the CRD's
// metadata to set it again on a new CRD, and removes it on the way out.
func setupLocalExecutorNotice(ctx context.Context, mgr ctrl.Manager) error {
	n := &localExecutorNotice{client: mgr.GetClient(), reader: mgr.GetAPIReader(), holder: localExecutorHolder()}
	crd := crdMeta()
	err := n.reader.Get(ctx, client.ObjectKey{Name: v1alpha1.PipelineRunCRDName}, crd)
	switch {
	case err == nil && crd.Annotations[v1alpha1.AnnotationLocalExecutor] != "":
		n.see(crd.UID)
		log.FromContext(ctx).Info(LocalExecutorNoticeLog, "by", crd.Annotations[v1alpha1.AnnotationLocalExecutor])
	case err == nil:
		if err := n.annotate(ctx, &n.holder); err != nil {
			log.FromContext(ctx).Error(err, "publishing that this controller allows the local executor; kubeflow_run plans with executor local will be refused")
		} else {
			n.see(crd.UID)
			log.FromContext(ctx).Info(LocalExecutorNoticeLog, "by", n.holder)
		}
	case !apierrors.IsNotFound(err):
		log.FromContext(ctx).Error(err, "reading the PipelineRun CRD")
	}
	ours := predicate.NewPredicateFuncs(func(o client.Object) bool { return o.GetName() == v1alpha1.PipelineRunCRDName })
	if err := ctrl.NewControllerManagedBy(mgr).Named("local-executor-notice").
		For(crdMeta(), builder.OnlyMetadata, builder.WithPredicates(ours)).
		Complete(n); err != nil {
		return err
	}
	return mgr.Add(n)
}

// Reconcile annotates a CRD it has not seen before, unless another
// controller's value is there: two such controllers never take turns.
func (n *localExecutorNotice) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	crd := crdMeta()
	if err := n.client.Get(ctx, req.NamespacedName, crd); err != nil {
		return reconcile.Result{}, client.IgnoreNotFound(err)
	}
	n.mu.Lock()
	seen := n.seen == crd.UID
	n.mu.Unlock()
	if seen {
		return reconcile.Result{}, nil
	}
	if crd.Annotations[v1alpha1.AnnotationLocalExecutor] != "" {
		n.see(crd.UID)
		return reconcile.Result{}, nil
	}
	if err := n.annotate(ctx, &n.holder); err != nil && !apierrors.IsNotFound(err) {
		// Advisory only: plans of local runs are refused, admission and the
		// controller allow them.
		log.FromContext(ctx).Error(err, "publishing that this controller allows the local executor; kubeflow_run plans with executor local will be refused",
			"crd", v1alpha1.PipelineRunCRDName, "annotation", v1alpha1.AnnotationLocalExecutor)
		return reconcile.Result{RequeueAfter: time.Minute}, nil
	}
	n.see(crd.UID)
	log.FromContext(ctx).Info(LocalExecutorNoticeLog, "by", n.holder)
	return reconcile.Result{}, nil
}

func (n *localExecutorNotice) see(uid types.UID) {
	n.mu.Lock()
	n.seen = uid
	n.mu.Unlock()
}

// NeedLeaderElection is false: the notice goes when this process stops,
// leader or not.
func (*localExecutorNotice) NeedLeaderElection() bool { return false }

// Start waits for the controller to stop, then removes the annotation if
// it is this controller's.
func (n *localExecutorNotice) Start(ctx context.Context) error {
	<-ctx.Done()
	stop, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	crd := crdMeta()
	if err := n.reader.Get(stop, client.ObjectKey{Name: v1alpha1.PipelineRunCRDName}, crd); err == nil && crd.Annotations[v1alpha1.AnnotationLocalExecutor] == n.holder {
		if err := n.annotate(stop, nil); err != nil {
			log.FromContext(ctx).Error(err, "removing the local executor notice")
		}
	}
	return nil
}

// annotate sets the annotation to *value, or removes it (nil).
func (n *localExecutorNotice) annotate(ctx context.Context, value *string) error {
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": map[string]any{v1alpha1.AnnotationLocalExecutor: value}}})
	if err != nil {
		return err
	}
	crd := crdMeta()
	crd.Name = v1alpha1.PipelineRunCRDName
	return n.client.Patch(ctx, crd, client.RawPatch(types.MergePatchType, patch))
}

// crdMeta is the metadata of a CRD: enough to watch and patch annotations
// without the apiextensions types in the manager's scheme.
func crdMeta() *metav1.PartialObjectMetadata {
	m := &metav1.PartialObjectMetadata{}
	m.SetGroupVersionKind(apiextensionsv1.SchemeGroupVersion.WithKind("CustomResourceDefinition"))
	return m
}

// localExecutorHolder names this process in the notice.
func localExecutorHolder() string {
	host, _ := os.Hostname()
	return fmt.Sprintf("%s pid %d since %s", host, os.Getpid(), time.Now().UTC().Format(time.RFC3339))
}
