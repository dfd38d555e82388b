package controller_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kfstack/terraform-provider-kubeflow/runtime/api/v1alpha1"
)

// unfinishedPods follows the task pods of a namespace through a watch and
// records the most that existed unfinished at once, and the gaps between
// a pod ending and the next pod appearing.
type unfinishedPods struct {
	mu        sync.Mutex
	live      map[string]bool
	peak      int
	created   int
	lastEnd   time.Time
	startGaps []time.Duration
	stop      func()
}

func watchUnfinished(t *testing.T, ns string) *unfinishedPods {
	t.Helper()
	w, err := cluster.Client.CoreV1().Pods(ns).Watch(context.Background(), metav1.ListOptions{LabelSelector: v1alpha1.LabelRunUID})
	if err != nil {
		t.Fatal(err)
	}
	u := &unfinishedPods{live: map[string]bool{}}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ev := range w.ResultChan() {
			pod, ok := ev.Object.(*corev1.Pod)
			if !ok {
				continue
			}
			finished := ev.Type == watch.Deleted || pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed
			now := time.Now()
			u.mu.Lock()
			switch {
			case ev.Type == watch.Added && !finished:
				u.live[pod.Name] = true
				u.created++
				if !u.lastEnd.IsZero() {
					u.startGaps = append(u.startGaps, now.Sub(u.lastEnd))
					u.lastEnd = time.Time{}
				}
				u.peak = max(u.peak, len(u.live))
			case finished && u.live[pod.Name]:
				delete(u.live, pod.Name)
				u.lastEnd = now
			}
			u.mu.Unlock()
		}
	}()
	u.stop = func() { w.Stop(); <-done }
	t.Cleanup(u.stop)
	return u
}

func (u *unfinishedPods) counts() (live, peak, created int) {
	u.mu.Lock()
	defer u.mu.Unlock()
	return len(u.live), u.peak, u.created
}

// controllerMetric reads one gauge of a controller process's metrics
// endpoint (-1 when it cannot).
func controllerMetric(addr, name string) float64 {
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err == nil {
				return f
			}
		}
	}
	return -1
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// eventually polls cond until it holds, failing the test after a minute.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited a minute for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestMaxRunningTasks runs three 4-task fan-outs under
// --max-running-tasks=3 in a controller process: never more than three
// task pods exist unfinished; the tasks without room wait as Ready; a
// controller killed with SIGKILL and started again counts the pods its
// predecessor left instead of starting more; and waiting tasks start as
// pods end.
func TestMaxRunningTasks(t *testing.T) {
	const limit = 3
	bin := runtimeBinary(t)
	ctx := context.Background()
	ns := namespace(t)
	prog := startPrograms(t, ns, succeed)
	tasks := []string{"w0", "w1", "w2", "w3"}
	for _, task := range tasks {
		prog.hold(task, true)
	}
	pods := watchUnfinished(t, ns)
	var dag strings.Builder
	dag.WriteString("name: fan\ntasks:\n")
	for _, task := range tasks {
		fmt.Fprintf(&dag, "- name: %s\n  image: registry.example/step:1\n  command: [step]\n", task)
	}
	createPipeline(t, ns, "fan", "", dag.String())
	metrics := freeAddr(t)
	first := controllerProcess(t, bin, "--max-running-tasks", strconv.Itoa(limit), "--metrics-bind-address", metrics, "--metrics-secure=false")
	runs := []string{"a", "b", "c"}
	for _, name := range runs {
		createRun(t, ns, name, "fan", v1alpha1.ExecutorPod, nil, func(r *v1alpha1.PipelineRun) {
			r.Labels = map[string]string{labelController: subprocessController}
		})
	}

	// Three pods run, held; the other nine tasks wait.
	eventually(t, "three task pods", func() bool { live, _, _ := pods.counts(); return live == limit })
	eventually(t, "runs waiting for a slot", func() bool { return controllerMetric(metrics, "kfstack_runs_waiting_for_slots") >= 1 })
	ready := int32(0)
	for _, name := range runs {
		r := &v1alpha1.PipelineRun{}
		if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, r); err != nil {
			t.Fatal(err)
		}
		ready += r.Status.Tasks["Ready"]
	}
	if ready == 0 {
		t.Errorf("no run shows tasks waiting as Ready")
	}

	// A new controller counts the three pods from its cache: it queues the
	// runs and starts nothing.
	if err := first.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = first.Wait()
	metrics = freeAddr(t)
	controllerProcess(t, bin, "--max-running-tasks", strconv.Itoa(limit), "--metrics-bind-address", metrics, "--metrics-secure=false")
	eventually(t, "the new controller to count three pods and queue runs", func() bool {
		return controllerMetric(metrics, "kfstack_task_slots_used") == limit && controllerMetric(metrics, "kfstack_runs_waiting_for_slots") >= 1
	})
	if live, peak, created := pods.counts(); live != limit || peak != limit || created != limit {
		t.Fatalf("after the restart: %d unfinished pods, peak %d, %d created; want %d, %d, %d", live, peak, created, limit, limit, limit)
	}

	// Programs end 50 ms after they start: every freed slot starts a
	// waiting task.
	prog.setRunFor(50 * time.Millisecond)
	for _, task := range tasks {
		prog.hold(task, false)
	}
	for _, name := range runs {
		if r := waitRun(t, ns, name, 2*time.Minute); r.Status.Phase != v1alpha1.RunSucceeded {
			t.Errorf("run %s: %s", name, describe(r))
		}
	}
	pods.stop()
	_, peak, created := pods.counts()
	if peak > limit || created != len(runs)*len(tasks) {
		t.Errorf("peak of %d unfinished task pods (limit %d), %d pods created (want %d)", peak, limit, created, len(runs)*len(tasks))
	}
	gaps := pods.startGaps
	sort.Slice(gaps, func(i, j int) bool { return gaps[i] < gaps[j] })
	if len(gaps) > 0 {
		t.Logf("a pod's end to the next pod's creation under the limit: p50 %s, max %s (%d gaps)", gaps[len(gaps)/2], gaps[len(gaps)-1], len(gaps))
	}
}
