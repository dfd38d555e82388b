package controller_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kfstack/terraform-provider-kubeflow/internal/kfptest"
	"github.com/kfstack/terraform-provider-kubeflow/runtime/api/v1alpha1"
)

// TestLocalSharedContainerPipelines runs every container-component
// pipeline of the shared KFP test data through the controller with the
// local executor.
func TestLocalSharedContainerPipelines(t *testing.T) {
	ns := namespace(t)
	src := filepath.Join(t.TempDir(), "source.txt")
	if err := os.WriteFile(src, []byte("contents of the source"), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := kfptest.ContainerCases(t, src)
	for _, tc := range cases {
		createPipeline(t, ns, tc.Name, string(tc.Spec), "")
		createRun(t, ns, tc.Name, tc.Name, v1alpha1.ExecutorLocal, tc.Params)
	}
	for _, tc := range cases {
		r := waitRun(t, ns, tc.Name, 2*time.Minute)
		if r.Status.Phase != v1alpha1.RunSucceeded {
			t.Errorf("%s: %s", tc.File, describe(r))
			continue
		}
		if r.Status.PipelineVersion != 1 || r.Status.StartTime == nil || r.Status.CompletionTime == nil || r.Status.Tasks["Succeeded"] == 0 {
			t.Errorf("%s: status %+v", tc.File, r.Status)
		}
		for k, v := range tc.Outputs {
			if got := r.Status.Outputs[k]; got != v {
				t.Errorf("%s: output %s = %s, want %s", tc.File, k, got, v)
			}
		}
		c := apimeta.FindStatusCondition(r.Status.Conditions, v1alpha1.ConditionSucceeded)
		if c == nil || c.Status != metav1.ConditionTrue {
			t.Errorf("%s: Succeeded condition %+v", tc.File, c)
		}
	}
}

const retryDAG = `name: retry
parameters:
  counter: {type: string}
  greeting: {type: string, default: hello}
tasks:
- name: flaky
  image: busybox
  command: [sh, -c, 'n=$(cat "$0" 2>/dev/null || echo 0); n=$((n+1)); echo $n > "$0"; echo "attempt $n"; [ $n -ge 3 ]']
  args: ["{{$.inputs.parameters['counter']}}"]
  inputs:
    parameters:
      counter: {parameter: counter}
  retries: 3
  retryBackoff: 100ms
- name: report
  image: busybox
  dependsOn: [flaky]
  command: [sh, -c, 'printf "%s after %s attempts" "$0" "$(cat "$1")" > "$2"']
  args: ["{{$.inputs.parameters['greeting']}}", "{{$.inputs.parameters['counter']}}", "{{$.outputs.parameters['line'].output_file}}"]
  inputs:
    parameters:
      greeting: {parameter: greeting}
      counter: {parameter: counter}
  outputs:
    parameters: {line: string}
outputs:
  line: {task: report, output: line}
`

// TestLocalRetriesVersionsAndFailure: retries with backoff, a content
// change adds a version while runs keep theirs, and a failed task is named
// with the end of its log.
func TestLocalRetriesVersionsAndFailure(t *testing.T) {
	ctx := context.Background()
	ns := namespace(t)
	counter := filepath.Join(t.TempDir(), "attempts")
	createPipeline(t, ns, "retry", "", retryDAG)
	createRun(t, ns, "r1", "retry", v1alpha1.ExecutorLocal, map[string]string{"counter": counter})
	r := waitRun(t, ns, "r1", time.Minute)
	if r.Status.Phase != v1alpha1.RunSucceeded || r.Status.Outputs["line"] != `"hello after 3 attempts"` {
		t.Fatalf("r1: %s outputs %v", describe(r), r.Status.Outputs)
	}

	// Version 2 fails in its first task; version 1 is still runnable.
	p := &v1alpha1.Pipeline{}
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "retry"}, p); err != nil {
		t.Fatal(err)
	}
	p.Spec.DAG = strings.Replace(retryDAG, `[ $n -ge 3 ]']`, `echo "boom: disk on fire" >&2; exit 3']`, 1)
	p.Spec.DAG = strings.Replace(p.Spec.DAG, "retries: 3", "retries: 1", 1)
	if err := k8s.Update(ctx, p); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for p.Status.LatestVersion != 2 {
		if time.Now().After(deadline) {
			t.Fatalf("no version 2: %+v", p.Status)
		}
		time.Sleep(50 * time.Millisecond)
		if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "retry"}, p); err != nil {
			t.Fatal(err)
		}
	}
	if len(p.Status.Versions) != 2 || p.Status.Versions[0].ContentHash == p.Status.Versions[1].ContentHash || p.Status.ContentHash != p.Spec.ContentHash() {
		t.Errorf("versions %+v", p.Status.Versions)
	}
	createRun(t, ns, "r2", "retry", v1alpha1.ExecutorLocal, map[string]string{"counter": counter + "2"})
	createRun(t, ns, "r3", "retry", v1alpha1.ExecutorLocal, map[string]string{"counter": counter + "3", "greeting": "hi"}, func(r *v1alpha1.PipelineRun) { r.Spec.PipelineVersion = 1 })
	r2 := waitRun(t, ns, "r2", time.Minute)
	if r2.Status.Phase != v1alpha1.RunFailed || r2.Status.PipelineVersion != 2 || r2.Status.Failure == nil || r2.Status.Failure.Task != "flaky" {
		t.Fatalf("r2: %s", describe(r2))
	}
	contains(t, "r2 failure", r2.Status.Failure.Message, "exit status 3", "boom: disk on fire")
	if b, _ := os.ReadFile(counter + "2"); strings.TrimSpace(string(b)) != "2" {
		t.Errorf("version 2 ran flaky %q times, want 2 (one retry)", b)
	}
	r3 := waitRun(t, ns, "r3", time.Minute)
	if r3.Status.Phase != v1alpha1.RunSucceeded || r3.Status.PipelineVersion != 1 || r3.Status.Outputs["line"] != `"hi after 3 attempts"` {
		t.Fatalf("r3: %s %v", describe(r3), r3.Status.Outputs)
	}

	// Invalid content adds no version and says why.
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "retry"}, p); err != nil {
		t.Fatal(err)
	}
	p.Spec.DAG = strings.Replace(retryDAG, "dependsOn: [flaky]", "dependsOn: [nosuch]", 1)
	if err := k8s.Update(ctx, p); err != nil {
		t.Fatal(err)
	}
	deadline = time.Now().Add(30 * time.Second)
	for {
		if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "retry"}, p); err != nil {
			t.Fatal(err)
		}
		c := apimeta.FindStatusCondition(p.Status.Conditions, v1alpha1.ConditionReady)
		if c != nil && c.Reason == v1alpha1.ReasonInvalidContent {
			contains(t, "Ready condition", c.Message, "nosuch")
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("invalid content not reported: %+v", p.Status.Conditions)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if p.Status.LatestVersion != 2 {
		t.Errorf("invalid content added version %d", p.Status.LatestVersion)
	}
}

const sleepDAG = `name: sleeper
tasks:
- name: nap
  image: busybox
  command: [sh, -c, 'sleep 60']
- name: after
  image: busybox
  dependsOn: [nap]
  command: [sh, -c, 'true']
- name: cleanup
  image: busybox
  dependsOn: [nap]
  runOnFailure: true
  command: [sh, -c, 'echo cleaned']
`

// TestLocalCancelAndTimeout: a timeout fails the run, a cancel cancels it;
// both stop the running process at once and run the exit handler.
func TestLocalCancelAndTimeout(t *testing.T) {
	ctx := context.Background()
	ns := namespace(t)
	createPipeline(t, ns, "sleeper", "", sleepDAG)
	start := time.Now()
	createRun(t, ns, "timeout", "sleeper", v1alpha1.ExecutorLocal, nil, func(r *v1alpha1.PipelineRun) {
		r.Spec.Timeout = &metav1.Duration{Duration: time.Second}
	})
	createRun(t, ns, "cancel", "sleeper", v1alpha1.ExecutorLocal, nil)
	r := waitRun(t, ns, "timeout", 30*time.Second)
	c := apimeta.FindStatusCondition(r.Status.Conditions, v1alpha1.ConditionSucceeded)
	if r.Status.Phase != v1alpha1.RunFailed || c == nil || c.Reason != v1alpha1.ReasonTimedOut {
		t.Errorf("timeout: %s, condition %+v", describe(r), c)
	}
	if time.Since(start) > 20*time.Second {
		t.Errorf("the timed-out run took %s: the task was not stopped", time.Since(start))
	}
	run := &v1alpha1.PipelineRun{}
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "cancel"}, run); err != nil {
		t.Fatal(err)
	}
	run.Spec.Cancel = true
	if err := k8s.Update(ctx, run); err != nil {
		t.Fatal(err)
	}
	r = waitRun(t, ns, "cancel", 30*time.Second)
	if r.Status.Phase != v1alpha1.RunCancelled || r.Status.Tasks["Succeeded"] != 1 || r.Status.Tasks["Cancelled"] != 2 {
		t.Errorf("cancel: %s", describe(r))
	}
	if time.Since(start) > 40*time.Second {
		t.Errorf("cancelling took %s", time.Since(start))
	}
}

// TestRunWaitsForPipeline: a run created before its pipeline starts once
// the first version exists; bad parameters fail it with the reason.
func TestRunWaitsForPipeline(t *testing.T) {
	ns := namespace(t)
	createRun(t, ns, "early", "later", v1alpha1.ExecutorLocal, map[string]string{"counter": filepath.Join(t.TempDir(), "n")})
	createRun(t, ns, "bad", "later", v1alpha1.ExecutorLocal, map[string]string{"nosuch": "1"})
	// The controller has seen the run once it says what it waits for.
	r := &v1alpha1.PipelineRun{}
	eventually(t, "the run to wait for its pipeline", func() bool {
		if err := k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: "early"}, r); err != nil {
			t.Fatal(err)
		}
		return apimeta.IsStatusConditionPresentAndEqual(r.Status.Conditions, v1alpha1.ConditionPipelineResolved, metav1.ConditionFalse)
	})
	if c := apimeta.FindStatusCondition(r.Status.Conditions, v1alpha1.ConditionPipelineResolved); r.Status.Phase != v1alpha1.RunPending || c.Reason != v1alpha1.ReasonPipelineNotFound {
		t.Errorf("before the pipeline exists: %s, condition %+v", describe(r), c)
	}
	createPipeline(t, ns, "later", "", retryDAG)
	if r := waitRun(t, ns, "early", time.Minute); r.Status.Phase != v1alpha1.RunSucceeded {
		t.Errorf("early: %s", describe(r))
	}
	r = waitRun(t, ns, "bad", time.Minute)
	if r.Status.Phase != v1alpha1.RunFailed {
		t.Errorf("bad: %s", describe(r))
	}
	contains(t, "bad run message", r.Status.Message, "nosuch")
}
