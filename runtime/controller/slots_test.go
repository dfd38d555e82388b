package controller

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	toolscache "k8s.io/client-go/tools/cache"

	"github.com/kfstack/terraform-provider-kubeflow/runtime/api/v1alpha1"
)

func taskPod(name, run string, phase corev1.PodPhase) *corev1.Pod {
	t := true
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: "ns", Name: name, Labels: map[string]string{v1alpha1.LabelRunUID: "uid-" + run},
			OwnerReferences: []metav1.OwnerReference{{Kind: "PipelineRun", Name: run, UID: types.UID("uid-" + run), Controller: &t}},
		},
		Status: corev1.PodStatus{Phase: phase},
	}
}

func key(name string) types.NamespacedName { return types.NamespacedName{Namespace: "ns", Name: name} }

// TestTaskSlots: the count follows pods, granted slots and pods being
// created; a run without room queues, a pod's end wakes the oldest waiting
// run, and a newcomer does not jump the queue.
func TestTaskSlots(t *testing.T) {
	s := newTaskSlots(2, nil)
	h := s.handler()
	h.OnAdd(taskPod("a-1-1", "a", corev1.PodRunning), false)
	h.OnAdd(&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "other"}}, false) // not a task pod
	if used, _ := s.stats(); used != 1 {
		t.Fatalf("used %d after one running task pod, want 1", used)
	}

	// Run a gets the one free slot and creates a pod with it.
	ga := s.begin(key("a"))
	if got := ga.take(3); got != 1 {
		t.Fatalf("a got %d slots, want 1", got)
	}
	ga.use(key("a-2-1"))
	ga.end(true) // two more tasks wait
	if used, waiting := s.stats(); used != 2 || waiting != 1 {
		t.Fatalf("used %d, waiting %d; want 2 and 1", used, waiting)
	}
	// The informer shows the new pod: still two.
	h.OnAdd(taskPod("a-2-1", "a", corev1.PodPending), false)
	if used, _ := s.stats(); used != 2 {
		t.Fatalf("used %d once the created pod is seen, want 2", used)
	}

	// Run b finds no room and queues behind a.
	gb := s.begin(key("b"))
	if got := gb.take(1); got != 0 {
		t.Fatalf("b got %d slots with none free", got)
	}
	gb.end(true)

	// A pod ends: a, the oldest, is woken, not b.
	h.OnUpdate(nil, taskPod("a-1-1", "a", corev1.PodSucceeded))
	if woken := (<-s.wake).Object.Name; woken != "a" {
		t.Fatalf("woke %s, want a", woken)
	}
	// A newcomer does not take the slot promised to a.
	gc := s.begin(key("c"))
	if got := gc.take(1); got != 0 {
		t.Fatalf("c got %d slots while a and b wait", got)
	}
	gc.end(true)
	ga = s.begin(key("a"))
	if got := ga.take(2); got != 1 {
		t.Fatalf("woken a got %d slots, want 1", got)
	}
	ga.use(key("a-3-1"))
	ga.end(true)

	// A deleted pod frees its slot for b, the next in line.
	h.OnDelete(toolscache.DeletedFinalStateUnknown{Obj: taskPod("a-2-1", "a", corev1.PodRunning)})
	if woken := (<-s.wake).Object.Name; woken != "b" {
		t.Fatalf("woke %s, want b", woken)
	}
	// A run that goes away leaves the queue.
	s.forget(key("c"))
	if _, waiting := s.stats(); waiting != 2 { // b woken, a queued
		t.Fatalf("waiting %d, want 2 (b woken, a queued)", waiting)
	}
	select {
	case ev := <-s.wake:
		t.Fatalf("woke %s with no slot free", ev.Object.Name)
	default:
	}
}

// TestTaskSlotsCountOnlyDrivenRuns: with a run selector, pods of runs
// another controller drives do not count.
func TestTaskSlotsCountOnlyDrivenRuns(t *testing.T) {
	s := newTaskSlots(1, func(run types.NamespacedName, _ types.UID) bool { return run.Name == "mine" })
	h := s.handler()
	h.OnAdd(taskPod("theirs-1-1", "theirs", corev1.PodRunning), false)
	g := s.begin(key("mine"))
	if got := g.take(1); got != 1 {
		t.Fatalf("got %d slots; another controller's pod must not count", got)
	}
	g.end(false)
}

// TestTaskSlotsWokenRunThatReturnsEarly: a run woken for a freed slot whose
// reconcile ends without taking it (an error before the engine stepped)
// hands the slot to the next run in line instead of leaving it idle.
func TestTaskSlotsWokenRunThatReturnsEarly(t *testing.T) {
	s := newTaskSlots(1, nil)
	h := s.handler()
	h.OnAdd(taskPod("x-1-1", "x", corev1.PodRunning), false)
	for _, run := range []string{"a", "b"} {
		g := s.begin(key(run))
		if got := g.take(1); got != 0 {
			t.Fatalf("%s got %d slots with none free", run, got)
		}
		g.end(true)
	}
	h.OnUpdate(nil, taskPod("x-1-1", "x", corev1.PodSucceeded))
	if woken := (<-s.wake).Object.Name; woken != "a" {
		t.Fatalf("woke %s, want a", woken)
	}
	// a's reconcile fails before it steps: its grant ends unused.
	s.begin(key("a")).end(false)
	select {
	case ev := <-s.wake:
		if ev.Object.Name != "b" {
			t.Fatalf("woke %s, want b", ev.Object.Name)
		}
	default:
		t.Fatal("the slot a did not take stays idle while b waits")
	}
	g := s.begin(key("b"))
	if got := g.take(1); got != 1 {
		t.Fatalf("b got %d slots, want the one a left", got)
	}
	g.end(false)
}
