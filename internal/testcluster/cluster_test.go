package testcluster

import (
	"context"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/utils/ptr"
)

// TestCluster starts a cluster, checks what the quickstart and the tests
// rely on, and checks that Stop leaves no process and no directory behind.
func TestCluster(t *testing.T) {
	ctx := context.Background()
	start := time.Now()
	c, err := Start(ctx, Options{Progress: testWriter{t}})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("cluster ready in %s", time.Since(start))
	stopped := false
	defer func() {
		if !stopped {
			c.Stop()
		}
	}()

	version, err := c.Client.Discovery().ServerVersion()
	if err != nil {
		t.Fatal(err)
	}
	if version.GitVersion != KubernetesVersion {
		t.Errorf("server version %s, want %s (set by ldflags, or Helm's kubeVersion checks break)", version.GitVersion, KubernetesVersion)
	}

	t.Run("nodes", func(t *testing.T) {
		nodes, err := c.Client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		byPool := map[string][]corev1.Node{}
		for _, n := range nodes.Items {
			if !NodeSchedulable(&n) {
				t.Errorf("node %s is not Ready and schedulable: %+v", n.Name, n.Status.Conditions)
			}
			byPool[n.Labels["cloud.google.com/gke-nodepool"]] = append(byPool[n.Labels["cloud.google.com/gke-nodepool"]], n)
		}
		if len(byPool["cpu"]) != 2 || len(byPool["gpu"]) != 2 || len(byPool["tpu"]) != 1 {
			t.Fatalf("nodes by pool: cpu %d, gpu %d, tpu %d; want 2, 2, 1", len(byPool["cpu"]), len(byPool["gpu"]), len(byPool["tpu"]))
		}
		gpu := byPool["gpu"][0]
		if q := gpu.Status.Allocatable["nvidia.com/gpu"]; q.Value() != 4 {
			t.Errorf("GPU node allocatable nvidia.com/gpu = %s, want 4", q.String())
		}
		if gpu.Labels["cloud.google.com/gke-accelerator"] == "" {
			t.Error("GPU node lacks cloud.google.com/gke-accelerator")
		}
		if len(gpu.Spec.Taints) != 1 || gpu.Spec.Taints[0].Key != "nvidia.com/gpu" {
			t.Errorf("GPU node taints = %v, want only nvidia.com/gpu", gpu.Spec.Taints)
		}
		tpu := byPool["tpu"][0]
		if q := tpu.Status.Allocatable["google.com/tpu"]; q.Value() != 4 {
			t.Errorf("TPU node allocatable google.com/tpu = %s, want 4", q.String())
		}
		if tpu.Labels["cloud.google.com/gke-tpu-topology"] != "2x2" || tpu.Labels["cloud.google.com/gke-tpu-accelerator"] == "" {
			t.Errorf("TPU node labels = %v", tpu.Labels)
		}
	})

	t.Run("gpu job completes on a gpu node", func(t *testing.T) {
		job := &batchv1.Job{
			ObjectMeta: metav1.ObjectMeta{Name: "train", Namespace: "default"},
			Spec: batchv1.JobSpec{
				BackoffLimit: ptr.To[int32](0),
				Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
					RestartPolicy: corev1.RestartPolicyNever,
					NodeSelector:  map[string]string{"cloud.google.com/gke-accelerator": "nvidia-l4"},
					Tolerations:   []corev1.Toleration{{Key: "nvidia.com/gpu", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule}},
					Containers: []corev1.Container{{
						Name: "train", Image: "trainer:v1",
						Resources: corev1.ResourceRequirements{Limits: corev1.ResourceList{"nvidia.com/gpu": resource.MustParse("2")}},
					}},
				}},
			},
		}
		if _, err := c.Client.BatchV1().Jobs("default").Create(ctx, job, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
			j, err := c.Client.BatchV1().Jobs("default").Get(ctx, "train", metav1.GetOptions{})
			return err == nil && j.Status.Succeeded == 1, err
		})
		if err != nil {
			t.Fatalf("job did not complete: %v", err)
		}
		pods, err := c.Client.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "job-name=train"})
		if err != nil || len(pods.Items) != 1 {
			t.Fatalf("job pods: %v (err %v)", pods, err)
		}
		if node := pods.Items[0].Spec.NodeName; !strings.HasPrefix(node, "kwok-gpu-") {
			t.Errorf("GPU pod ran on %s, want a GPU node", node)
		}
	})

	t.Run("deployment becomes available", func(t *testing.T) {
		labels := map[string]string{"app": "web"}
		d := &appsv1.Deployment{
			ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"},
			Spec: appsv1.DeploymentSpec{
				Replicas: ptr.To[int32](2),
				Selector: &metav1.LabelSelector{MatchLabels: labels},
				Template: corev1.PodTemplateSpec{
					ObjectMeta: metav1.ObjectMeta{Labels: labels},
					Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "web:v1"}}},
				},
			},
		}
		if _, err := c.Client.AppsV1().Deployments("default").Create(ctx, d, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
			d, err := c.Client.AppsV1().Deployments("default").Get(ctx, "web", metav1.GetOptions{})
			return err == nil && d.Status.AvailableReplicas == 2, err
		})
		if err != nil {
			t.Fatalf("deployment not available: %v", err)
		}
	})

	t.Run("task pods end through the stage", func(t *testing.T) {
		pod := func(name string, labels map[string]string) *corev1.Pod {
			return &corev1.Pod{
				ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", Labels: labels},
				Spec: corev1.PodSpec{
					RestartPolicy:  corev1.RestartPolicyNever,
					InitContainers: []corev1.Container{{Name: "init", Image: "runtime:v1"}},
					Containers:     []corev1.Container{{Name: "main", Image: "task:v1"}},
				},
			}
		}
		task := map[string]string{TaskPodLabel: "uid-1"}
		for _, p := range []*corev1.Pod{pod("task-ok", task), pod("task-fail", task), pod("task-held", task), pod("other", nil), pod("plain", nil)} {
			if _, err := c.Client.CoreV1().Pods("default").Create(ctx, p, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		// The result may come before the pod runs: it ends once Running.
		if err := FinishTaskPod(ctx, c.Client, "default", "task-ok", TaskPodResult{Message: `{"params":{"x":1}}`}); err != nil {
			t.Fatal(err)
		}
		waitPhase := func(name string, want corev1.PodPhase) *corev1.Pod {
			t.Helper()
			var got *corev1.Pod
			err := wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
				var err error
				got, err = c.Client.CoreV1().Pods("default").Get(ctx, name, metav1.GetOptions{})
				return err == nil && got.Status.Phase == want, err
			})
			if err != nil {
				t.Fatalf("pod %s is not %s: %v (status %+v)", name, want, err, got.Status)
			}
			return got
		}
		waitPhase("task-fail", corev1.PodRunning)
		waitPhase("task-held", corev1.PodRunning)
		waitPhase("other", corev1.PodRunning)
		if err := FinishTaskPod(ctx, c.Client, "default", "task-fail", TaskPodResult{ExitCode: 3, Message: "boom"}); err != nil {
			t.Fatal(err)
		}
		// Any pod ends by its annotations, not only the runtime's task
		// pods (MPI launchers and workers too).
		waitPhase("plain", corev1.PodRunning)
		if err := FinishTaskPod(ctx, c.Client, "default", "plain", TaskPodResult{ExitCode: 5}); err != nil {
			t.Fatal(err)
		}
		for name, want := range map[string]struct {
			phase   corev1.PodPhase
			code    int32
			reason  string
			message string
		}{
			"task-ok":   {corev1.PodSucceeded, 0, "Completed", `{"params":{"x":1}}`},
			"task-fail": {corev1.PodFailed, 3, "Error", "boom"},
			"plain":     {corev1.PodFailed, 5, "Error", ""},
		} {
			p := waitPhase(name, want.phase)
			if len(p.Status.ContainerStatuses) != 1 {
				t.Fatalf("%s: container statuses %+v", name, p.Status.ContainerStatuses)
			}
			st := p.Status.ContainerStatuses[0].State
			if term := st.Terminated; term == nil || st.Running != nil || term.ExitCode != want.code || term.Reason != want.reason || term.Message != want.message {
				t.Errorf("%s: state %+v, terminated %+v; want exit %d (%s) with message %q", name, st, st.Terminated, want.code, want.reason, want.message)
			}
			if len(p.Status.InitContainerStatuses) != 1 || p.Status.InitContainerStatuses[0].State.Terminated == nil {
				t.Errorf("%s: init container statuses %+v", name, p.Status.InitContainerStatuses)
			}
		}
		// Neither a task pod without a result nor a pod that is not a task
		// pod ends. A sentinel task pod, made and finished after both were
		// last changed (task-held gets an unrelated annotation), ends once
		// KWOK has acted on the events that followed theirs: by then a
		// stage that wrongly matched them would have ended them too.
		held := []byte(`{"metadata":{"annotations":{"example.com/touched":"yes"}}}`)
		if _, err := c.Client.CoreV1().Pods("default").Patch(ctx, "task-held", types.MergePatchType, held, metav1.PatchOptions{}); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Client.CoreV1().Pods("default").Create(ctx, pod("task-sentinel", task), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		if err := FinishTaskPod(ctx, c.Client, "default", "task-sentinel", TaskPodResult{}); err != nil {
			t.Fatal(err)
		}
		waitPhase("task-sentinel", corev1.PodSucceeded)
		for _, name := range []string{"task-held", "other"} {
			p, err := c.Client.CoreV1().Pods("default").Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if p.Status.Phase != corev1.PodRunning {
				t.Errorf("pod %s is %s, want it still Running", name, p.Status.Phase)
			}
		}
	})

	pids := make([]int, 0, len(c.procs))
	for _, p := range c.procs {
		pids = append(pids, p.cmd.Process.Pid)
	}
	dir := c.Dir
	c.Stop()
	stopped = true
	for _, pid := range pids {
		if err := syscall.Kill(pid, 0); err == nil {
			t.Errorf("process %d still runs after Stop", pid)
		}
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("cluster directory %s still exists after Stop", dir)
	}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
