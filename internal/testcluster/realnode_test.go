package testcluster

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/kfstack/terraform-provider-kubeflow/internal/image"
	"github.com/kfstack/terraform-provider-kubeflow/runtime/api/v1alpha1"
)

// TestRealNode runs Pods in real containers on the real node, then checks
// that start, stop and start again leave nothing behind on the host.
func TestRealNode(t *testing.T) {
	if err := RealNodeSupported(); err != nil {
		t.Skipf("no real node on this machine: %v", err)
	}
	ctx := context.Background()
	before, err := currentHostState()
	if err != nil {
		t.Fatal(err)
	}
	helloRef, hello := buildHelloImage(t)

	start := time.Now()
	c, err := Start(ctx, Options{
		RealNode:  true,
		NodePools: []NodePool{{Name: "cpu", Count: 1, CPU: "16", Memory: "64Gi"}},
		Progress:  testWriter{t},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("cluster with a real node ready in %s", time.Since(start).Round(100*time.Millisecond))
	stopped := false
	defer func() {
		if !stopped {
			c.Stop()
		}
	}()
	node := c.RealNode
	if err := node.ImportImage(ctx, helloRef, hello); err != nil {
		t.Fatal(err)
	}

	t.Run("init container injects an executable that the main container runs", func(t *testing.T) {
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: "inject", Namespace: "default"},
			Spec: corev1.PodSpec{
				RestartPolicy: corev1.RestartPolicyNever,
				Volumes:       []corev1.Volume{{Name: "tools", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}},
				InitContainers: []corev1.Container{{
					Name: "install", Image: helloRef, ImagePullPolicy: corev1.PullNever,
					Command:      []string{"/hello", "install", "/tools/hello"},
					VolumeMounts: []corev1.VolumeMount{{Name: "tools", MountPath: "/tools"}},
				}},
				Containers: []corev1.Container{{
					Name: "main", Image: node.Images[image.BaseImage], ImagePullPolicy: corev1.PullNever,
					Command:      []string{"/tools/hello", "run", "answer=42", "0"},
					VolumeMounts: []corev1.VolumeMount{{Name: "tools", MountPath: "/tools"}},
				}},
			},
		}
		node.Pin(&pod.Spec)
		created := time.Now()
		done := runPod(t, c, pod)
		t.Logf("pod Succeeded %s after it was created", time.Since(created).Round(100*time.Millisecond))
		if done.Status.Phase != corev1.PodSucceeded {
			t.Fatalf("pod phase %s, want Succeeded; statuses %+v %+v", done.Status.Phase, done.Status.InitContainerStatuses, done.Status.ContainerStatuses)
		}
		term := done.Status.ContainerStatuses[0].State.Terminated
		if term == nil || term.ExitCode != 0 || term.Message != "answer=42" {
			t.Errorf("main container terminated = %+v, want exit code 0 and message answer=42", term)
		}
		if done.Spec.NodeName != node.Name {
			t.Errorf("pod ran on %s, want %s", done.Spec.NodeName, node.Name)
		}
		// Logs travel API server → kubelet over the node's InternalIP and
		// the kubelet's CA-signed serving certificate.
		logs, err := c.Client.CoreV1().Pods("default").GetLogs("inject", &corev1.PodLogOptions{Container: "main"}).DoRaw(ctx)
		if err != nil {
			t.Fatalf("reading the pod's logs: %v", err)
		}
		if !strings.Contains(string(logs), "hello from a real container") {
			t.Errorf("logs = %q", logs)
		}
	})

	t.Run("the runtime image's launcher runs in a container of another image", func(t *testing.T) {
		runtimeRef, ok := node.Images[image.RuntimeImage]
		if !ok {
			t.Skipf("no runtime image: %s does not exist", image.RuntimePackage)
		}
		// How task Pods get the launcher: an init container of the runtime
		// image copies it into an emptyDir, the user's image runs it.
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: "launcher", Namespace: "default"},
			Spec: corev1.PodSpec{
				RestartPolicy: corev1.RestartPolicyNever,
				Volumes:       []corev1.Volume{{Name: "kfstack", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}},
				InitContainers: []corev1.Container{{
					Name: "install", Image: runtimeRef,
					Command:      []string{"cp", v1alpha1.RuntimeBinaryPath, "/kfstack/kfstack-runtime"},
					VolumeMounts: []corev1.VolumeMount{{Name: "kfstack", MountPath: "/kfstack"}},
				}},
				Containers: []corev1.Container{{
					Name: "main", Image: helloRef,
					// No task spec: launch must start and say so.
					Command:                  []string{"/kfstack/kfstack-runtime", "launch", "--spec", "/no/spec.json"},
					VolumeMounts:             []corev1.VolumeMount{{Name: "kfstack", MountPath: "/kfstack"}},
					TerminationMessagePolicy: corev1.TerminationMessageFallbackToLogsOnError,
				}},
			},
		}
		node.Pin(&pod.Spec)
		done := runPod(t, c, pod)
		term := done.Status.ContainerStatuses[0].State.Terminated
		if term == nil || term.ExitCode != 2 || !strings.Contains(term.Message, "reading task spec") {
			t.Errorf("launcher terminated %+v; want exit code 2 and a message about the task spec", term)
		}
	})

	t.Run("failing container reports its exit code and message", func(t *testing.T) {
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: "fail", Namespace: "default"},
			Spec: corev1.PodSpec{
				RestartPolicy: corev1.RestartPolicyNever,
				Containers: []corev1.Container{{
					Name: "main", Image: node.Images[image.BaseImage], ImagePullPolicy: corev1.PullIfNotPresent,
					Command: []string{"/bin/sh", "-c", "echo 'no luck' > /dev/termination-log; exit 3"},
				}},
			},
		}
		node.Pin(&pod.Spec)
		done := runPod(t, c, pod)
		if done.Status.Phase != corev1.PodFailed {
			t.Fatalf("pod phase %s, want Failed", done.Status.Phase)
		}
		term := done.Status.ContainerStatuses[0].State.Terminated
		if term == nil || term.ExitCode != 3 || strings.TrimSpace(term.Message) != "no luck" {
			t.Errorf("terminated = %+v, want exit code 3 and message %q", term, "no luck")
		}
	})

	t.Run("an alpine image runs on the local base image through a mirror rule", func(t *testing.T) {
		// What the runtime does with container components that name
		// public images, on a node without a registry.
		// Artifacts go to a file:// pipeline root on a hostPath.
		rules := node.BaseImageRules()
		artifacts := t.TempDir()
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: "alpine", Namespace: "default"},
			Spec: corev1.PodSpec{
				RestartPolicy: corev1.RestartPolicyNever,
				Volumes: []corev1.Volume{{Name: "root", VolumeSource: corev1.VolumeSource{
					HostPath: &corev1.HostPathVolumeSource{Path: artifacts},
				}}},
				Containers: []corev1.Container{{
					Name: "main", Image: "alpine",
					// A KFP sample's command: GNU long options work too.
					Command:      []string{"sh", "-c", "mkdir --parents $(dirname \"$1\") && echo \"$0\" > \"$1\" && echo -n \"$(( 6 * 7 ))\" > /dev/termination-log", "model", "/pipeline-root/artifacts/model.txt"},
					VolumeMounts: []corev1.VolumeMount{{Name: "root", MountPath: "/pipeline-root"}},
				}},
			},
		}
		if err := rules.RewritePodSpec(&pod.Spec); err != nil {
			t.Fatal(err)
		}
		node.Pin(&pod.Spec)
		done := runPod(t, c, pod)
		term := done.Status.ContainerStatuses[0].State.Terminated
		if done.Status.Phase != corev1.PodSucceeded || term == nil || term.Message != "42" {
			t.Errorf("phase %s, terminated %+v; want Succeeded with message 42", done.Status.Phase, term)
		}
		if data, err := os.ReadFile(filepath.Join(artifacts, "artifacts", "model.txt")); err != nil || string(data) != "model\n" {
			t.Errorf("artifact on the hostPath: %q, %v", data, err)
		}
		if got := done.Spec.Containers[0].ImagePullPolicy; got != corev1.PullIfNotPresent {
			t.Errorf("defaulted pull policy %s, want IfNotPresent (the rewritten image is not :latest)", got)
		}
	})

	t.Run("pods reach each other over the bridge", func(t *testing.T) {
		// MPI launchers and workers talk Pod to Pod.
		server := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: "server", Namespace: "default"},
			Spec: corev1.PodSpec{
				RestartPolicy: corev1.RestartPolicyNever,
				Containers: []corev1.Container{{
					Name: "main", Image: node.Images[image.BaseImage],
					Command: []string{"sh", "-c", "echo pong | nc -l -p 7000"},
				}},
			},
		}
		node.Pin(&server.Spec)
		if _, err := c.Client.CoreV1().Pods("default").Create(ctx, server, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		var ip string
		err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
			p, err := c.Client.CoreV1().Pods("default").Get(ctx, "server", metav1.GetOptions{})
			if err != nil {
				return false, err
			}
			ip = p.Status.PodIP
			return p.Status.Phase == corev1.PodRunning && ip != "", nil
		})
		if err != nil {
			t.Fatalf("server pod: %v", err)
		}
		client := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: "client", Namespace: "default"},
			Spec: corev1.PodSpec{
				RestartPolicy: corev1.RestartPolicyNever,
				Containers: []corev1.Container{{
					Name: "main", Image: node.Images[image.BaseImage],
					// The listener may need a moment after the container starts.
					Command: []string{"sh", "-c", "for i in 1 2 3 4 5 6 7 8 9 10; do nc " + ip + " 7000 > /dev/termination-log && [ -s /dev/termination-log ] && exit 0; sleep 0.5; done; exit 1"},
				}},
			},
		}
		node.Pin(&client.Spec)
		done := runPod(t, c, client)
		term := done.Status.ContainerStatuses[0].State.Terminated
		if done.Status.Phase != corev1.PodSucceeded || term == nil || strings.TrimSpace(term.Message) != "pong" {
			t.Errorf("client: phase %s, terminated %+v; want Succeeded with message pong from %s", done.Status.Phase, term, ip)
		}
	})

	t.Run("the node runs kubelet and containerd at the pinned versions, tainted", func(t *testing.T) {
		nodes, err := c.Client.CoreV1().Nodes().Get(ctx, node.Name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if !NodeSchedulable(nodes) || nodes.Labels[RealNodeLabel] != "true" {
			t.Errorf("real node: schedulable %v, labels %v", NodeSchedulable(nodes), nodes.Labels)
		}
		if len(nodes.Spec.Taints) != 1 || nodes.Spec.Taints[0].Key != RealNodeTaint {
			t.Errorf("real node taints = %v, want only %s", nodes.Spec.Taints, RealNodeTaint)
		}
		info := nodes.Status.NodeInfo
		if info.KubeletVersion != KubernetesVersion || info.ContainerRuntimeVersion != "containerd://"+strings.TrimPrefix(ContainerdVersion, "v") {
			t.Errorf("kubelet %s on %s, want %s on containerd://%s", info.KubeletVersion, info.ContainerRuntimeVersion, KubernetesVersion, ContainerdVersion)
		}
		var internalIP string
		for _, a := range nodes.Status.Addresses {
			if a.Type == corev1.NodeInternalIP {
				internalIP = a.Address
			}
		}
		if internalIP != node.IP {
			t.Errorf("InternalIP %q, want %s", internalIP, node.IP)
		}
	})

	if running, err := currentHostState(); err == nil {
		t.Logf("host while the real node runs: %s", running)
	}
	c.Stop()
	stopped = true
	checkNothingLeft(t, "after the first stop", before)

	// A second start on the same host must work and leave the host as
	// the first one did.
	start = time.Now()
	c2, err := Start(ctx, Options{RealNode: true, NodePools: []NodePool{}, Progress: testWriter{t}})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("second cluster with a real node ready in %s", time.Since(start).Round(100*time.Millisecond))
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "again", Namespace: "default"},
		Spec: corev1.PodSpec{
			RestartPolicy: corev1.RestartPolicyNever,
			Containers: []corev1.Container{{
				Name: "main", Image: c2.RealNode.Images[image.BaseImage], ImagePullPolicy: corev1.PullNever,
				Command: []string{"/bin/sh", "-c", "sleep 3600"},
			}},
		},
	}
	c2.RealNode.Pin(&pod.Spec)
	if _, err := c2.Client.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		c2.Stop()
		t.Fatal(err)
	}
	// Stop while the container still runs: Stop must end it.
	err = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		p, err := c2.Client.CoreV1().Pods("default").Get(ctx, "again", metav1.GetOptions{})
		return err == nil && p.Status.Phase == corev1.PodRunning, nil
	})
	c2.Stop()
	if err != nil {
		t.Errorf("pod did not run on the second cluster: %v", err)
	}
	checkNothingLeft(t, "after the second stop", before)
}

// runPod creates pod and returns it once it has finished.
func runPod(t *testing.T, c *Cluster, pod *corev1.Pod) *corev1.Pod {
	t.Helper()
	ctx := context.Background()
	if _, err := c.Client.CoreV1().Pods(pod.Namespace).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var last *corev1.Pod
	err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		p, err := c.Client.CoreV1().Pods(pod.Namespace).Get(ctx, pod.Name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		last = p
		return p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed, nil
	})
	if err != nil {
		events, _ := c.Client.CoreV1().Events(pod.Namespace).List(ctx, metav1.ListOptions{FieldSelector: "involvedObject.name=" + pod.Name})
		for _, e := range events.Items {
			t.Logf("event %s: %s", e.Reason, e.Message)
		}
		t.Fatalf("pod %s did not finish: %v; last status %+v", pod.Name, err, last.Status)
	}
	return last
}

// buildHelloImage builds an image that holds only the static hello
// program, the way the runtime image holds the launcher.
func buildHelloImage(t *testing.T) (string, v1.Image) {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "hello")
	cmd := exec.Command("go", "build", "-o", bin, "./testdata/hello")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building testdata/hello: %v\n%s", err, out)
	}
	img, err := image.Build(image.Spec{
		Layers:     [][]image.File{{{Path: "/hello", Source: bin, Mode: 0o755}}},
		Entrypoint: []string{"/hello"},
	})
	if err != nil {
		t.Fatal(err)
	}
	return image.Ref("hello-test", RealNodeImageTag), img
}

// checkNothingLeft compares the host with its state before the first
// start.
func checkNothingLeft(t *testing.T, when string, before hostState) {
	t.Helper()
	after, err := currentHostState()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("host %s: %s (before: %s)", when, after, before)
	if after.Mounts > before.Mounts {
		t.Errorf("%s: %d mounts, %d before", when, after.Mounts, before.Mounts)
	}
	if after.Links > before.Links {
		t.Errorf("%s: %d network links, %d before", when, after.Links, before.Links)
	}
	if after.Chains > before.Chains {
		t.Errorf("%s: %d iptables chains, %d before", when, after.Chains, before.Chains)
	}
	if after.Rules > before.Rules {
		t.Errorf("%s: %d iptables rules, %d before", when, after.Rules, before.Rules)
	}
	if after.Cgroups > before.Cgroups {
		t.Errorf("%s: %d kubepods cgroups, %d before", when, after.Cgroups, before.Cgroups)
	}
	if len(after.HostPaths) > len(before.HostPaths) {
		t.Errorf("%s: host paths %v, before %v", when, after.HostPaths, before.HostPaths)
	}
	if len(after.Processes) > len(before.Processes) {
		t.Errorf("%s: node processes %v, before %v", when, after.Processes, before.Processes)
	}
}
