package controller

import (
	"context"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kfstack/terraform-provider-kubeflow/runtime/api/v1alpha1"
	"github.com/kfstack/terraform-provider-kubeflow/runtime/launcher"
)

// CheckPipelineRoot reports why the controller may not open root for a
// run, which names it in spec.pipelineRoot (the controller's own default
// is always allowed): a malformed root, or a file:// root outside the
// directories the operator allowed (Options.AllowedFileRoots, the
// controller's --allowed-file-root). The controller reads and writes the
// root with its own identity (cache entries, offloaded results), so a run
// must not point it at the controller's own files.
func (o Options) CheckPipelineRoot(root string) error {
	if root == o.PipelineRoot {
		return nil
	}
	u, err := launcher.ParseRoot(root)
	if err != nil {
		return err
	}
	if u.Scheme != "file" {
		return nil
	}
	dir := filepath.Clean(u.Path)
	for _, allowed := range o.AllowedFileRoots {
		if rel, err := filepath.Rel(filepath.Clean(allowed), dir); err == nil && (rel == "." || filepath.IsLocal(rel)) {
			return nil
		}
	}
	allowed := "none: start the controller with --allowed-file-root"
	if len(o.AllowedFileRoots) > 0 {
		allowed = strings.Join(o.AllowedFileRoots, ", ")
	}
	return fmt.Errorf("file:// pipeline root %s is not under a directory this controller allows for runs' artifacts (allowed: %s)", dir, allowed)
}

// openStore acquires the run's pipeline root from the pool. A root the
// controller may not open, or that can never open (malformed), fails the
// run; another error (credentials, a mount or an endpoint not there yet)
// is retried with the controller's backoff, and the run says so with an
// event and its ArtifactStoreAvailable condition. A nil store means the
// step stops here.
func (r *PipelineRunReconciler) openStore(ctx context.Context, run *v1alpha1.PipelineRun, root string) (*launcher.Store, func(), error) {
	if root == "" {
		return nil, nil, r.fail(ctx, run, v1alpha1.ReasonInvalid, "spec.pipelineRoot: the run names no pipeline root and the controller has no default (--pipeline-root)")
	}
	if run.Spec.PipelineRoot != "" {
		if err := r.Options.CheckPipelineRoot(run.Spec.PipelineRoot); err != nil {
			return nil, nil, r.fail(ctx, run, v1alpha1.ReasonInvalid, "spec.pipelineRoot: "+err.Error())
		}
	}
	store, release, err := r.stores.Acquire(ctx, root)
	switch {
	case err == nil:
		return store, release, nil
	case launcher.IsRootError(err):
		return nil, nil, r.fail(ctx, run, v1alpha1.ReasonInvalid, err.Error())
	}
	if !r.noteStore(run, err) {
		return nil, nil, fmt.Errorf("opening pipeline root %s: %w", redactRoot(root), err)
	}
	if uerr := r.Status().Update(ctx, run); uerr != nil {
		return nil, nil, fmt.Errorf("opening pipeline root %s: %w (and updating the run's status: %w)", redactRoot(root), err, uerr)
	}
	return nil, nil, fmt.Errorf("opening pipeline root %s: %w", redactRoot(root), err)
}

// noteStore records whether the artifact store answered: a Warning event
// and the condition ArtifactStoreAvailable=False while it does not, the
// condition True again once it does (a run that never lost its store has
// no such condition). It reports whether the status changed.
func (r *PipelineRunReconciler) noteStore(run *v1alpha1.PipelineRun, err error) bool {
	c := apimeta.FindStatusCondition(run.Status.Conditions, v1alpha1.ConditionArtifactStoreAvailable)
	if err == nil {
		if c != nil && c.Status != metav1.ConditionTrue {
			setCondition(&run.Status, v1alpha1.ConditionArtifactStoreAvailable, metav1.ConditionTrue, v1alpha1.ReasonStoreAvailable, "the artifact store answers again", run.Generation)
			return true
		}
		return false
	}
	msg := truncate(fmt.Sprintf("the artifact store is unavailable; retrying: %v", err), 1024)
	r.Recorder.Eventf(run, nil, corev1.EventTypeWarning, v1alpha1.ReasonStoreUnavailable, "OpeningArtifactStore", "%s", msg)
	if c != nil && c.Status == metav1.ConditionFalse && c.Message == msg {
		return false
	}
	setCondition(&run.Status, v1alpha1.ConditionArtifactStoreAvailable, metav1.ConditionFalse, v1alpha1.ReasonStoreUnavailable, msg, run.Generation)
	return true
}

// redactRoot drops a root's query (an endpoint's options) from messages.
func redactRoot(root string) string {
	u, err := url.Parse(root)
	if err != nil {
		return root
	}
	u.RawQuery = ""
	return u.String()
}
