package controller

import (
	"reflect"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kfstack/terraform-provider-kubeflow/internal/imagerewrite"
	"github.com/kfstack/terraform-provider-kubeflow/runtime/api/v1alpha1"
)

func TestTaskPodDefaultsApply(t *testing.T) {
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{v1alpha1.LabelNode: "3"}},
		Spec: corev1.PodSpec{
			NodeSelector:   map[string]string{"cloud.google.com/gke-accelerator": "nvidia-l4"},
			InitContainers: []corev1.Container{{Name: "kfstack-init", Image: "ghcr.io/kfstack/kfstack-runtime:v1"}},
			Containers:     []corev1.Container{{Name: mainContainer, Image: "alpine"}},
			Volumes:        []corev1.Volume{{Name: binVolume}},
		},
	}
	d := TaskPodDefaults{
		NodeSelector:    map[string]string{"cloud.google.com/gke-accelerator": "ignored", "pool": "batch"},
		Tolerations:     []corev1.Toleration{{Key: "batch", Operator: corev1.TolerationOpExists}},
		Volumes:         []corev1.Volume{{Name: "root"}},
		VolumeMounts:    []corev1.VolumeMount{{Name: "root", MountPath: "/mnt/root"}},
		ImagePullPolicy: corev1.PullIfNotPresent,
		Labels:          map[string]string{v1alpha1.LabelNode: "overridden?", "team": "a"},
	}
	rules := imagerewrite.Rules{Mirrors: map[string]string{"docker.io": "mirror.example.com/hub", "ghcr.io": "mirror.example.com/ghcr"}}
	if err := d.apply(pod, rules); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"cloud.google.com/gke-accelerator": "nvidia-l4", "pool": "batch"}
	if !reflect.DeepEqual(pod.Spec.NodeSelector, want) {
		t.Errorf("node selector %v, want %v (the task's accelerator wins)", pod.Spec.NodeSelector, want)
	}
	if pod.Labels[v1alpha1.LabelNode] != "3" || pod.Labels["team"] != "a" {
		t.Errorf("labels %v: the controller's keys must win, others be added", pod.Labels)
	}
	if len(pod.Spec.Tolerations) != 1 || len(pod.Spec.Volumes) != 2 {
		t.Errorf("tolerations %v, volumes %v", pod.Spec.Tolerations, pod.Spec.Volumes)
	}
	main := pod.Spec.Containers[0]
	if len(main.VolumeMounts) != 1 || main.ImagePullPolicy != corev1.PullIfNotPresent || pod.Spec.InitContainers[0].ImagePullPolicy != corev1.PullIfNotPresent {
		t.Errorf("main container %+v", main)
	}
	if main.Image != "mirror.example.com/hub/library/alpine" || pod.Spec.InitContainers[0].Image != "mirror.example.com/ghcr/kfstack/kfstack-runtime:v1" {
		t.Errorf("images %s, %s", main.Image, pod.Spec.InitContainers[0].Image)
	}
}

func TestTaskPodDefaultsValidate(t *testing.T) {
	for _, tc := range []struct {
		d    TaskPodDefaults
		want string
	}{
		{TaskPodDefaults{ImagePullPolicy: "sometimes"}, `imagePullPolicy "sometimes"`},
		{TaskPodDefaults{Volumes: []corev1.Volume{{Name: binVolume}}}, "defined twice"},
		{TaskPodDefaults{Volumes: []corev1.Volume{{}}}, "has no name"},
		{TaskPodDefaults{VolumeMounts: []corev1.VolumeMount{{Name: "x", MountPath: "/x"}}}, `"x" names no volume`},
		{TaskPodDefaults{Volumes: []corev1.Volume{{Name: "x"}}, VolumeMounts: []corev1.VolumeMount{{Name: "x", MountPath: binDir}}}, "needs a mount path"},
	} {
		if err := tc.d.validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want %q", tc.d, err, tc.want)
		}
	}
	if err := (TaskPodDefaults{Volumes: []corev1.Volume{{Name: "x"}}, VolumeMounts: []corev1.VolumeMount{{Name: "x", MountPath: "/x"}}}).validate(); err != nil {
		t.Error(err)
	}
}

func TestPodStuckAndInitFailure(t *testing.T) {
	stuck := &corev1.Pod{Status: corev1.PodStatus{Phase: corev1.PodPending, ContainerStatuses: []corev1.ContainerStatus{{
		Name: mainContainer, State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ErrImageNeverPull", Message: `image "x" is not present`}},
	}}}}
	slim, _ := slimPod(stuck.DeepCopy())
	finished, ok, _, reason := podFinished(slim.(*corev1.Pod))
	if !finished || ok || !strings.Contains(reason, "ErrImageNeverPull") || !podDone(slim.(*corev1.Pod)) {
		t.Errorf("stuck pod: finished %v ok %v reason %q", finished, ok, reason)
	}
	backoff := stuck.DeepCopy()
	backoff.Status.ContainerStatuses[0].State.Waiting.Reason = "ImagePullBackOff"
	if podDone(backoff) {
		t.Error("ImagePullBackOff is not final: the registry may come back")
	}
	if w := podWaiting(slim.(*corev1.Pod)); w != `container main waiting: ErrImageNeverPull: image "x" is not present` {
		t.Errorf("stuck pod waiting: %q", w)
	}
	initFailed := &corev1.Pod{Status: corev1.PodStatus{Phase: corev1.PodFailed, InitContainerStatuses: []corev1.ContainerStatus{{
		Name: "kfstack-init", State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 128, Reason: "StartError", Message: "no such file"}},
	}}}}
	slim, _ = slimPod(initFailed)
	if _, _, _, reason := podFinished(slim.(*corev1.Pod)); reason != "init container kfstack-init exited with code 128 (StartError): no such file" {
		t.Errorf("init failure reason %q", reason)
	}
}

// TestPodWaiting: what a pod that does not run says after the cache's
// transform: why it is not scheduled, or why a container waits, but
// nothing for a pod on its way, running, finished or being deleted.
func TestPodWaiting(t *testing.T) {
	unschedulable := corev1.PodCondition{Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: "Unschedulable", Message: "0/3 nodes are available: 3 Insufficient cpu."}
	waiting := func(name, reason, msg string) corev1.ContainerStatus {
		return corev1.ContainerStatus{Name: name, State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason, Message: msg}}}
	}
	now := metav1.Now()
	for _, tc := range []struct {
		name string
		pod  corev1.Pod
		want string
	}{
		{"unschedulable", corev1.Pod{Status: corev1.PodStatus{Phase: corev1.PodPending, Conditions: []corev1.PodCondition{unschedulable}}},
			"not scheduled: Unschedulable: 0/3 nodes are available: 3 Insufficient cpu."},
		{"missing secret", corev1.Pod{Status: corev1.PodStatus{Phase: corev1.PodPending, Conditions: []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionTrue}},
			ContainerStatuses: []corev1.ContainerStatus{waiting(mainContainer, "CreateContainerConfigError", `secret "db" not found`)}}},
			`container main waiting: CreateContainerConfigError: secret "db" not found`},
		{"image pull back-off in an init container", corev1.Pod{Status: corev1.PodStatus{Phase: corev1.PodPending,
			InitContainerStatuses: []corev1.ContainerStatus{waiting("kfstack-init", "ImagePullBackOff", "")}}},
			"container kfstack-init waiting: ImagePullBackOff"},
		{"creating", corev1.Pod{Status: corev1.PodStatus{Phase: corev1.PodPending, ContainerStatuses: []corev1.ContainerStatus{waiting(mainContainer, "ContainerCreating", "")}}}, ""},
		{"new", corev1.Pod{}, ""},
		{"running", corev1.Pod{Status: corev1.PodStatus{Phase: corev1.PodRunning}}, ""},
		{"deleted", corev1.Pod{ObjectMeta: metav1.ObjectMeta{DeletionTimestamp: &now}, Status: corev1.PodStatus{Phase: corev1.PodPending, Conditions: []corev1.PodCondition{unschedulable}}}, ""},
	} {
		slim, _ := slimPod(tc.pod.DeepCopy())
		if got := podWaiting(slim.(*corev1.Pod)); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}
