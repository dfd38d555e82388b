package controller

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/manager"

	"github.com/kfstack/terraform-provider-kubeflow/runtime/api/v1alpha1"
)

// localExecutorNotice publishes, while the controller runs, that it allows
// the local executor: the annotation v1alpha1.AnnotationLocalExecutor on
// the PipelineRun CRD, which kubeflow_run reads at plan time (it cannot
// see the controller's flags). It removes the annotation when the
// controller stops, if it is still its own. The annotation grants
// nothing: a controller without --allow-local-executor refuses such runs
// whatever it says; a stale one (a controller killed) only lets a plan
// through that the runtime then refuses.
type localExecutorNotice struct {
	client client.Client
	reader client.Reader
	// holder identifies this controller process.
	holder string
}

var _ manager.Runnable = (*localExecutorNotice)(nil)

// NeedLeaderElection is false: every replica that allows the local
// executor says so.
func (*localExecutorNotice) NeedLeaderElection() bool { return false }

// Start sets the annotation and removes it when ctx ends.
func (n *localExecutorNotice) Start(ctx context.Context) error {
	logger := log.FromContext(ctx).WithName("local-executor-notice")
	if err := n.annotate(ctx, &n.holder); err != nil {
		// Advisory only: plans of local runs are refused, admission and the
		// controller still allow them.
		logger.Error(err, "publishing that this controller allows the local executor; kubeflow_run plans with executor local will be refused",
			"crd", v1alpha1.PipelineRunCRDName, "annotation", v1alpha1.AnnotationLocalExecutor)
	}
	<-ctx.Done()
	stop, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	crd := crdMeta()
	if err := n.reader.Get(stop, client.ObjectKey{Name: v1alpha1.PipelineRunCRDName}, crd); err == nil && crd.Annotations[v1alpha1.AnnotationLocalExecutor] == n.holder {
		if err := n.annotate(stop, nil); err != nil {
			logger.Error(err, "removing the local executor notice")
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

// localExecutorHolder names this process in the notice.
func localExecutorHolder() string {
	host, _ := os.Hostname()
	return fmt.Sprintf("%s pid %d since %s", host, os.Getpid(), time.Now().UTC().Format(time.RFC3339))
}

// crdMeta is the metadata of a CRD: enough to read and patch annotations
// without the apiextensions types in the manager's scheme.
func crdMeta() *metav1.PartialObjectMetadata {
	m := &metav1.PartialObjectMetadata{}
	m.SetGroupVersionKind(apiextensionsv1.SchemeGroupVersion.WithKind("CustomResourceDefinition"))
	return m
}
