package controller_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kfstack/terraform-provider-kubeflow/runtime/api/v1alpha1"
	"github.com/kfstack/terraform-provider-kubeflow/runtime/launcher"
)

const accelDAG = `name: accel
parameters:
  fail: {type: string, default: "no"}
tasks:
- name: prep
  image: registry.example/prep:1
  command: [prep]
  outputs:
    parameters: {rows: int}
- name: train-gpu
  image: registry.example/train:1
  command: [train, "{{$.inputs.parameters['rows']}}", "{{$.inputs.parameters['fail']}}"]
  resources: {gpu: 2, gpuType: nvidia-l4, cpu: "2", memory: 4Gi}
  inputs:
    parameters:
      rows: {task: prep, output: rows}
      fail: {parameter: fail}
  outputs:
    parameters: {accuracy: string}
- name: train-tpu
  image: registry.example/train:1
  command: [train-tpu]
  resources: {tpu: 4, tpuType: tpu-v5-lite-podslice}
  dependsOn: [prep]
outputs:
  accuracy: {task: train-gpu, output: accuracy}
`

func accelOutcome(spec *launcher.TaskSpec, _ int) (launcher.Message, int) {
	switch spec.Name {
	case "prep":
		return launcher.Message{Params: map[string]any{"rows": 1000}}, 0
	case "train-gpu":
		if spec.Params["fail"] == "yes" {
			return launcher.Message{Error: "running train: exit status 2", LogTail: "epoch 1\nCUDA error: out of memory\n"}, 1
		}
		return launcher.Message{Params: map[string]any{"accuracy": fmt.Sprintf("0.93 on %v rows", spec.Params["rows"])}}, 0
	}
	return launcher.Message{}, 0
}

// TestPodExecutorOnSimulatedNodes runs a pipeline as pods on the KWOK
// nodes: GPU and TPU tasks land on the GPU and TPU nodes, outputs travel
// through termination messages, a failed pod names its task with its log,
// and deleting a run collects its pods.
func TestPodExecutorOnSimulatedNodes(t *testing.T) {
	ctx := context.Background()
	ns := namespace(t)
	startPrograms(t, ns, accelOutcome)
	createPipeline(t, ns, "accel", "", accelDAG)
	createRun(t, ns, "ok", "accel", v1alpha1.ExecutorPod, nil, func(r *v1alpha1.PipelineRun) { r.Spec.ServiceAccountName = "default" })
	start := time.Now()
	r := waitRun(t, ns, "ok", time.Minute)
	t.Logf("three-task run on pods finished in %s", time.Since(start).Round(time.Millisecond))
	if r.Status.Phase != v1alpha1.RunSucceeded || r.Status.Outputs["accuracy"] != `"0.93 on 1000 rows"` {
		t.Fatalf("ok: %s outputs %v", describe(r), r.Status.Outputs)
	}
	pods := &corev1.PodList{}
	if err := k8s.List(ctx, pods, client.InNamespace(ns), client.MatchingLabels{v1alpha1.LabelRunUID: string(r.UID)}); err != nil {
		t.Fatal(err)
	}
	if len(pods.Items) != 3 {
		t.Errorf("%d pods, want one per task", len(pods.Items))
	}
	prefixes := map[string]string{"prep": "kwok-cpu-", "train-gpu": "kwok-gpu-", "train-tpu": "kwok-tpu-"}
	for _, p := range pods.Items {
		task := p.Annotations[v1alpha1.AnnotationTask]
		if !strings.HasPrefix(p.Spec.NodeName, prefixes[task]) || p.Status.Phase != corev1.PodSucceeded {
			t.Errorf("task %s: pod %s on node %q, %s; want %s* and Succeeded", task, p.Name, p.Spec.NodeName, p.Status.Phase, prefixes[task])
		}
		if !metav1.IsControlledBy(&p, r) || p.Spec.ServiceAccountName != "default" || p.Spec.InitContainers[0].Image != "kfstack-runtime:test" {
			t.Errorf("pod %s: owner %v, service account %q, init %v", p.Name, p.OwnerReferences, p.Spec.ServiceAccountName, p.Spec.InitContainers)
		}
		c := p.Spec.Containers[0]
		switch p.Annotations[v1alpha1.AnnotationTask] {
		case "train-gpu":
			if q := c.Resources.Limits["nvidia.com/gpu"]; q.Value() != 2 || p.Spec.NodeSelector["cloud.google.com/gke-accelerator"] != "nvidia-l4" {
				t.Errorf("gpu pod: limits %v, selector %v", c.Resources.Limits, p.Spec.NodeSelector)
			}
		case "train-tpu":
			if q := c.Resources.Limits["google.com/tpu"]; q.Value() != 4 || p.Spec.NodeSelector["cloud.google.com/gke-tpu-accelerator"] != "tpu-v5-lite-podslice" {
				t.Errorf("tpu pod: limits %v, selector %v", c.Resources.Limits, p.Spec.NodeSelector)
			}
		}
	}

	createRun(t, ns, "bad", "accel", v1alpha1.ExecutorPod, map[string]string{"fail": "yes"})
	r = waitRun(t, ns, "bad", time.Minute)
	if r.Status.Phase != v1alpha1.RunFailed || r.Status.Failure == nil || r.Status.Failure.Task != "train-gpu" {
		t.Fatalf("bad: %s", describe(r))
	}
	contains(t, "failure", r.Status.Failure.Message+r.Status.Failure.LogTail, "exit status 2", "CUDA error: out of memory")

	// Garbage collection: the pods go with their run.
	run := &v1alpha1.PipelineRun{}
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "ok"}, run); err != nil {
		t.Fatal(err)
	}
	if err := k8s.Delete(ctx, run); err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	defer func() {
		t.Logf("pods collected %s after their run was deleted", time.Since(start).Round(time.Millisecond))
	}()
	deadline := time.Now().Add(time.Minute)
	for {
		if err := k8s.List(ctx, pods, client.InNamespace(ns), client.MatchingLabels{v1alpha1.LabelRunUID: string(run.UID)}); err != nil {
			t.Fatal(err)
		}
		if len(pods.Items) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d pods left a minute after their run was deleted", len(pods.Items))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

const lostDAG = `name: lost
tasks:
- name: work
  image: registry.example/work:1
  command: [work]
  retries: 1
`

// TestLostPodIsRetried: a task pod deleted while it runs fails its
// attempt, and the retry runs in a new pod.
func TestLostPodIsRetried(t *testing.T) {
	ctx := context.Background()
	ns := namespace(t)
	prog := startPrograms(t, ns, succeed)
	prog.hold("work", true)
	createPipeline(t, ns, "lost", "", lostDAG)
	createRun(t, ns, "victim", "lost", v1alpha1.ExecutorPod, nil)
	first := waitAttemptPod(t, ns, "victim", "work", 1)
	var zero int64
	if err := k8s.Delete(ctx, first, &client.DeleteOptions{GracePeriodSeconds: &zero}); err != nil {
		t.Fatal(err)
	}
	waitAttemptPod(t, ns, "victim", "work", 2)
	prog.hold("work", false)
	r := waitRun(t, ns, "victim", time.Minute)
	if r.Status.Phase != v1alpha1.RunSucceeded {
		t.Fatalf("victim: %s", describe(r))
	}
}
