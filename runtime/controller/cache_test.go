package controller_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kfstack/terraform-provider-kubeflow/runtime/api/v1alpha1"
	"github.com/kfstack/terraform-provider-kubeflow/runtime/engine"
	"github.com/kfstack/terraform-provider-kubeflow/runtime/launcher"
)

const cacheDAG = `name: cached
parameters:
  x: {type: string}
tasks:
- name: produce
  image: registry.example/produce:1
  command: [produce, "{{$.inputs.parameters['x']}}"]
  cache: true
  inputs: {parameters: {x: {parameter: x}}}
  outputs: {parameters: {y: string}}
- name: consume
  image: registry.example/consume:1
  command: [consume, "{{$.inputs.parameters['y']}}"]
  cache: true
  inputs: {parameters: {y: {task: produce, output: y}}}
  outputs: {parameters: {z: string}}
- name: always
  image: registry.example/always:1
  command: [always]
  dependsOn: [produce]
outputs:
  y: {task: produce, output: y}
  z: {task: consume, output: z}
`

// TestCachedTasksCreateNoPod: a second run whose tasks have the same
// component and inputs as tasks that succeeded before reuses their
// outputs, creates no pod for them and counts them as cache hits; the
// task without caching runs again, and other inputs miss the cache.
func TestCachedTasksCreateNoPod(t *testing.T) {
	ctx := context.Background()
	ns := namespace(t)
	var mu sync.Mutex
	executions := 0
	startPrograms(t, ns, func(spec *launcher.TaskSpec, _ int) (launcher.Message, int) {
		mu.Lock()
		executions++
		n := executions
		mu.Unlock()
		switch spec.Name {
		case "produce":
			// Each execution differs: a reused result is the first one.
			return launcher.Message{Params: map[string]any{"y": fmt.Sprintf("%v made by execution %d", spec.Params["x"], n)}}, 0
		case "consume":
			return launcher.Message{Params: map[string]any{"z": fmt.Sprintf("used %v", spec.Params["y"])}}, 0
		}
		return launcher.Message{}, 0
	})
	createPipeline(t, ns, "cached", "", cacheDAG)
	x := map[string]string{"x": ns} // unique: -count=2 shares the pipeline root
	podTasks := func(r *v1alpha1.PipelineRun) []string {
		t.Helper()
		pods := &corev1.PodList{}
		if err := k8s.List(ctx, pods, client.InNamespace(ns), client.MatchingLabels{v1alpha1.LabelRunUID: string(r.UID)}); err != nil {
			t.Fatal(err)
		}
		var tasks []string
		for _, p := range pods.Items {
			tasks = append(tasks, p.Annotations[v1alpha1.AnnotationTask])
		}
		sort.Strings(tasks)
		return tasks
	}
	cachedNodes := func(r *v1alpha1.PipelineRun) int {
		t.Helper()
		var s engine.State
		if err := json.Unmarshal(r.Status.State.Raw, &s); err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, node := range s.Nodes {
			if node.Cached {
				n++
			}
		}
		return n
	}

	createRun(t, ns, "first", "cached", v1alpha1.ExecutorPod, x)
	first := waitRun(t, ns, "first", time.Minute)
	if first.Status.Phase != v1alpha1.RunSucceeded || first.Status.CachedTasks != 0 {
		t.Fatalf("first: %s, %d cached", describe(first), first.Status.CachedTasks)
	}
	if got := podTasks(first); fmt.Sprint(got) != "[always consume produce]" {
		t.Errorf("first run's pods are for %v, want one per task", got)
	}

	createRun(t, ns, "second", "cached", v1alpha1.ExecutorPod, x)
	second := waitRun(t, ns, "second", time.Minute)
	if second.Status.Phase != v1alpha1.RunSucceeded {
		t.Fatalf("second: %s", describe(second))
	}
	if second.Status.CachedTasks != 2 || cachedNodes(second) != 2 || second.Status.Tasks["Succeeded"] != 3 {
		t.Errorf("second: %d cached tasks, %d cached nodes in the state, tasks %v; want 2, 2 and 3 succeeded", second.Status.CachedTasks, cachedNodes(second), second.Status.Tasks)
	}
	for _, k := range []string{"y", "z"} {
		if second.Status.Outputs[k] != first.Status.Outputs[k] {
			t.Errorf("second: output %s = %s, want the first run's %s", k, second.Status.Outputs[k], first.Status.Outputs[k])
		}
	}
	if got := podTasks(second); fmt.Sprint(got) != "[always]" {
		t.Errorf("second run's pods are for %v, want only the task without caching", got)
	}

	createRun(t, ns, "other", "cached", v1alpha1.ExecutorPod, map[string]string{"x": ns + "-other"})
	other := waitRun(t, ns, "other", time.Minute)
	if other.Status.Phase != v1alpha1.RunSucceeded || other.Status.CachedTasks != 0 || other.Status.Outputs["y"] == first.Status.Outputs["y"] {
		t.Errorf("other inputs: %s, %d cached, outputs %v", describe(other), other.Status.CachedTasks, other.Status.Outputs)
	}
	if got := podTasks(other); fmt.Sprint(got) != "[always consume produce]" {
		t.Errorf("other run's pods are for %v, want one per task", got)
	}
}
