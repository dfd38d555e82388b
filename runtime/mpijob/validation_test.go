package mpijob_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	kubeflow "github.com/kfstack/terraform-provider-kubeflow/runtime/api/kubeflow/v2beta1"
)

// valid is a well-formed MPIJob that the bad inputs below break.
const valid = `
apiVersion: kubeflow.org/v2beta1
kind: MPIJob
metadata:
  name: train
spec:
  slotsPerWorker: 1
  sshAuthMountPath: /home/mpiuser/.ssh
  runPolicy:
    cleanPodPolicy: Running
  mpiReplicaSpecs:
    Launcher:
      replicas: 1
      template:
        spec:
          containers:
          - name: launcher
            image: example.com/mpi:1
            command: [mpirun, -n, "2", /app/train]
    Worker:
      replicas: 2
      template:
        spec:
          containers:
          - name: worker
            image: example.com/mpi:1
`

type badInput struct {
	name string
	// edit breaks the valid job (a plain map, as kubectl sends it).
	edit func(job map[string]any)
	// want are texts the API server's error must hold: the field and
	// what is wrong with it.
	want []string
}

func at(job map[string]any, path ...string) map[string]any {
	m := job
	for _, p := range path {
		next, ok := m[p].(map[string]any)
		if !ok {
			next = map[string]any{}
			m[p] = next
		}
		m = next
	}
	return m
}

func replicas(t string) []string { return []string{"spec", "mpiReplicaSpecs", t} }

func set(path []string, key string, v any) func(map[string]any) {
	return func(job map[string]any) { at(job, path...)[key] = v }
}

func del(path []string, key string) func(map[string]any) {
	return func(job map[string]any) { delete(at(job, path...), key) }
}

var spec = []string{"spec"}
var runPolicy = []string{"spec", "runPolicy"}

// badCreates are MPIJobs that must be refused at admission, each naming
// the field.
var badCreates = []badInput{
	{"zero workers", set(replicas("Worker"), "replicas", 0), []string{"spec.mpiReplicaSpecs", "Worker].replicas must be at least 1"}},
	{"negative workers", set(replicas("Worker"), "replicas", -1), []string{"replicas", "greater than or equal to 0"}},
	{"two launchers", set(replicas("Launcher"), "replicas", 2), []string{"spec.mpiReplicaSpecs", "Launcher.replicas must be 1"}},
	{"no launcher replica", set(replicas("Launcher"), "replicas", 0), []string{"Launcher.replicas must be 1"}},
	{"unknown implementation", set(spec, "mpiImplementation", "OpenMP"), []string{"spec.mpiImplementation", `"OpenMP"`, "MPICH"}},
	{"launcher without containers", set(append(replicas("Launcher"), "template", "spec"), "containers", []any{}), []string{"spec.mpiReplicaSpecs[Launcher]", "at least one container"}},
	{"launcher without template", del(replicas("Launcher"), "template"), []string{"spec.mpiReplicaSpecs[Launcher]", "at least one container"}},
	{"worker without containers", set(append(replicas("Worker"), "template", "spec"), "containers", []any{}), []string{"spec.mpiReplicaSpecs[Worker]", "at least one container"}},
	{"relative sshAuthMountPath", set(spec, "sshAuthMountPath", "home/mpiuser/.ssh"), []string{"spec.sshAuthMountPath"}},
	{"zero slots", set(spec, "slotsPerWorker", 0), []string{"spec.slotsPerWorker", "greater than or equal to 1"}},
	{"no launcher spec", del([]string{"spec", "mpiReplicaSpecs"}, "Launcher"), []string{"spec.mpiReplicaSpecs", "a Launcher replica spec is required"}},
	{"unknown replica type", func(j map[string]any) { at(j, "spec", "mpiReplicaSpecs")["PS"] = at(j, replicas("Worker")...) }, []string{"spec.mpiReplicaSpecs", "Launcher and Worker"}},
	{"no workers without runLauncherAsWorker", del([]string{"spec", "mpiReplicaSpecs"}, "Worker"), []string{"spec.mpiReplicaSpecs", "a Worker replica spec is required"}},
	{"no mpiReplicaSpecs", del(spec, "mpiReplicaSpecs"), []string{"spec.mpiReplicaSpecs", "Required"}},
	{"launcher restarting Always", set(replicas("Launcher"), "restartPolicy", "Always"), []string{"spec.mpiReplicaSpecs", "Launcher.restartPolicy cannot be Always"}},
	{"unknown restart policy", set(replicas("Worker"), "restartPolicy", "Sometimes"), []string{"restartPolicy", `"Sometimes"`}},
	{"unknown cleanPodPolicy", set(runPolicy, "cleanPodPolicy", "Finished"), []string{"spec.runPolicy.cleanPodPolicy", `"Finished"`}},
	{"unknown launcherCreationPolicy", set(spec, "launcherCreationPolicy", "Later"), []string{"spec.launcherCreationPolicy", `"Later"`}},
	{"waiting for no workers", func(j map[string]any) {
		at(j, "spec")["runLauncherAsWorker"] = true
		at(j, "spec")["launcherCreationPolicy"] = "WaitForWorkersReady"
		at(j, replicas("Worker")...)["replicas"] = 0
	}, []string{"spec.launcherCreationPolicy", "WaitForWorkersReady needs at least one worker"}},
	{"gang larger than the job", set(append(runPolicy, "schedulingPolicy"), "minAvailable", 5), []string{"spec.runPolicy", "minAvailable is more than the launcher and workers"}},
	{"negative minAvailable", set(append(runPolicy, "schedulingPolicy"), "minAvailable", -1), []string{"spec.runPolicy.schedulingPolicy.minAvailable"}},
	{"negative scheduleTimeoutSeconds", set(append(runPolicy, "schedulingPolicy"), "scheduleTimeoutSeconds", -1), []string{"spec.runPolicy.schedulingPolicy.scheduleTimeoutSeconds"}},
	{"zero activeDeadlineSeconds", set(runPolicy, "activeDeadlineSeconds", 0), []string{"spec.runPolicy.activeDeadlineSeconds"}},
	{"negative backoffLimit", set(runPolicy, "backoffLimit", -1), []string{"spec.runPolicy.backoffLimit"}},
	{"negative ttlSecondsAfterFinished", set(runPolicy, "ttlSecondsAfterFinished", -5), []string{"spec.runPolicy.ttlSecondsAfterFinished"}},
	{"unknown managedBy", set(runPolicy, "managedBy", "example.com/other"), []string{"spec.runPolicy.managedBy", "kueue.x-k8s.io/multikueue"}},
	{"name too long for the launcher", set([]string{"metadata"}, "name", strings.Repeat("a", 55)), []string{"metadata.name", "at most 54"}},
	{"name too long for 1000 workers", func(j map[string]any) {
		at(j, "metadata")["name"] = strings.Repeat("b", 53)
		at(j, replicas("Worker")...)["replicas"] = 1000
	}, []string{"metadata.name", "too long for the number of workers"}},
	{"name not a DNS-1035 label", set([]string{"metadata"}, "name", "1train"), []string{"metadata.name", "DNS-1035"}},
	{"negative launchers", set(replicas("Launcher"), "replicas", -1), []string{"replicas", "greater than or equal to 0", "Launcher.replicas must be 1"}},
}

// badUpdates change an existing job in ways the controller cannot follow.
var badUpdates = []badInput{
	{"implementation changed", set(spec, "mpiImplementation", "MPICH"), []string{"spec.mpiImplementation", "immutable"}},
	{"slots changed", set(spec, "slotsPerWorker", 4), []string{"spec.slotsPerWorker", "immutable"}},
	{"SSH mount path changed", set(spec, "sshAuthMountPath", "/root/.ssh"), []string{"spec.sshAuthMountPath", "immutable"}},
	{"launcher as worker changed", set(spec, "runLauncherAsWorker", true), []string{"spec.runLauncherAsWorker", "immutable"}},
	{"launcher creation policy changed", set(spec, "launcherCreationPolicy", "WaitForWorkersReady"), []string{"spec.launcherCreationPolicy", "immutable"}},
	{"managedBy set after creation", set(runPolicy, "managedBy", "kueue.x-k8s.io/multikueue"), []string{"spec.runPolicy", "managedBy is immutable"}},
}

func parse(t *testing.T, manifest string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := yaml.Unmarshal([]byte(manifest), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// TestBadInputRefusedAtAdmission sends each bad MPIJob to the API server,
// as kubectl would, and expects it refused, naming the field, with
// nothing created; the same inputs fail v2beta1.Validate (the provider's
// plan-time check) at a field.
func TestBadInputRefusedAtAdmission(t *testing.T) {
	if n := len(badCreates) + len(badUpdates); n < 30 {
		t.Fatalf("only %d bad inputs", n)
	}
	ns := namespace(t)
	ctx := context.Background()
	for _, tc := range badCreates {
		t.Run(tc.name, func(t *testing.T) {
			m := parse(t, valid)
			tc.edit(m)
			obj := &unstructured.Unstructured{Object: m}
			obj.SetNamespace(ns)
			err := k8s.Create(ctx, obj)
			if err == nil {
				t.Fatalf("the API server accepted it")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("the error lacks %q: %v", w, err)
				}
			}
			// The same input fails the Go validation the provider runs
			// at plan time (where the field decodes at all).
			job := &kubeflow.MPIJob{}
			data, _ := yaml.Marshal(m)
			if yaml.Unmarshal(data, job) == nil {
				if errs := kubeflow.Validate(job); len(errs) == 0 {
					t.Errorf("v2beta1.Validate accepts it")
				} else {
					checkFieldErrors(t, errs)
				}
			}
		})
	}
	base := parse(t, valid)
	obj := &unstructured.Unstructured{Object: base}
	obj.SetNamespace(ns)
	if err := k8s.Create(ctx, obj); err != nil {
		t.Fatalf("creating the valid job: %v", err)
	}
	for _, tc := range badUpdates {
		t.Run(tc.name, func(t *testing.T) {
			// The controller writes the job's status meanwhile: a conflict
			// is retried, as kubectl would be.
			var err error
			for range 20 {
				live := &unstructured.Unstructured{}
				live.SetGroupVersionKind(kubeflow.SchemeGroupVersionKind)
				if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "train"}, live); err != nil {
					t.Fatal(err)
				}
				tc.edit(live.Object)
				if err = k8s.Update(ctx, live); !apierrors.IsConflict(err) {
					break
				}
			}
			if err == nil {
				t.Fatalf("the API server accepted the change")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("the error lacks %q: %v", w, err)
				}
			}
		})
	}
	// Nothing was made for the refused jobs: only the valid one exists.
	list := &kubeflow.MPIJobList{}
	if err := k8s.List(ctx, list, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	if len(list.Items) != 1 {
		t.Errorf("%d MPIJobs exist, want only the valid one", len(list.Items))
	}
	services := &corev1.ServiceList{}
	if err := k8s.List(ctx, services, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	for _, s := range services.Items {
		if s.Name != "train" {
			t.Errorf("Service %s exists for a refused job", s.Name)
		}
	}
}

func checkFieldErrors(t *testing.T, errs field.ErrorList) {
	t.Helper()
	for _, e := range errs {
		if e.Field == "" {
			t.Errorf("an error names no field: %v", e)
		}
	}
	_ = fmt.Sprint(errs)
}
