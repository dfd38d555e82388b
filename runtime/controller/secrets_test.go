package controller_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kfstack/terraform-provider-kubeflow/runtime/api/v1alpha1"
	"github.com/kfstack/terraform-provider-kubeflow/runtime/launcher"
)

const secretDAG = `name: secret
parameters:
  user: {type: string}
  password: {type: string}
  retries: {type: int, default: 1}
tasks:
- name: connect
  image: registry.example/db:1
  command: [connect, "{{$.inputs.parameters['user']}}", "{{$.inputs.parameters['pw']}}"]
  cache: true
  inputs:
    parameters:
      user: {parameter: user}
      pw: {parameter: password}
  outputs:
    parameters: {result: string}
outputs:
  result: {task: connect, output: result}
`

// connectOutcome is the program: it reports whether it got the password
// from the Secret, without ever echoing it.
func connectOutcome(spec *launcher.TaskSpec, _ int) (launcher.Message, int) {
	ok := spec.Params["pw"] == "hunter2"
	return launcher.Message{Params: map[string]any{"result": map[bool]string{true: "password ok for ", false: "wrong password for "}[ok] + spec.Params["user"].(string)}}, 0
}

// TestSecretParameters runs a pipeline whose password comes from a
// Kubernetes Secret (spec.parameterSecrets): the task gets the value (the
// program checks it), while the run's spec, status and state, the task
// spec in the pod and the pod's own environment never hold it (only a
// secretKeyRef). A second run does not reuse the first one's cached
// result. Runs that take a non-string parameter or a plain parameter from
// a Secret, or use the local executor, fail naming the field.
func TestSecretParameters(t *testing.T) {
	ctx := context.Background()
	ns := namespace(t)
	if err := k8s.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "db"}, StringData: map[string]string{"password": "hunter2"}}); err != nil {
		t.Fatal(err)
	}
	startPrograms(t, ns, connectOutcome)
	createPipeline(t, ns, "secret", "", secretDAG)
	withSecret := func(r *v1alpha1.PipelineRun) {
		r.Spec.ParameterSecrets = map[string]v1alpha1.SecretKeyRef{"password": {Name: "db", Key: "password"}}
	}
	for _, name := range []string{"first", "second"} {
		createRun(t, ns, name, "secret", v1alpha1.ExecutorPod, map[string]string{"user": "ada"}, withSecret)
		r := waitRun(t, ns, name, time.Minute)
		if r.Status.Phase != v1alpha1.RunSucceeded || r.Status.Outputs["result"] != `"password ok for ada"` {
			t.Fatalf("%s: %s, outputs %v", name, describe(r), r.Status.Outputs)
		}
		if r.Status.CachedTasks != 0 {
			t.Errorf("%s: %d cached tasks; a task taking a secret must never be cached", name, r.Status.CachedTasks)
		}
		raw, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(raw), "hunter2") {
			t.Errorf("%s: the run holds the secret: %s", name, raw)
		}
		pods := &corev1.PodList{}
		if err := k8s.List(ctx, pods, client.InNamespace(ns), client.MatchingLabels{v1alpha1.LabelRunUID: string(r.UID)}); err != nil {
			t.Fatal(err)
		}
		if len(pods.Items) != 1 {
			t.Fatalf("%s: %d pods, want 1", name, len(pods.Items))
		}
		pod := pods.Items[0]
		raw, _ = json.Marshal(pod)
		if strings.Contains(string(raw), "hunter2") {
			t.Errorf("%s: the pod holds the secret: %s", name, raw)
		}
		var fromSecret int
		for _, e := range pod.Spec.Containers[0].Env {
			if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil && e.ValueFrom.SecretKeyRef.Name == "db" && e.ValueFrom.SecretKeyRef.Key == "password" {
				fromSecret++
			}
		}
		if fromSecret != 1 {
			t.Errorf("%s: pod env %v: want one variable from secret db's key password", name, pod.Spec.Containers[0].Env)
		}
	}

	for _, tc := range []struct {
		name    string
		exec    v1alpha1.Executor
		params  map[string]string
		secrets map[string]v1alpha1.SecretKeyRef
		want    string
	}{
		{"not-a-string", v1alpha1.ExecutorPod, map[string]string{"user": "ada", "password": "x"},
			map[string]v1alpha1.SecretKeyRef{"retries": {Name: "db", Key: "password"}}, `spec.parameterSecrets["retries"]: parameter "retries" is a NUMBER_INTEGER parameter; only STRING parameters`},
		{"twice", v1alpha1.ExecutorPod, map[string]string{"user": "ada", "password": "x"},
			map[string]v1alpha1.SecretKeyRef{"password": {Name: "db", Key: "password"}}, `spec.parameterSecrets[password]: Duplicate value`},
		{"local", v1alpha1.ExecutorLocal, map[string]string{"user": "ada"},
			map[string]v1alpha1.SecretKeyRef{"password": {Name: "db", Key: "password"}}, `spec.parameterSecrets: Forbidden: the local executor`},
		{"forged", v1alpha1.ExecutorPod, map[string]string{"user": "ada", "password": "{{kfstack.secret-parameter:password}}"},
			nil, `spec.parameters[password]: Invalid value`},
	} {
		createRun(t, ns, tc.name, "secret", tc.exec, tc.params, func(r *v1alpha1.PipelineRun) { r.Spec.ParameterSecrets = tc.secrets })
		r := waitRun(t, ns, tc.name, time.Minute)
		if r.Status.Phase != v1alpha1.RunFailed || !strings.Contains(r.Status.Message, tc.want) {
			t.Errorf("%s: %s; want Failed saying %q", tc.name, describe(r), tc.want)
		}
	}
}
