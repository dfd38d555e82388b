package controller_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kfstack/terraform-provider-kubeflow/internal/kfptest"
	"github.com/kfstack/terraform-provider-kubeflow/runtime/api/v1alpha1"
	"github.com/kfstack/terraform-provider-kubeflow/runtime/launcher"
)

// outputsByFunction plays Python components by function name: each
// returns the given value as its "Output".
func outputsByFunction(values map[string]any) outcome {
	return func(spec *launcher.TaskSpec, _ int) (launcher.Message, int) {
		if v, ok := values[functionOf(spec)]; ok {
			out := map[string]any{}
			for name := range spec.Outputs.Parameters {
				out[name] = v
			}
			return launcher.Message{Params: out}, 0
		}
		if _, declared := spec.Outputs.Parameters["Output"]; declared {
			return launcher.Message{Params: map[string]any{"Output": "ok"}}, 0
		}
		return launcher.Message{}, 0
	}
}

func corpusSpec(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(kfptest.SDKDir(t), "valid", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// taskPod waits for the first pod of a task and returns it.
func taskPod(t *testing.T, ns, task string) *corev1.Pod {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		var pods corev1.PodList
		if err := k8s.List(context.Background(), &pods, client.InNamespace(ns)); err != nil {
			t.Fatal(err)
		}
		for i := range pods.Items {
			if pods.Items[i].Annotations[v1alpha1.AnnotationTask] == task {
				return &pods.Items[i]
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("no pod for task %s", task)
	return nil
}

func mainOf(pod *corev1.Pod) *corev1.Container {
	for i := range pod.Spec.Containers {
		if pod.Spec.Containers[i].Name == "main" {
			return &pod.Spec.Containers[i]
		}
	}
	return nil
}

// provisionVolumes plays a storage provisioner for the namespace's claims
// (the test cluster has none): each pending claim gets a volume bound to
// it, so that pods mounting it can be scheduled.
func provisionVolumes(t *testing.T, ns string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go func() {
		made := map[string]bool{}
		for ctx.Err() == nil {
			var claims corev1.PersistentVolumeClaimList
			if err := k8s.List(ctx, &claims, client.InNamespace(ns)); err == nil {
				for _, c := range claims.Items {
					if made[c.Name] || c.Spec.VolumeName != "" {
						continue
					}
					made[c.Name] = true
					sc := ""
					if c.Spec.StorageClassName != nil {
						sc = *c.Spec.StorageClassName
					}
					pv := &corev1.PersistentVolume{
						ObjectMeta: metav1.ObjectMeta{Name: ns + "-" + c.Name},
						Spec: corev1.PersistentVolumeSpec{
							Capacity:               corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("10Gi")},
							AccessModes:            c.Spec.AccessModes,
							StorageClassName:       sc,
							ClaimRef:               &corev1.ObjectReference{Namespace: ns, Name: c.Name, UID: c.UID},
							PersistentVolumeSource: corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/tmp/" + ns + "-" + c.Name}},
						},
					}
					if err := k8s.Create(ctx, pv); err != nil && !apierrors.IsAlreadyExists(err) {
						t.Errorf("provisioning a volume for %s: %v", c.Name, err)
					}
					t.Cleanup(func() { _ = k8s.Delete(context.Background(), pv) })
				}
			}
			time.Sleep(100 * time.Millisecond)
		}
	}()
}

// TestKFPKubernetesVolumes runs the SDK corpus's pipeline_with_volume
// through the pod executor: the controller creates the CreatePVC task's
// claim (no pod), mounts it in the producer's and consumer's pods, and
// deletes it in the DeletePVC task.
func TestKFPKubernetesVolumes(t *testing.T) {
	ns := namespace(t)
	provisionVolumes(t, ns)
	startPrograms(t, ns, outputsByFunction(nil))
	createPipeline(t, ns, "volume", corpusSpec(t, "pipeline_with_volume.yaml"), "")
	createRun(t, ns, "vol", "volume", v1alpha1.ExecutorPod, nil)
	producer := taskPod(t, ns, "producer")
	var claim string
	for _, v := range producer.Spec.Volumes {
		if v.PersistentVolumeClaim != nil {
			claim = v.PersistentVolumeClaim.ClaimName
		}
	}
	if claim != "vol-my-pvc" {
		t.Fatalf("producer's volumes %+v, want the claim vol-my-pvc (run name and the CreatePVC suffix)", producer.Spec.Volumes)
	}
	found := false
	for _, m := range mainOf(producer).VolumeMounts {
		found = found || m.MountPath == "/data"
	}
	if !found {
		t.Errorf("no mount at /data: %+v", mainOf(producer).VolumeMounts)
	}
	r := waitRun(t, ns, "vol", time.Minute)
	if r.Status.Phase != v1alpha1.RunSucceeded {
		t.Fatalf("run: %s", describe(r))
	}
	var pods corev1.PodList
	if err := k8s.List(context.Background(), &pods, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	for _, p := range pods.Items {
		if task := p.Annotations[v1alpha1.AnnotationTask]; task == "createpvc" || task == "deletepvc" {
			t.Errorf("the PVC task %s got a pod", task)
		}
	}
	pvc := &corev1.PersistentVolumeClaim{}
	err := k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: claim}, pvc)
	if err == nil && pvc.DeletionTimestamp == nil {
		t.Errorf("DeletePVC left the claim in place: %+v", pvc.ObjectMeta)
	} else if err != nil && !apierrors.IsNotFound(err) {
		t.Fatal(err)
	}
	if pvc.Spec.Resources.Requests.Storage().String() != "5Mi" || *pvc.Spec.StorageClassName != "standard" {
		t.Errorf("claim spec %+v", pvc.Spec)
	}
}

// TestKFPKubernetesPodSettings: secrets as environment variables (named by
// a pipeline input, a constant and an upstream task's output), pod labels
// and annotations with field-path variables, and machine fields that
// upstream tasks compute, applied to the task pods.
func TestKFPKubernetesPodSettings(t *testing.T) {
	ns := namespace(t)
	startPrograms(t, ns, outputsByFunction(map[string]any{
		"generate_secret_name": "test-secret-3",
		"cpu_limit":            "4000m", "memory_limit": "15G", "accelerator_type": "NVIDIA_TESLA_P4", "accelerator_limit": "1",
	}))
	createPipeline(t, ns, "secrets", corpusSpec(t, "critical_pipeline_with_secret_as_env.yaml"), "")
	createRun(t, ns, "secrets", "secrets", v1alpha1.ExecutorPod, map[string]string{"secret_parm": "test-secret-1"})
	env := map[string]string{}
	for _, e := range mainOf(taskPod(t, ns, "comp")).Env {
		if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
			env[e.Name] = e.ValueFrom.SecretKeyRef.Name + "/" + e.ValueFrom.SecretKeyRef.Key
		}
	}
	want := map[string]string{"USER_NAME": "test-secret-1/username", "PASSWORD_VAR1": "test-secret-2/password", "PASSWORD_VAR2": "test-secret-3/password"}
	for k, v := range want {
		if env[k] != v {
			t.Errorf("env %s from %q, want %q (all: %v)", k, env[k], v, env)
		}
	}

	createPipeline(t, ns, "metadata", corpusSpec(t, "critical_pipeline_with_pod_metadata.yaml"), "")
	createRun(t, ns, "meta", "metadata", v1alpha1.ExecutorPod, nil)
	pod := taskPod(t, ns, "validate-pod-metadata-task-a")
	if pod.Labels["task-label-1"] != "label-1" || pod.Annotations["task-annotation"] != "annotation" {
		t.Errorf("labels %v annotations %v", pod.Labels, pod.Annotations)
	}
	if pod.Labels[v1alpha1.LabelRunUID] == "" {
		t.Error("the run's own label is gone")
	}
	var fieldEnv []string
	for _, e := range mainOf(pod).Env {
		if e.ValueFrom != nil && e.ValueFrom.FieldRef != nil {
			fieldEnv = append(fieldEnv, e.Name+"="+e.ValueFrom.FieldRef.FieldPath)
		}
	}
	if !strings.Contains(strings.Join(fieldEnv, " "), "POD_TASK_LABEL_1=metadata.labels['task-label-1']") {
		t.Errorf("field path variables %v", fieldEnv)
	}

	createPipeline(t, ns, "machine", corpusSpec(t, "pipeline_with_string_machine_fields_task_output.yaml"), "")
	createRun(t, ns, "machine", "machine", v1alpha1.ExecutorPod, nil)
	sum := mainOf(taskPod(t, ns, "sum-numbers"))
	lim := sum.Resources.Limits
	if lim.Cpu().String() != "4" || lim.Memory().String() != "15G" || lim.Name("nvidia.com/gpu", "").String() != "1" {
		t.Errorf("resources from upstream outputs: %v", lim)
	}
	if p := taskPod(t, ns, "sum-numbers"); p.Spec.NodeSelector["cloud.google.com/gke-accelerator"] != "nvidia-tesla-p4" {
		t.Errorf("node selector %v", p.Spec.NodeSelector)
	}
}

// TestKFPWorkspaceAndMetrics: a pipeline with a workspace gets a PVC owned
// by the run, mounted at /kfp-workspace in its pods; and metrics artifacts
// land in status.metrics.
func TestKFPWorkspaceAndMetrics(t *testing.T) {
	ns := namespace(t)
	provisionVolumes(t, ns)
	startPrograms(t, ns, func(spec *launcher.TaskSpec, _ int) (launcher.Message, int) {
		if functionOf(spec) == "write_to_workspace" {
			if spec.Params["workspace_path"] != "/kfp-workspace" {
				return launcher.Message{Error: "workspace_path is " + spec.Params["workspace_path"].(string)}, 1
			}
			return launcher.Message{Params: map[string]any{"Output": "/kfp-workspace/data/test_file.txt"}}, 0
		}
		return launcher.Message{Params: map[string]any{"Output": "Hello from workspace!"}}, 0
	})
	createPipeline(t, ns, "workspace", corpusSpec(t, "critical_pipeline_with_workspace.yaml"), "")
	createRun(t, ns, "ws", "workspace", v1alpha1.ExecutorPod, nil)
	r := waitRun(t, ns, "ws", time.Minute)
	if r.Status.Phase != v1alpha1.RunSucceeded {
		t.Fatalf("run: %s", describe(r))
	}
	pvc := &corev1.PersistentVolumeClaim{}
	if err := k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: "ws-workspace"}, pvc); err != nil {
		t.Fatal(err)
	}
	if len(pvc.OwnerReferences) != 1 || pvc.OwnerReferences[0].UID != r.UID {
		t.Errorf("workspace owners %+v", pvc.OwnerReferences)
	}
	if pvc.Spec.Resources.Requests.Storage().String() != "1Gi" || *pvc.Spec.StorageClassName != "standard" {
		t.Errorf("workspace spec %+v", pvc.Spec)
	}
	mounted := false
	for _, m := range mainOf(taskPod(t, ns, "write-to-workspace")).VolumeMounts {
		mounted = mounted || m.MountPath == "/kfp-workspace"
	}
	if !mounted {
		t.Error("the workspace is not mounted at /kfp-workspace")
	}

	// Metrics: the local executor runs the corpus's output_metrics with
	// kfstack's built-in kfp when Debian's python3 is there.
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("no python3 for the metrics run")
	}
	createPipeline(t, ns, "metrics", corpusSpec(t, "output_metrics.yaml"), "")
	createRun(t, ns, "metrics", "metrics", v1alpha1.ExecutorLocal, nil)
	r = waitRun(t, ns, "metrics", time.Minute)
	if r.Status.Phase != v1alpha1.RunSucceeded {
		t.Fatalf("run: %s", describe(r))
	}
	if len(r.Status.Metrics) != 1 || r.Status.Metrics[0].Type != "system.Metrics" || r.Status.Metrics[0].Values == nil {
		t.Fatalf("status.metrics %+v", r.Status.Metrics)
	}
	var values map[string]any
	if err := json.Unmarshal(r.Status.Metrics[0].Values.Raw, &values); err != nil || len(values) == 0 {
		t.Errorf("metrics values %s: %v", r.Status.Metrics[0].Values.Raw, err)
	}
}
