package testcluster

import (
	"context"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
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
