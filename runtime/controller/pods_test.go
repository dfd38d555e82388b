package controller

import (
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/kfstack/terraform-provider-kubeflow/runtime/api/v1alpha1"
)

func testRun(name, uid string) *v1alpha1.PipelineRun {
	return &v1alpha1.PipelineRun{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name, UID: types.UID(uid)}}
}

// TestPodNameIsUniquePerRunUID: runs of one name with other UIDs never
// share a pod name; names stay valid at the longest run names.
func TestPodNameIsUniquePerRunUID(t *testing.T) {
	a := testRun("train", "3f2a9c1b-0d4e-4f5a-8b6c-7d8e9f0a1b2c")
	b := testRun("train", "9e8d7c6b-5a4f-4e3d-2c1b-0a9f8e7d6c5b")
	if got := podName(a, 4, 2); got != "train-3f2a9c1b-4-2" {
		t.Errorf("pod name %s", got)
	}
	if podName(a, 4, 2) == podName(b, 4, 2) {
		t.Error("two runs of the same name got the same pod name")
	}
	long := testRun(strings.Repeat("a", 252)+"z", "3f2a9c1b-0d4e-4f5a-8b6c-7d8e9f0a1b2c")
	for _, attempt := range []int32{1, 99} {
		name := podName(long, 12345, attempt)
		if errs := validation.IsDNS1123Subdomain(name); len(errs) > 0 || len(name) > 253 {
			t.Errorf("pod name of a 253-character run: %d characters, %v", len(name), errs)
		}
		if !strings.HasSuffix(name, fmt.Sprintf("-3f2a9c1b-12345-%d", attempt)) {
			t.Errorf("pod name %s lost its UID, node or attempt", name)
		}
	}
}

// TestOwnsAttempt: a pod is adopted for an attempt only when it is that
// attempt's, in every respect.
func TestOwnsAttempt(t *testing.T) {
	run := testRun("train", "uid-1")
	pod := func(mutate func(*corev1.Pod)) *corev1.Pod {
		yes := true
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{
			Name:            "train-uid1-3-1",
			Labels:          map[string]string{v1alpha1.LabelRunUID: "uid-1", v1alpha1.LabelNode: "3", v1alpha1.LabelAttempt: "1"},
			Annotations:     map[string]string{v1alpha1.AnnotationTask: "loop[1]/fit"},
			OwnerReferences: []metav1.OwnerReference{{APIVersion: v1alpha1.GroupVersion.String(), Kind: "PipelineRun", Name: "train", UID: "uid-1", Controller: &yes}},
		}}
		if mutate != nil {
			mutate(p)
		}
		return p
	}
	if why := ownsAttempt(pod(nil), run, 3, 1, "loop[1]/fit"); why != "" {
		t.Errorf("the attempt's own pod refused: %s", why)
	}
	for name, c := range map[string]struct {
		p    *corev1.Pod
		want string
	}{
		"an earlier run's":      {pod(func(p *corev1.Pod) { p.Labels[v1alpha1.LabelRunUID] = "uid-0"; p.OwnerReferences[0].UID = "uid-0" }), "another run"},
		"not controlled":        {pod(func(p *corev1.Pod) { p.OwnerReferences = nil }), "another run"},
		"another task's":        {pod(func(p *corev1.Pod) { p.Annotations[v1alpha1.AnnotationTask] = "loop[0]/fit" }), `runs task "loop[0]/fit"`},
		"another attempt's":     {pod(func(p *corev1.Pod) { p.Labels[v1alpha1.LabelAttempt] = "2" }), "not the pod of node 3, attempt 1"},
		"without the task name": {pod(func(p *corev1.Pod) { delete(p.Annotations, v1alpha1.AnnotationTask) }), `runs task ""`},
	} {
		if why := ownsAttempt(c.p, run, 3, 1, "loop[1]/fit"); !strings.Contains(why, c.want) {
			t.Errorf("%s: %q, want %q", name, why, c.want)
		}
	}
}
