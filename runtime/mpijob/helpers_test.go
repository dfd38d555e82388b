package mpijob_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	kubeflow "github.com/kfstack/terraform-provider-kubeflow/runtime/api/kubeflow/v2beta1"
)

// createYAML creates the manifest as kubectl create would: decoded as
// plain JSON, not through our types, so that what the API server keeps is
// what the manifest says.
func createYAML(t testing.TB, ns string, manifest []byte) *unstructured.Unstructured {
	t.Helper()
	obj := &unstructured.Unstructured{}
	if err := yaml.Unmarshal(manifest, &obj.Object); err != nil {
		t.Fatal(err)
	}
	obj.SetNamespace(ns)
	if err := k8s.Create(context.Background(), obj); err != nil {
		t.Fatalf("creating %s: %v", obj.GetName(), err)
	}
	return obj
}

func getJob(t testing.TB, ns, name string) *kubeflow.MPIJob {
	t.Helper()
	job := &kubeflow.MPIJob{}
	if err := k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, job); err != nil {
		t.Fatal(err)
	}
	return job
}

// waitFor polls until cond holds, failing with what describe says.
func waitFor(t testing.TB, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	last := ""
	err := wait.PollUntilContextTimeout(context.Background(), 50*time.Millisecond, timeout, true, func(context.Context) (bool, error) {
		ok, why := cond()
		last = why
		return ok, nil
	})
	if err != nil {
		t.Fatalf("waiting for %s: %v; last: %s", what, err, last)
	}
}

// waitCondition waits until the job's condition of type ct is True.
func waitCondition(t testing.TB, ns, name string, ct kubeflow.JobConditionType, timeout time.Duration) *kubeflow.MPIJob {
	t.Helper()
	var job *kubeflow.MPIJob
	waitFor(t, timeout, string(ct)+" of "+name, func() (bool, string) {
		job = &kubeflow.MPIJob{}
		if err := k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, job); err != nil {
			return false, err.Error()
		}
		return job.Status.IsTrue(ct), describe(job)
	})
	return job
}

func describe(job *kubeflow.MPIJob) string {
	var b strings.Builder
	for _, c := range job.Status.Conditions {
		b.WriteString(string(c.Type) + "=" + string(c.Status) + "(" + c.Reason + ": " + c.Message + ") ")
	}
	return b.String()
}

func condition(t testing.TB, job *kubeflow.MPIJob, ct kubeflow.JobConditionType) kubeflow.JobCondition {
	t.Helper()
	c := job.Status.Condition(ct)
	if c == nil {
		t.Fatalf("job %s has no %s condition: %s", job.Name, ct, describe(job))
	}
	return *c
}

// podRecorder keeps the first version of every pod created in a
// namespace: workers are deleted by cleanPodPolicy before a test could
// read them.
type podRecorder struct {
	mu   sync.Mutex
	pods map[string]*corev1.Pod
	stop func()
}

func recordPods(t testing.TB, ns string) *podRecorder {
	t.Helper()
	w, err := cluster.Client.CoreV1().Pods(ns).Watch(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	r := &podRecorder{pods: map[string]*corev1.Pod{}, stop: w.Stop}
	go func() {
		for ev := range w.ResultChan() {
			if p, ok := ev.Object.(*corev1.Pod); ok && ev.Type == watch.Added {
				r.mu.Lock()
				r.pods[p.Name] = p
				r.mu.Unlock()
			}
		}
	}()
	t.Cleanup(w.Stop)
	return r
}

func (r *podRecorder) get(name string) *corev1.Pod {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.pods[name]
}

func launcherJob(t testing.TB, ns, name string) *batchv1.Job {
	t.Helper()
	j := &batchv1.Job{}
	if err := k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name + kubeflow.LauncherSuffix}, j); err != nil {
		t.Fatal(err)
	}
	return j
}

func exists(t testing.TB, obj client.Object) bool {
	t.Helper()
	err := k8s.Get(context.Background(), client.ObjectKeyFromObject(obj), obj)
	if apierrors.IsNotFound(err) {
		return false
	}
	if err != nil {
		t.Fatal(err)
	}
	return true
}

func envOf(c corev1.Container) map[string]string {
	out := map[string]string{}
	for _, e := range c.Env {
		out[e.Name] = e.Value
	}
	return out
}

// livePods lists the pods of a job's role that are not being deleted.
func livePods(t testing.TB, ns, job, role string) []corev1.Pod {
	t.Helper()
	list := &corev1.PodList{}
	if err := k8s.List(context.Background(), list, client.InNamespace(ns), client.MatchingLabels{kubeflow.JobNameLabel: job, kubeflow.JobRoleLabel: role}); err != nil {
		t.Fatal(err)
	}
	var out []corev1.Pod
	for _, p := range list.Items {
		if p.DeletionTimestamp == nil {
			out = append(out, p)
		}
	}
	return out
}
