package e2e_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kfstack/terraform-provider-kubeflow/internal/kfptest"
	"github.com/kfstack/terraform-provider-kubeflow/runtime/api/v1alpha1"
)

// TestSecretParameterOnRealNode: a parameter from a Kubernetes Secret
// reaches the task's command in a real container, through the kubelet
// (secretKeyRef) and the launcher, while the run and its pod hold only a
// reference. (The command compares a digest, so that the secret's text
// appears nowhere but in the Secret.)
func TestSecretParameterOnRealNode(t *testing.T) {
	node := cluster.SkipUnlessRealNode(t)
	ctx := context.Background()
	c, _ := setUp(t, node)
	ns := namespace(t, c)
	if err := c.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "db"}, StringData: map[string]string{"password": "hunter2"}}); err != nil {
		t.Fatal(err)
	}
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
	r := kfptest.WaitRun(t, c, ns, "secret", 3*time.Minute)
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
