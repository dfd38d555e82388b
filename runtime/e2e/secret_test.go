package e2e_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kfstack/terraform-provider-kubeflow/internal/kfptest"
	"github.com/kfstack/terraform-provider-kubeflow/runtime/api/v1alpha1"
)

// TestSecretParameterOnRealNode: a parameter from a Kubernetes Secret
// reaches the task's command in a real container, through the kubelet
// (secretKeyRef) and the launcher, while the run and its pod hold only a
// reference. (The command compares a digest, so that the secret's text
// appears nowhere but in the Secret.) The Secret is made after the run:
// until then the run's TaskPodsStarted condition says that the kubelet
// cannot find it, then the run goes on by itself.
func TestSecretParameterOnRealNode(t *testing.T) {
	node := cluster.SkipUnlessRealNode(t)
	ctx := context.Background()
	c, _ := setUp(t, node)
	ns := namespace(t, c)
	const dag = `name: secret
parameters:
  password: {type: string}
tasks:
- name: check
  image: alpine
  command: [sh, -c, 'if [ "$(printf %s "$0" | md5sum | cut -c1-32)" = 2ab96390c7dbe3439de74d0c9b0b1767 ]; then printf ok > "$1"; else printf wrong > "$1"; fi', "{{$.inputs.parameters['pw']}}", "{{$.outputs.parameters['verdict'].output_file}}"]
  inputs:
    parameters:
      pw: {parameter: password}
  outputs:
    parameters: {verdict: string}
outputs:
  verdict: {task: check, output: verdict}
`
	if err := c.Create(ctx, &v1alpha1.Pipeline{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "secret"}, Spec: v1alpha1.PipelineSpec{DAG: dag}}); err != nil {
		t.Fatal(err)
	}
	if err := c.Create(ctx, &v1alpha1.PipelineRun{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "secret"},
		Spec: v1alpha1.PipelineRunSpec{Pipeline: "secret", Executor: v1alpha1.ExecutorPod,
			ParameterSecrets: map[string]v1alpha1.SecretKeyRef{"password": {Name: "db", Key: "password"}}},
	}); err != nil {
		t.Fatal(err)
	}
	waiting := waitCondition(t, c, ns, "secret", v1alpha1.ConditionTaskPodsStarted, metav1.ConditionFalse, time.Minute)
	if !strings.Contains(waiting.Message, "task check: pod ") || !strings.Contains(waiting.Message, "CreateContainerConfigError") || !strings.Contains(waiting.Message, `"db"`) {
		t.Errorf("TaskPodsStarted message %q, want the task, its pod and the missing Secret", waiting.Message)
	}
	t.Logf("waiting: %s", waiting.Message)
	if err := c.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "db"}, StringData: map[string]string{"password": "hunter2"}}); err != nil {
		t.Fatal(err)
	}
	made := time.Now()
	r := kfptest.WaitRun(t, c, ns, "secret", 3*time.Minute)
	t.Logf("the run ended %s after the Secret was made", time.Since(made).Round(100*time.Millisecond))
	if cond := apimeta.FindStatusCondition(r.Status.Conditions, v1alpha1.ConditionTaskPodsStarted); cond == nil || cond.Status != metav1.ConditionTrue {
		t.Errorf("TaskPodsStarted after the Secret came: %+v", cond)
	}
	if r.Status.Phase != v1alpha1.RunSucceeded || r.Status.Outputs["verdict"] != `"ok"` {
		t.Fatalf("run: %s %s, outputs %v, failure %+v", r.Status.Phase, r.Status.Message, r.Status.Outputs, r.Status.Failure)
	}
	pods := &corev1.PodList{}
	if err := c.List(ctx, pods, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	for _, obj := range []any{r, pods} {
		raw, err := json.Marshal(obj)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(raw), "hunter2") {
			t.Errorf("%T holds the secret", obj)
		}
	}
}

// waitCondition waits until the run's condition has the status, and
// returns it.
func waitCondition(t *testing.T, c client.Client, ns, name, typ string, status metav1.ConditionStatus, timeout time.Duration) metav1.Condition {
	t.Helper()
	run := &v1alpha1.PipelineRun{}
	deadline := time.Now().Add(timeout)
	for {
		if err := c.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, run); err != nil {
			t.Fatal(err)
		}
		if cond := apimeta.FindStatusCondition(run.Status.Conditions, typ); cond != nil && cond.Status == status {
			return *cond
		}
		if time.Now().After(deadline) {
			t.Fatalf("run %s: no condition %s=%s after %s; phase %s, conditions %+v", name, typ, status, timeout, run.Status.Phase, run.Status.Conditions)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
