package controller_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	eventsv1 "k8s.io/api/events/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kfstack/terraform-provider-kubeflow/runtime/api/v1alpha1"
)

// TestRunWaitsForItsPipelineRoot: a run whose pipeline root cannot be
// opened for now (its directory cannot be made: a file stands where its
// parent should be) is not failed: the controller says so in a
// StoreUnavailable event and tries again, and once the root can be made
// the run runs to its end. A root that can never be opened (an unknown
// scheme) fails the run at once, naming it.
func TestRunWaitsForItsPipelineRoot(t *testing.T) {
	ctx := context.Background()
	ns := namespace(t)
	startPrograms(t, ns, succeed)
	createPipeline(t, ns, "chain", "", chainDAG)
	blocked := filepath.Join(t.TempDir(), "blocked")
	if err := os.WriteFile(blocked, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	createRun(t, ns, "waits", "chain", v1alpha1.ExecutorPod, nil, func(r *v1alpha1.PipelineRun) {
		r.Spec.PipelineRoot = "file://" + filepath.Join(blocked, "root")
	})
	eventually(t, "a StoreUnavailable event for the run", func() bool {
		events := &eventsv1.EventList{}
		if err := k8s.List(ctx, events, client.InNamespace(ns)); err != nil {
			t.Fatal(err)
		}
		for _, e := range events.Items {
			if e.Reason == v1alpha1.ReasonStoreUnavailable && e.Regarding.Name == "waits" {
				return true
			}
		}
		return false
	})
	r := &v1alpha1.PipelineRun{}
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "waits"}, r); err != nil {
		t.Fatal(err)
	}
	if r.Status.Phase.Terminal() {
		t.Fatalf("a root that cannot be opened for now ended the run: %s", describe(r))
	}
	if err := os.Remove(blocked); err != nil {
		t.Fatal(err)
	}
	if r := waitRun(t, ns, "waits", 2*time.Minute); r.Status.Phase != v1alpha1.RunSucceeded || r.Status.Tasks["Succeeded"] != 3 {
		t.Errorf("once the root could be made: %s", describe(r))
	}

	createRun(t, ns, "never", "chain", v1alpha1.ExecutorPod, nil, func(r *v1alpha1.PipelineRun) {
		r.Spec.PipelineRoot = "ftp://example.com/root"
	})
	r = waitRun(t, ns, "never", time.Minute)
	if r.Status.Phase != v1alpha1.RunFailed {
		t.Fatalf("ftp root: %s", describe(r))
	}
	contains(t, "the failure", r.Status.Message, "ftp://example.com/root", "the scheme must be")
}
