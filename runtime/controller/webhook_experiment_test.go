package controller_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kfstack/terraform-provider-kubeflow/runtime/api/v1alpha1"
)

// TestWebhookExperiment checks runs against their experiment at admission:
// a run in an archived experiment is refused, naming spec.experiment; one
// naming an experiment without an object is admitted with a warning; the
// default experiment needs no object; and the experiment cannot change
// after creation (the CRD's rule and the webhook both say so). A run that
// names none is stored in "default" (the CRD's default).
func TestWebhookExperiment(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	ns := namespace(t)
	registerWebhooks(ctx, t, ns, testOptions)
	warned := &warnings{}
	cfg := rest.CopyConfig(cluster.Config)
	cfg.WarningHandler = warned
	kc, err := client.New(cfg, client.Options{Scheme: k8s.Scheme()})
	if err != nil {
		t.Fatal(err)
	}
	counter := filepath.Join(t.TempDir(), "counter")
	newRun := func(name, experiment string) *v1alpha1.PipelineRun {
		return &v1alpha1.PipelineRun{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
			Spec: v1alpha1.PipelineRunSpec{Pipeline: "retry", Experiment: experiment, Executor: v1alpha1.ExecutorLocal, Parameters: map[string]string{"counter": counter}}}
	}
	if err := kc.Create(ctx, &v1alpha1.Experiment{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "old"}, Spec: v1alpha1.ExperimentSpec{Archived: true}}); err != nil {
		t.Fatal(err)
	}
	err = kc.Create(ctx, newRun("in-archived", "old"))
	if !apierrors.IsInvalid(err) {
		t.Fatalf("a run in an archived experiment: %v, want an Invalid error", err)
	}
	contains(t, "archived", err.Error(), `admission webhook "pipelineruns.kfstack.dev" denied the request`, `spec.experiment: Forbidden: experiment "old" is archived`)

	warned.reset()
	if err := kc.Create(ctx, newRun("in-unknown", "tuning")); err != nil {
		t.Fatalf("a run in an experiment without an object was refused: %v", err)
	}
	contains(t, "warnings", warned.String(), `spec.experiment: experiment "tuning" has no Experiment object`)

	warned.reset()
	plain := newRun("plain", "")
	if err := kc.Create(ctx, plain); err != nil {
		t.Fatal(err)
	}
	if plain.Spec.Experiment != v1alpha1.DefaultExperiment {
		t.Errorf("a run without an experiment is stored with experiment %q, want %q", plain.Spec.Experiment, v1alpha1.DefaultExperiment)
	}
	if w := warned.String(); strings.Contains(w, "spec.experiment") {
		t.Errorf("the default experiment was warned about: %s", w)
	}

	err = kc.Create(ctx, newRun("bad-name", "Not_A_Name"))
	if !apierrors.IsInvalid(err) {
		t.Fatalf("a run naming an invalid experiment: %v, want an Invalid error", err)
	}
	contains(t, "invalid name", err.Error(), "spec.experiment")

	err = retryOnConflict(func() error {
		moved := &v1alpha1.PipelineRun{}
		if err := kc.Get(ctx, client.ObjectKeyFromObject(plain), moved); err != nil {
			return err
		}
		moved.Spec.Experiment = "tuning"
		return kc.Update(ctx, moved)
	})
	if !apierrors.IsInvalid(err) {
		t.Fatalf("moving a run to another experiment: %v, want an Invalid error", err)
	}
	contains(t, "moved", err.Error(), "experiment is immutable")
}
