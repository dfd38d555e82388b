package controller_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http/httptest"
	"reflect"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kfstack/terraform-provider-kubeflow/internal/faultproxy"
	"github.com/kfstack/terraform-provider-kubeflow/runtime/api/v1alpha1"
	"github.com/kfstack/terraform-provider-kubeflow/runtime/launcher"
)

// Fault tests: the reliability figures. Each runs a pipeline with loops
// and retries through a fault (the controller killed with SIGKILL, the API
// server restarted, etcd slowed down, the artifact store unreachable) and
// reports what was lost: results not taken, pods started twice for one
// attempt, outputs that differ from an undisturbed run's. The goal, and
// what the tests require, is nothing.

// faultsSpec is a KFP pipeline of 3n+2 tasks: make-list, a ParallelFor over
// n items whose body is a chain a -> b -> c (b retried: its first attempt
// fails for every fifth item), the body's outputs collected, and a sum.
func faultsSpec(parallelism int) string {
	return fmt.Sprintf(`components:
  comp-make-list:
    executorLabel: exec-make-list
    inputDefinitions: {parameters: {n: {parameterType: NUMBER_INTEGER}}}
    outputDefinitions: {parameters: {items: {parameterType: LIST}}}
  comp-a:
    executorLabel: exec-a
    inputDefinitions: {parameters: {x: {parameterType: NUMBER_INTEGER}}}
    outputDefinitions: {parameters: {y: {parameterType: NUMBER_INTEGER}}}
  comp-b:
    executorLabel: exec-b
    inputDefinitions: {parameters: {x: {parameterType: NUMBER_INTEGER}, y: {parameterType: NUMBER_INTEGER}}}
    outputDefinitions: {parameters: {z: {parameterType: NUMBER_INTEGER}}}
  comp-c:
    executorLabel: exec-c
    inputDefinitions: {parameters: {z: {parameterType: NUMBER_INTEGER}}}
    outputDefinitions: {parameters: {w: {parameterType: NUMBER_INTEGER}}}
  comp-sum:
    executorLabel: exec-sum
    inputDefinitions: {parameters: {nums: {parameterType: LIST}}}
    outputDefinitions: {parameters: {total: {parameterType: NUMBER_INTEGER}}}
  comp-for-loop-1:
    dag:
      outputs:
        parameters:
          pipelinechannel--c-w:
            valueFromParameter: {producerSubtask: c, outputParameterKey: w}
      tasks:
        a:
          componentRef: {name: comp-a}
          inputs: {parameters: {x: {componentInputParameter: pipelinechannel--make-list-items-loop-item}}}
          taskInfo: {name: a}
        b:
          componentRef: {name: comp-b}
          dependentTasks: [a]
          inputs:
            parameters:
              x: {componentInputParameter: pipelinechannel--make-list-items-loop-item}
              y: {taskOutputParameter: {producerTask: a, outputParameterKey: y}}
          retryPolicy: {maxRetryCount: 2, backoffDuration: 0s}
          taskInfo: {name: b}
        c:
          componentRef: {name: comp-c}
          dependentTasks: [b]
          inputs: {parameters: {z: {taskOutputParameter: {producerTask: b, outputParameterKey: z}}}}
          taskInfo: {name: c}
    inputDefinitions:
      parameters:
        pipelinechannel--make-list-items: {parameterType: LIST}
        pipelinechannel--make-list-items-loop-item: {parameterType: NUMBER_INTEGER}
    outputDefinitions:
      parameters:
        pipelinechannel--c-w: {parameterType: LIST}
deploymentSpec:
  executors:
    exec-make-list: {container: {image: registry.example/faults:1, command: [make-list]}}
    exec-a: {container: {image: registry.example/faults:1, command: [a]}}
    exec-b: {container: {image: registry.example/faults:1, command: [b]}}
    exec-c: {container: {image: registry.example/faults:1, command: [c]}}
    exec-sum: {container: {image: registry.example/faults:1, command: [sum]}}
pipelineInfo: {name: faults}
root:
  dag:
    outputs:
      parameters:
        ws: {valueFromParameter: {producerSubtask: for-loop-1, outputParameterKey: pipelinechannel--c-w}}
        total: {valueFromParameter: {producerSubtask: sum, outputParameterKey: total}}
    tasks:
      make-list:
        componentRef: {name: comp-make-list}
        inputs: {parameters: {n: {componentInputParameter: n}}}
        taskInfo: {name: make-list}
      for-loop-1:
        componentRef: {name: comp-for-loop-1}
        dependentTasks: [make-list]
        inputs: {parameters: {pipelinechannel--make-list-items: {taskOutputParameter: {producerTask: make-list, outputParameterKey: items}}}}
        parameterIterator:
          itemInput: pipelinechannel--make-list-items-loop-item
          items: {inputParameter: pipelinechannel--make-list-items}
        iteratorPolicy: {parallelismLimit: %d}
        taskInfo: {name: for-loop-1}
      sum:
        componentRef: {name: comp-sum}
        dependentTasks: [for-loop-1]
        inputs: {parameters: {nums: {taskOutputParameter: {producerTask: for-loop-1, outputParameterKey: pipelinechannel--c-w}}}}
        taskInfo: {name: sum}
  inputDefinitions: {parameters: {n: {parameterType: NUMBER_INTEGER}}}
  outputDefinitions: {parameters: {ws: {parameterType: LIST}, total: {parameterType: NUMBER_INTEGER}}}
`, parallelism)
}

// faultsProgram plays faultsSpec's programs; the first attempt of b fails
// for every fifth item.
func faultsProgram(spec *launcher.TaskSpec, attempt int) (launcher.Message, int) {
	p := spec.Params
	out := map[string]any{}
	switch spec.Name {
	case "make-list":
		var items []any
		for i := 1; i <= int(num(p["n"])); i++ {
			items = append(items, i)
		}
		out["items"] = items
	case "a":
		out["y"] = num(p["x"]) * 10
	case "b":
		if attempt == 1 && int(num(p["x"]))%5 == 0 {
			return launcher.Message{Error: "running b: exit status 1", LogTail: "flaky\n"}, 1
		}
		out["z"] = num(p["y"]) + num(p["x"])
	case "c":
		out["w"] = num(p["z"]) * 2
	case "sum":
		total := 0.0
		for _, v := range p["nums"].([]any) {
			total += num(v)
		}
		out["total"] = total
	}
	return launcher.Message{Params: out}, 0
}

// attempts lists a run's task pods as "<task path> attempt <n>", sorted,
// and the names of (task, attempt) pairs that have more than one pod.
func attempts(t *testing.T, ns string, run *v1alpha1.PipelineRun) (list, twice []string) {
	t.Helper()
	pods := &corev1.PodList{}
	if err := k8s.List(context.Background(), pods, client.InNamespace(ns), client.MatchingLabels{v1alpha1.LabelRunUID: string(run.UID)}); err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, p := range pods.Items {
		key := p.Annotations[v1alpha1.AnnotationTask] + " attempt " + p.Labels[v1alpha1.LabelAttempt]
		if seen[key]++; seen[key] == 2 {
			twice = append(twice, key)
		}
		if seen[key] == 1 {
			list = append(list, key)
		}
	}
	sort.Strings(list)
	return list, twice
}

// lost compares a run that went through a fault with its undisturbed twin
// and returns what the fault cost, in words; empty when nothing was lost.
func lost(t *testing.T, ns string, disturbed, calm *v1alpha1.PipelineRun) []string {
	t.Helper()
	var out []string
	if disturbed.Status.Phase != v1alpha1.RunSucceeded {
		out = append(out, "the run did not succeed: "+describe(disturbed))
	}
	if !reflect.DeepEqual(disturbed.Status.Outputs, calm.Status.Outputs) {
		out = append(out, fmt.Sprintf("outputs %v, undisturbed %v", disturbed.Status.Outputs, calm.Status.Outputs))
	}
	got, twice := attempts(t, ns, disturbed)
	want, _ := attempts(t, ns, calm)
	if len(twice) > 0 {
		out = append(out, fmt.Sprintf("%d attempts ran in more than one pod: %v", len(twice), twice))
	}
	if !reflect.DeepEqual(got, want) {
		out = append(out, fmt.Sprintf("%d attempts, undisturbed %d (a result lost makes a retry, a step redone wrongly another task's)", len(got), len(want)))
	}
	return out
}

// report logs a fault test's figure and fails it when anything was lost.
func report(t *testing.T, fault string, start time.Time, disturbed, calm *v1alpha1.PipelineRun, ns string) {
	t.Helper()
	pods, _ := attempts(t, ns, disturbed)
	if l := lost(t, ns, disturbed, calm); len(l) > 0 {
		t.Errorf("%s: lost %s", fault, strings.Join(l, "; "))
		return
	}
	t.Logf("RELIABILITY %s: lost nothing (%d task attempts, one pod each; outputs equal an undisturbed run's; %s)",
		fault, len(pods), time.Since(start).Round(100*time.Millisecond))
}

// runTwins starts a pipeline's disturbed run, driven by the test's
// controller process (subprocess), and its undisturbed twin, driven by the
// in-process controller, each with a pipeline root of its own (a new
// directory for an empty one).
func runTwins(t *testing.T, ns, pipeline string, params map[string]string, disturbedRoot, calmRoot string) {
	t.Helper()
	orTemp := func(root string) string {
		if root == "" {
			return "file://" + t.TempDir()
		}
		return root
	}
	createRun(t, ns, "calm", pipeline, v1alpha1.ExecutorPod, params, func(r *v1alpha1.PipelineRun) { r.Spec.PipelineRoot = orTemp(calmRoot) })
	createRun(t, ns, "disturbed", pipeline, v1alpha1.ExecutorPod, params, func(r *v1alpha1.PipelineRun) {
		r.Labels = map[string]string{labelController: subprocessController}
		r.Spec.PipelineRoot = orTemp(disturbedRoot)
	})
}

// podCount counts a run's task pods.
func podCount(ctx context.Context, ns, run string) int {
	r := &v1alpha1.PipelineRun{}
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: run}, r); err != nil || r.UID == "" {
		return 0
	}
	pods := &corev1.PodList{}
	if err := k8s.List(ctx, pods, client.InNamespace(ns), client.MatchingLabels{v1alpha1.LabelRunUID: string(r.UID)}); err != nil {
		return 0
	}
	return len(pods.Items)
}

// ended reports whether a run is in a final phase.
func ended(ctx context.Context, ns, run string) bool {
	r := &v1alpha1.PipelineRun{}
	return k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: run}, r) == nil && r.Status.Phase.Terminal()
}

// TestFaultControllerKilled kills the controller with SIGKILL 20 times at
// random points of a 200-task run with a loop and retries (each time after
// a random number, 2 to 12, of new task pods), starting a new one each
// time: one pod per task attempt, and the outputs of an undisturbed run.
func TestFaultControllerKilled(t *testing.T) {
	const kills = 20
	bin := runtimeBinary(t)
	ctx := context.Background()
	ns := namespace(t)
	prog := startPrograms(t, ns, faultsProgram)
	prog.setRunFor(150 * time.Millisecond)
	createPipeline(t, ns, "faults", faultsSpec(6), "")
	seed := uint64(time.Now().UnixNano())
	rng := rand.New(rand.NewPCG(seed, 0))
	t.Logf("kill points from seed %d", seed)
	start := time.Now()
	ctl := controllerProcess(t, bin)
	runTwins(t, ns, "faults", map[string]string{"n": "66"}, "", "")
	killed := 0
	for ; killed < kills; killed++ {
		target := podCount(ctx, ns, "disturbed") + 2 + rng.IntN(11)
		eventually(t, "the run to make progress", func() bool { return podCount(ctx, ns, "disturbed") >= target || ended(ctx, ns, "disturbed") })
		if ended(ctx, ns, "disturbed") {
			break
		}
		if err := ctl.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		_ = ctl.Wait()
		ctl = controllerProcess(t, bin)
	}
	disturbed := waitRun(t, ns, "disturbed", 5*time.Minute)
	calm := waitRun(t, ns, "calm", 5*time.Minute)
	if killed < kills {
		t.Errorf("the run ended after %d kills, want %d: make it longer", killed, kills)
	}
	if n := disturbed.Status.Tasks["Succeeded"]; n != 200 {
		t.Errorf("%d tasks succeeded, want 200", n)
	}
	report(t, fmt.Sprintf("controller killed with SIGKILL %d times in a 200-task run", killed), start, disturbed, calm, ns)
}

// TestFaultAPIServerRestart restarts kube-apiserver (killed with SIGKILL)
// while a run's loop is half done: the controller, KWOK and the programs
// reconnect, and nothing is lost.
func TestFaultAPIServerRestart(t *testing.T) {
	bin := runtimeBinary(t)
	ctx := context.Background()
	ns := namespace(t)
	prog := startPrograms(t, ns, faultsProgram)
	prog.setRunFor(100 * time.Millisecond)
	createPipeline(t, ns, "faults", faultsSpec(4), "")
	start := time.Now()
	controllerProcess(t, bin)
	runTwins(t, ns, "faults", map[string]string{"n": "20"}, "", "")
	eventually(t, "the loop to be half done", func() bool { return podCount(ctx, ns, "disturbed") >= 30 })
	restart := time.Now()
	if err := cluster.RestartAPIServer(ctx, true); err != nil {
		t.Fatal(err)
	}
	t.Logf("kube-apiserver was away for %s", time.Since(restart).Round(100*time.Millisecond))
	disturbed := waitRun(t, ns, "disturbed", 5*time.Minute)
	calm := waitRun(t, ns, "calm", 5*time.Minute)
	report(t, "kube-apiserver killed and restarted mid-run", start, disturbed, calm, ns)
}

// TestFaultSlowEtcd runs with every byte between the API server and etcd
// delayed by 50ms each way (a slow disk or a distant etcd): slower, and
// nothing lost.
func TestFaultSlowEtcd(t *testing.T) {
	const latency = 50 * time.Millisecond
	bin := runtimeBinary(t)
	ns := namespace(t)
	startPrograms(t, ns, faultsProgram)
	createPipeline(t, ns, "faults", faultsSpec(4), "")
	controllerProcess(t, bin)
	if err := cluster.SetEtcdLatency(latency); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := cluster.SetEtcdLatency(0); err != nil {
			t.Error(err)
		}
	}()
	start := time.Now()
	runTwins(t, ns, "faults", map[string]string{"n": "20"}, "", "")
	disturbed := waitRun(t, ns, "disturbed", 10*time.Minute)
	calm := waitRun(t, ns, "calm", 10*time.Minute)
	report(t, fmt.Sprintf("etcd %s slower each way", latency), start, disturbed, calm, ns)
}

const bigResultsDAG = `name: big-results
tasks:
- {name: source, image: registry.example/faults:1, command: [source], outputs: {parameters: {seed: string}}}
- {name: f0, image: registry.example/faults:1, command: [f], dependsOn: [source], inputs: {parameters: {seed: {task: source, output: seed}}}, outputs: {parameters: {v: string}}}
- {name: f1, image: registry.example/faults:1, command: [f], dependsOn: [source], inputs: {parameters: {seed: {task: source, output: seed}}}, outputs: {parameters: {v: string}}}
- {name: f2, image: registry.example/faults:1, command: [f], dependsOn: [source], inputs: {parameters: {seed: {task: source, output: seed}}}, outputs: {parameters: {v: string}}}
- {name: f3, image: registry.example/faults:1, command: [f], dependsOn: [source], inputs: {parameters: {seed: {task: source, output: seed}}}, outputs: {parameters: {v: string}}}
- name: join
  image: registry.example/faults:1
  command: [join]
  inputs:
    parameters:
      v0: {task: f0, output: v}
      v1: {task: f1, output: v}
      v2: {task: f2, output: v}
      v3: {task: f3, output: v}
  outputs:
    parameters: {digest: string}
outputs:
  digest: {task: join, output: digest}
`

// TestFaultArtifactStoreDown makes the artifact store (S3, in this process)
// unreachable from the controller (through a proxy) for 30 seconds while
// four tasks finish whose results, too big for a termination message,
// are in it (the task pods, here the programs, reach it directly): the
// controller waits for the store (StoreUnavailable events) instead of
// failing the attempts, and takes every result once it answers again.
func TestFaultArtifactStoreDown(t *testing.T) {
	const outage = 30 * time.Second
	bin := runtimeBinary(t)
	ctx := context.Background()
	ns := namespace(t)
	backend := s3mem.New()
	if err := backend.CreateBucket("faults"); err != nil {
		t.Fatal(err)
	}
	server := httptest.NewServer(gofakes3.New(backend).Server())
	defer server.Close()
	proxy, err := faultproxy.New(strings.TrimPrefix(server.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer proxy.Close()
	t.Setenv("AWS_ACCESS_KEY_ID", "faults")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "faults-secret")
	s3Root := func(prefix, endpoint string) string {
		return "s3://faults/" + prefix + "?endpoint=http://" + endpoint + "&region=us-east-1&use_path_style=true"
	}
	direct := strings.TrimPrefix(server.URL, "http://")

	// The programs write their results as the launcher does: into the
	// store when they do not fit a termination message; they reach the
	// store without the proxy.
	program := func(spec *launcher.TaskSpec, _ int) (launcher.Message, int) {
		store, err := launcher.OpenStore(ctx, strings.Replace(spec.PipelineRoot, proxy.Addr(), direct, 1), launcher.StoreOptions{ForeignReads: true})
		if err != nil {
			return launcher.Message{Error: err.Error()}, 1
		}
		defer store.Close()
		p := spec.Params
		params := map[string]any{}
		switch spec.Name {
		case "source":
			params["seed"] = "s"
		case "join":
			var parts []string
			for i := range 4 {
				v := fmt.Sprint(p[fmt.Sprintf("v%d", i)])
				parts = append(parts, fmt.Sprintf("%s:%d", v[:4], len(v)))
			}
			params["digest"] = strings.Join(parts, ",")
		default:
			params["v"] = spec.Name + ":" + fmt.Sprint(p["seed"]) + strings.Repeat("x", 6000)
		}
		b, err := launcher.EncodeResult(ctx, store, spec, &launcher.Result{Params: params}, nil)
		if err != nil {
			return launcher.Message{Error: err.Error()}, 1
		}
		var m launcher.Message
		if err := json.Unmarshal(b, &m); err != nil {
			return launcher.Message{Error: err.Error()}, 1
		}
		return m, 0
	}
	prog := startPrograms(t, ns, program)
	for _, f := range []string{"f0", "f1", "f2", "f3"} {
		prog.hold(f, true)
	}
	createPipeline(t, ns, "big", "", bigResultsDAG)
	controllerProcess(t, bin)
	start := time.Now()
	runTwins(t, ns, "big", nil, s3Root("disturbed", proxy.Addr()), s3Root("calm", direct))
	for _, f := range []string{"f0", "f1", "f2", "f3"} {
		waitAttemptPod(t, ns, "disturbed", f, 1)
	}
	// The fan-out's pods run; the store goes away and they finish.
	proxy.SetDown(true)
	downAt := time.Now()
	for _, f := range []string{"f0", "f1", "f2", "f3"} {
		prog.hold(f, false)
	}
	// Through the outage no attempt may fail, nor the run end.
	for time.Since(downAt) < outage {
		r := &v1alpha1.PipelineRun{}
		if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "disturbed"}, r); err != nil {
			t.Fatal(err)
		}
		if r.Status.Phase.Terminal() || r.Status.Tasks["Failed"] > 0 {
			t.Fatalf("during the outage: %s", describe(r))
		}
		time.Sleep(500 * time.Millisecond)
	}
	// The controller said what it waits for.
	events := &eventsv1.EventList{}
	if err := k8s.List(ctx, events, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	waiting := 0
	for _, e := range events.Items {
		if e.Reason == v1alpha1.ReasonStoreUnavailable && e.Regarding.Name == "disturbed" {
			waiting++
		}
	}
	if waiting == 0 {
		t.Error("no StoreUnavailable event while results waited for the store")
	}
	proxy.SetDown(false)
	t.Logf("the store was down for %s", time.Since(downAt).Round(100*time.Millisecond))
	disturbed := waitRun(t, ns, "disturbed", 2*time.Minute)
	calm := waitRun(t, ns, "calm", 2*time.Minute)
	report(t, fmt.Sprintf("artifact store unreachable for %s", outage), start, disturbed, calm, ns)
	if got := disturbed.Status.Outputs["digest"]; !strings.Contains(got, "f0:s:6004") {
		t.Errorf("digest %s: the results did not come through the store", got)
	}
}
