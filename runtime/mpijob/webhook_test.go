package mpijob_test

import (
	"context"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	kubeflow "github.com/kfstack/terraform-provider-kubeflow/runtime/api/kubeflow/v2beta1"
	"github.com/kfstack/terraform-provider-kubeflow/runtime/mpijob"
)

// TestValidatorTemplates: a started job's pod templates change only while
// it is suspended (Kueue's node selectors and tolerations, then resume);
// worker replicas may change (elastic jobs); with the controller off,
// everything is admitted.
func TestValidatorTemplates(t *testing.T) {
	ctx := context.Background()
	v := mpijob.Validator{Enabled: true}
	old := newJob("team", "train", 2)
	now := metav1.Now()
	old.Status.StartTime = &now

	changed := old.DeepCopy()
	changed.Spec.MPIReplicaSpecs[kubeflow.MPIReplicaTypeWorker].Template.Spec.Containers[0].Image = "example.com/mpi:2"
	if _, err := v.ValidateUpdate(ctx, old, changed); err == nil || !strings.Contains(err.Error(), "spec.mpiReplicaSpecs[Worker].template") {
		t.Errorf("a running job's worker image changed: %v", err)
	}
	if _, err := (mpijob.Validator{}).ValidateUpdate(ctx, old, changed); err != nil {
		t.Errorf("the disabled validator refused: %v", err)
	}

	suspended := changed.DeepCopy()
	yes := true
	suspended.Spec.RunPolicy.Suspend = &yes
	if _, err := v.ValidateUpdate(ctx, old, suspended); err != nil {
		t.Errorf("a change while suspending was refused: %v", err)
	}

	placed := old.DeepCopy()
	placed.Spec.MPIReplicaSpecs[kubeflow.MPIReplicaTypeWorker].Template.Spec.NodeSelector = map[string]string{"cloud.google.com/gke-nodepool": "a100"}
	scaled := old.DeepCopy()
	three := int32(3)
	scaled.Spec.MPIReplicaSpecs[kubeflow.MPIReplicaTypeWorker].Replicas = &three
	for name, job := range map[string]*kubeflow.MPIJob{"node selector": placed, "worker replicas": scaled} {
		if _, err := v.ValidateUpdate(ctx, old, job); err != nil {
			t.Errorf("%s refused on a running job: %v", name, err)
		}
	}
	if _, err := v.ValidateCreate(ctx, newJob("team", "1bad", 2)); err == nil || !strings.Contains(err.Error(), "metadata.name") {
		t.Errorf("a bad name passed: %v", err)
	}
}
