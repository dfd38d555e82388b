package controller_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	toolscache "k8s.io/client-go/tools/cache"
	crcache "sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kfstack/terraform-provider-kubeflow/runtime/api/v1alpha1"
	"github.com/kfstack/terraform-provider-kubeflow/runtime/launcher"
)

// timeline records when an informer first saw each task pod of a
// namespace created, Running and ended (Succeeded or Failed), and each run
// created and finished. Informers list and watch again when a watch drops,
// which a loaded API server does to slow watchers.
type timeline struct {
	mu                      sync.Mutex
	created, running, ended map[string]time.Time // pods
	task, run               map[string]string    // pod -> task, run
	runCreated, runDone     map[string]time.Time
	stop                    func()
}

func watchTimeline(b *testing.B, ns string) *timeline {
	tl := &timeline{
		created: map[string]time.Time{}, running: map[string]time.Time{}, ended: map[string]time.Time{},
		task: map[string]string{}, run: map[string]string{}, runCreated: map[string]time.Time{}, runDone: map[string]time.Time{},
	}
	c, err := crcache.New(cluster.Config, crcache.Options{Scheme: k8s.Scheme(), DefaultNamespaces: map[string]crcache.Config{ns: {}}})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	first := func(m map[string]time.Time, k string, now time.Time) {
		if _, seen := m[k]; !seen {
			m[k] = now
		}
	}
	onPod := func(obj any) {
		pod, ok := obj.(*corev1.Pod)
		if !ok || pod.Labels[v1alpha1.LabelRunUID] == "" {
			return
		}
		now := time.Now()
		tl.mu.Lock()
		defer tl.mu.Unlock()
		first(tl.created, pod.Name, now)
		tl.task[pod.Name] = pod.Annotations[v1alpha1.AnnotationTask]
		if o := metav1.GetControllerOf(pod); o != nil {
			tl.run[pod.Name] = o.Name
		}
		switch pod.Status.Phase {
		case corev1.PodRunning:
			first(tl.running, pod.Name, now)
		case corev1.PodSucceeded, corev1.PodFailed:
			first(tl.ended, pod.Name, now)
		}
	}
	onRun := func(obj any) {
		r, ok := obj.(*v1alpha1.PipelineRun)
		if !ok {
			return
		}
		now := time.Now()
		tl.mu.Lock()
		defer tl.mu.Unlock()
		first(tl.runCreated, r.Name, now)
		if r.Status.Phase.Terminal() {
			first(tl.runDone, r.Name, now)
		}
	}
	for obj, on := range map[client.Object]func(any){&corev1.Pod{}: onPod, &v1alpha1.PipelineRun{}: onRun} {
		inf, err := c.GetInformer(ctx, obj)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := inf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{AddFunc: on, UpdateFunc: func(_, o any) { on(o) }}); err != nil {
			b.Fatal(err)
		}
	}
	done := make(chan struct{})
	go func() { defer close(done); _ = c.Start(ctx) }()
	if !c.WaitForCacheSync(ctx) {
		b.Fatal("timeline informers did not sync")
	}
	tl.stop = func() { cancel(); <-done }
	return tl
}

func chainDAGOf(n int) string {
	var b strings.Builder
	b.WriteString("name: chain\ntasks:\n")
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&b, "- name: s%02d\n  image: registry.example/step:1\n  command: [step, \"{{$.inputs.parameters['v']}}\"]\n  outputs: {parameters: {v: string}}\n", i)
		if i == 1 {
			b.WriteString("  inputs: {parameters: {v: {value: start}}}\n")
		} else {
			fmt.Fprintf(&b, "  inputs: {parameters: {v: {task: s%02d, output: v}}}\n", i-1)
		}
	}
	return b.String()
}

// BenchmarkChain20 runs a 20-step chain, each step passing one parameter,
// on the KWOK nodes and reports the controller's overhead per step: from
// the moment a watch sees a pod end (KWOK's stage wrote its final status)
// to the moment the same watch sees the next step's pod created. It also
// reports the whole step as the cluster makes it: pod created, scheduled,
// Running (KWOK), the simulated program's result handed over, ended
// (KWOK).
func BenchmarkChain20(b *testing.B) {
	for i := 0; i < b.N; i++ {
		ns := namespace(b)
		startPrograms(b, ns, func(spec *launcher.TaskSpec, _ int) (launcher.Message, int) {
			return launcher.Message{Params: map[string]any{"v": fmt.Sprint(spec.Params["v"], "+", spec.Name)}}, 0
		})
		tl := watchTimeline(b, ns)
		createPipeline(b, ns, "chain", "", chainDAGOf(20))
		start := time.Now()
		createRun(b, ns, "chain", "chain", v1alpha1.ExecutorPod, nil)
		r := waitRun(b, ns, "chain", 2*time.Minute)
		total := time.Since(start)
		tl.stop()
		if r.Status.Phase != v1alpha1.RunSucceeded {
			b.Fatalf("chain: %s", describe(r))
		}
		byTask := map[string]string{}
		for pod, t := range tl.task {
			byTask[t] = pod
		}
		var gaps, steps []time.Duration
		for s := 1; s <= 20; s++ {
			pod := byTask[fmt.Sprintf("s%02d", s)]
			steps = append(steps, tl.ended[pod].Sub(tl.created[pod]))
			if s > 1 {
				prev := byTask[fmt.Sprintf("s%02d", s-1)]
				gaps = append(gaps, tl.created[pod].Sub(tl.ended[prev]))
			}
		}
		sortDurations(gaps)
		sortDurations(steps)
		p50, p99 := gaps[len(gaps)/2], gaps[len(gaps)-1]
		b.ReportMetric(float64(p50.Microseconds())/1000, "p50-ms/step")
		b.ReportMetric(float64(p99.Microseconds())/1000, "p99-ms/step")
		b.ReportMetric(total.Seconds(), "s/run")
		fmt.Fprintf(os.Stderr, "chain of 20: run %s; controller overhead per step p50 %s, max (p99 of 19) %s; pod created to ended (scheduler, KWOK, program) p50 %s, max %s; output %s\n",
			total.Round(time.Millisecond), p50, p99, steps[len(steps)/2], steps[len(steps)-1], r.Status.Outputs)
	}
}

func sortDurations(d []time.Duration) { sort.Slice(d, func(i, j int) bool { return d[i] < d[j] }) }

func fanDAG(n int) string {
	var b strings.Builder
	b.WriteString("name: fan\ntasks:\n- name: source\n  image: registry.example/step:1\n  command: [source]\n")
	deps := make([]string, n)
	for i := 0; i < n; i++ {
		deps[i] = fmt.Sprintf("w%04d", i)
		fmt.Fprintf(&b, "- name: w%04d\n  image: registry.example/step:1\n  command: [work]\n  dependsOn: [source]\n", i)
	}
	fmt.Fprintf(&b, "- name: join\n  image: registry.example/step:1\n  command: [join]\n  dependsOn: [%s]\n", strings.Join(deps, ", "))
	return b.String()
}

// BenchmarkFanOut1000 runs 1 -> 1,000 -> 1 tasks on the KWOK nodes and
// reports the time to drain, the run's status size and this test
// process's peak RSS (controller, simulated programs and test together).
func BenchmarkFanOut1000(b *testing.B) { benchFanOut(b, 1000) }

// BenchmarkFanOut5000 is the same with 5,000 tasks: the status must stay
// far below 256 KiB.
func BenchmarkFanOut5000(b *testing.B) { benchFanOut(b, 5000) }

func benchFanOut(b *testing.B, n int) {
	for i := 0; i < b.N; i++ {
		ns := namespace(b)
		startPrograms(b, ns, succeed)
		createPipeline(b, ns, "fan", "", fanDAG(n))
		before := controllerWrites(b)
		start := time.Now()
		createRun(b, ns, "fan", "fan", v1alpha1.ExecutorPod, nil)
		r := waitRun(b, ns, "fan", 20*time.Minute)
		total := time.Since(start)
		if r.Status.Phase != v1alpha1.RunSucceeded {
			b.Fatalf("fan: %s", describe(r))
		}
		writes := controllerWrites(b).minus(before)
		status, err := json.Marshal(r.Status)
		if err != nil {
			b.Fatal(err)
		}
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		b.ReportMetric(total.Seconds(), "s/run")
		b.ReportMetric(float64(len(status)), "status-bytes")
		b.ReportMetric(float64(writes.total())/float64(n+2), "writes/task")
		fmt.Fprintf(os.Stderr, "fan-out 1 -> %d -> 1: controller API writes %v = %.2f per task\n", n, writes, float64(writes.total())/float64(n+2))
		fmt.Fprintf(os.Stderr, "fan-out 1 -> %d -> 1: drained in %s (%.0f tasks/s); status %d bytes; heap in use %d MiB; peak RSS %s\n",
			n, total.Round(time.Millisecond), float64(n+2)/total.Seconds(), len(status), ms.HeapInuse>>20, peakRSS())
	}
}

// peakRSS is this process's VmHWM.
func peakRSS() string {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return "unknown"
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmHWM:") {
			return strings.TrimSpace(strings.TrimPrefix(line, "VmHWM:"))
		}
	}
	return "unknown"
}

// writeCounts are the API server's write requests by kind, from its
// apiserver_request_total metric.
type writeCounts map[string]float64

func (w writeCounts) minus(o writeCounts) writeCounts {
	out := writeCounts{}
	for k, v := range w {
		if d := v - o[k]; d > 0 {
			out[k] = d
		}
	}
	return out
}

func (w writeCounts) total() float64 {
	var t float64
	for _, v := range w {
		t += v
	}
	return t
}

// controllerWrites counts the writes the controller makes: pod creations
// and deletions and PipelineRun status updates. Events are left out: the
// metric cannot tell the controller's few (one or two a run) from the
// scheduler's one a pod; pod status writes come from KWOK, pod annotations
// from the simulated programs, bindings from the scheduler.
func controllerWrites(b *testing.B) writeCounts {
	return apiWrites(b).controller()
}

// controller keeps the controller's writes of w.
func (w writeCounts) controller() writeCounts {
	out := writeCounts{}
	for _, k := range []string{"pods POST", "pods DELETE", "pipelineruns/status PUT", "pipelineruns/status PATCH"} {
		if v, ok := w[k]; ok {
			out[k] = v
		}
	}
	return out
}

// apiWrites reads the API server's write requests (POST, PUT, PATCH,
// DELETE) from its apiserver_request_total metric, by "<resource>[/
// <subresource>] <verb>".
func apiWrites(b *testing.B) writeCounts {
	raw, err := cluster.Client.CoreV1().RESTClient().Get().AbsPath("/metrics").DoRaw(context.Background())
	if err != nil {
		b.Fatalf("reading the API server's metrics: %v", err)
	}
	out := writeCounts{}
	for _, line := range strings.Split(string(raw), "\n") {
		if !strings.HasPrefix(line, "apiserver_request_total{") {
			continue
		}
		labels, value, ok := strings.Cut(strings.TrimPrefix(line, "apiserver_request_total{"), "} ")
		if !ok {
			continue
		}
		get := func(k string) string {
			_, rest, ok := strings.Cut(labels, k+`="`)
			if !ok {
				return ""
			}
			v, _, _ := strings.Cut(rest, `"`)
			return v
		}
		verb, res, sub := get("verb"), get("resource"), get("subresource")
		switch verb {
		case "POST", "PUT", "PATCH", "DELETE":
		default:
			continue
		}
		key := res
		if sub != "" {
			key += "/" + sub
		}
		var n float64
		if _, err := fmt.Sscan(value, &n); err == nil {
			out[key+" "+verb] += n
		}
	}
	return out
}
