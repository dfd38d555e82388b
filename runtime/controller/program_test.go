package controller_test

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	toolscache "k8s.io/client-go/tools/cache"

	"github.com/kfstack/terraform-provider-kubeflow/internal/testcluster"
	"github.com/kfstack/terraform-provider-kubeflow/runtime/api/v1alpha1"
	"github.com/kfstack/terraform-provider-kubeflow/runtime/controller"
	"github.com/kfstack/terraform-provider-kubeflow/runtime/launcher"
)

// outcome is a simulated user program: from the task's spec and the
// attempt number it decides what the launcher would report and the main
// container's exit code.
type outcome func(spec *launcher.TaskSpec, attempt int) (launcher.Message, int)

// succeed is the program of tasks without outputs.
func succeed(*launcher.TaskSpec, int) (launcher.Message, int) { return launcher.Message{}, 0 }

// programs plays the user's programs of the task pods of one namespace.
// KWOK cannot run them: for every new task pod it decides the result
// (outcome) and hands it to KWOK (testcluster.FinishTaskPod), whose stage
// ends the pod as the kubelet would, with the termination message the
// launcher would have written. Held tasks keep running until released.
type programs struct {
	t       testing.TB
	outcome outcome
	client  kubernetes.Interface
	queue   chan *corev1.Pod

	mu sync.Mutex
	// runFor is how long a program runs before it ends (0: at once).
	runFor time.Duration
	held   map[string]bool          // task name -> hold its pods
	parked map[string][]*corev1.Pod // pods of held tasks
	stop   chan struct{}
	wg     sync.WaitGroup
}

// startPrograms plays the programs of the namespace's task pods until the
// test ends.
func startPrograms(t testing.TB, ns string, o outcome) *programs {
	t.Helper()
	cfg := rest.CopyConfig(cluster.Config)
	// The programs must not be what limits a benchmark.
	cfg.QPS, cfg.Burst = 2000, 4000
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	p := &programs{
		t: t, outcome: o, client: client, queue: make(chan *corev1.Pod, 16384),
		held: map[string]bool{}, parked: map[string][]*corev1.Pod{}, stop: make(chan struct{}),
	}
	factory := informers.NewSharedInformerFactoryWithOptions(client, 0, informers.WithNamespace(ns),
		informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.LabelSelector = v1alpha1.LabelRunUID }))
	inf := factory.Core().V1().Pods().Informer()
	if _, err := inf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{AddFunc: func(obj any) {
		if pod, ok := obj.(*corev1.Pod); ok && pod.Status.Phase != corev1.PodSucceeded && pod.Status.Phase != corev1.PodFailed {
			p.admit(pod)
		}
	}}); err != nil {
		t.Fatal(err)
	}
	factory.Start(p.stop)
	for range 4 {
		p.wg.Add(1)
		go p.work()
	}
	t.Cleanup(func() {
		close(p.stop)
		factory.Shutdown()
		p.wg.Wait()
	})
	return p
}

// admit queues a new pod's program, or parks it while its task is held.
func (p *programs) admit(pod *corev1.Pod) {
	task := pod.Annotations[v1alpha1.AnnotationTask]
	p.mu.Lock()
	if p.held[task] {
		p.parked[task] = append(p.parked[task], pod)
		p.mu.Unlock()
		return
	}
	runFor := p.runFor
	p.mu.Unlock()
	p.start(pod, runFor)
}

// start queues a pod's program to end after d.
func (p *programs) start(pod *corev1.Pod, d time.Duration) {
	if d <= 0 {
		p.queue <- pod
		return
	}
	time.AfterFunc(d, func() { p.queue <- pod })
}

// setRunFor sets how long the programs of pods admitted from now on run.
func (p *programs) setRunFor(d time.Duration) {
	p.mu.Lock()
	p.runFor = d
	p.mu.Unlock()
}

// hold keeps the pods of a task running until released.
func (p *programs) hold(task string, on bool) {
	p.mu.Lock()
	p.held[task] = on
	var release []*corev1.Pod
	if !on {
		release = p.parked[task]
		delete(p.parked, task)
	}
	runFor := p.runFor
	p.mu.Unlock()
	for _, pod := range release {
		p.start(pod, runFor)
	}
}

func (p *programs) work() {
	defer p.wg.Done()
	for {
		select {
		case <-p.stop:
			return
		case pod := <-p.queue:
			p.run(pod)
		}
	}
}

// run decides the pod's result and hands it over.
func (p *programs) run(pod *corev1.Pod) {
	spec, err := taskSpecOf(pod)
	if err != nil {
		p.t.Errorf("pod %s: %v", pod.Name, err)
		return
	}
	attempt, _ := strconv.Atoi(pod.Labels[v1alpha1.LabelAttempt])
	// As in the pod: the kubelet sets the variables from Secrets, and
	// the launcher substitutes them before the program starts.
	var msg launcher.Message
	code := 1
	if err := spec.ResolveSecrets(p.kubeletEnv(pod)); err != nil {
		msg.Error = err.Error()
	} else {
		msg, code = p.outcome(spec, attempt)
	}
	b, err := json.Marshal(msg)
	if err != nil {
		p.t.Errorf("pod %s: %v", pod.Name, err)
		return
	}
	// The API server may be away (a fault test restarts it): the program
	// has ended, so its result is handed over once it is back.
	deadline := time.Now().Add(2 * time.Minute)
	for {
		err := testcluster.FinishTaskPod(context.Background(), p.client, pod.Namespace, pod.Name, testcluster.TaskPodResult{ExitCode: code, Message: string(b)})
		if err == nil || apierrors.IsNotFound(err) {
			return
		}
		if time.Now().After(deadline) {
			p.t.Errorf("pod %s: %v", pod.Name, err)
			return
		}
		select {
		case <-p.stop:
			return
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// kubeletEnv looks up the main container's environment as the kubelet
// sets it: values from Secrets' keys included.
func (p *programs) kubeletEnv(pod *corev1.Pod) func(string) (string, bool) {
	return func(name string) (string, bool) {
		for _, e := range pod.Spec.Containers[0].Env {
			if e.Name != name {
				continue
			}
			if e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil {
				return e.Value, true
			}
			ref := e.ValueFrom.SecretKeyRef
			secret, err := p.client.CoreV1().Secrets(pod.Namespace).Get(context.Background(), ref.Name, metav1.GetOptions{})
			if err != nil {
				return "", false
			}
			v, ok := secret.Data[ref.Key]
			return string(v), ok
		}
		return "", false
	}
}

// taskSpecOf reads the task spec the controller gave the pod's launcher.
func taskSpecOf(pod *corev1.Pod) (*launcher.TaskSpec, error) {
	for _, c := range pod.Spec.Containers {
		for _, e := range c.Env {
			if e.Name == controller.TaskSpecEnv {
				var spec launcher.TaskSpec
				if err := json.Unmarshal([]byte(e.Value), &spec); err != nil {
					return nil, err
				}
				return &spec, nil
			}
		}
	}
	return nil, errors.New("the pod carries no task spec")
}

// TestTaskPodLabelMatchesStage: KWOK's stage finishes the pods carrying
// testcluster.TaskPodLabel, which must be the controller's label.
func TestTaskPodLabelMatchesStage(t *testing.T) {
	if testcluster.TaskPodLabel != v1alpha1.LabelRunUID {
		t.Fatalf("KWOK's task pod stage selects %s, the controller labels task pods with %s", testcluster.TaskPodLabel, v1alpha1.LabelRunUID)
	}
}
