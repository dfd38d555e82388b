package engine

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/kfstack/terraform-provider-kubeflow/runtime/pipeline"
)

const fanOut = 5000

// fanOutPlan is one source task, fanOut no-op tasks that depend on it and
// a join task that depends on all of them.
func fanOutPlan(b testing.TB) *pipeline.Plan {
	tasks := []pipeline.NativeTask{{Name: "src", Image: "busybox", Command: []string{"true"}}}
	var all []string
	for i := 0; i < fanOut; i++ {
		name := fmt.Sprintf("t-%d", i)
		all = append(all, name)
		tasks = append(tasks, pipeline.NativeTask{Name: name, Image: "busybox", Command: []string{"true"}, DependsOn: []string{"src"}})
	}
	tasks = append(tasks, pipeline.NativeTask{Name: "join", Image: "busybox", Command: []string{"true"}, DependsOn: all})
	p, err := pipeline.CompileNative(&pipeline.NativeDAG{Name: "fan-out", Tasks: tasks})
	if err != nil {
		b.Fatal(err)
	}
	return p
}

// loopPlan is a ParallelFor over fanOut items, each iteration one task.
func loopPlan(b testing.TB) *pipeline.Plan {
	items, _ := json.Marshal(make([]int, fanOut))
	spec := fmt.Sprintf(`
components:
  comp-noop:
    executorLabel: exec-noop
    inputDefinitions: {parameters: {x: {parameterType: NUMBER_INTEGER}}}
  comp-for-loop-1:
    dag:
      tasks:
        noop:
          componentRef: {name: comp-noop}
          inputs: {parameters: {x: {componentInputParameter: item}}}
          taskInfo: {name: noop}
    inputDefinitions: {parameters: {item: {parameterType: NUMBER_INTEGER}}}
deploymentSpec:
  executors:
    exec-noop: {container: {image: busybox, command: ["true"]}}
pipelineInfo: {name: loop}
root:
  dag:
    tasks:
      for-loop-1:
        componentRef: {name: comp-for-loop-1}
        parameterIterator: {itemInput: item, items: {raw: '%s'}}
        iteratorPolicy: {parallelismLimit: 500}
        taskInfo: {name: for-loop-1}
`, items)
	p, err := pipeline.Load([]byte(spec))
	if err != nil {
		b.Fatal(err)
	}
	return p
}

// benchRun drives a whole run through the engine with a fake executor
// that completes every attempt one simulated second after it starts, the
// way events arrive from a real executor: a Step per completion. It
// reports engine time per task and the size of the serialised state.
func benchRun(b *testing.B, plan *pipeline.Plan, maxParallel int) {
	e := New(plan, Options{MaxParallel: maxParallel})
	var size, peakSize, tasks int
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		s, err := e.Start("bench", nil, now)
		if err != nil {
			b.Fatal(err)
		}
		var queue []Action
		tasks = 0
		measured := 0
		res := e.Step(s, now)
		for {
			for _, a := range res.Actions {
				if a.Kind == StartTask {
					queue = append(queue, a)
					tasks++
				}
			}
			if len(queue) == 0 {
				break
			}
			a := queue[0]
			queue = queue[1:]
			now = now.Add(time.Second / 10)
			res = e.Step(s, now, Event{Kind: TaskFinished, Node: a.Node, Attempt: a.Attempt, Succeeded: true})
			if i == 0 && tasks/1000 > measured {
				measured = tasks / 1000
				b.StopTimer()
				if n := stateSize(b, s); n > peakSize {
					peakSize = n
				}
				b.StartTimer()
			}
		}
		if s.Phase != RunSucceeded {
			b.Fatalf("run %s: %s", s.Phase, s.Message)
		}
		b.StopTimer()
		size = stateSize(b, s)
		b.StartTimer()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(tasks), "ns/task")
	b.ReportMetric(float64(tasks), "tasks")
	b.ReportMetric(float64(size), "state-bytes")
	b.ReportMetric(float64(max(peakSize, size)), "peak-state-bytes")
}

func stateSize(b *testing.B, s *State) int {
	data, err := json.Marshal(s)
	if err != nil {
		b.Fatal(err)
	}
	return len(data)
}

// BenchmarkEngineFanOut5000 measures engine overhead for a flat fan-out of
// 5,000 no-op tasks (plus a source and a join) under a run-level limit of
// 100 tasks at once.
func BenchmarkEngineFanOut5000(b *testing.B) { benchRun(b, fanOutPlan(b), 100) }

// BenchmarkEngineParallelFor5000 measures a ParallelFor of 5,000
// iterations (10,001 nodes: each iteration is a DAG node plus its task).
func BenchmarkEngineParallelFor5000(b *testing.B) { benchRun(b, loopPlan(b), 0) }

// TestStateOf5000TaskRunsStaysSmall checks the size budget the controller
// depends on: a finished 5,000-task run, stored in a PipelineRun status,
// must stay well under 256 KiB.
func TestStateOf5000TaskRunsStaysSmall(t *testing.T) {
	for name, plan := range map[string]*pipeline.Plan{"fan-out": fanOutPlan(t), "parallel-for": loopPlan(t)} {
		e := New(plan, Options{MaxParallel: 100})
		now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		s, err := e.Start("size", nil, now)
		if err != nil {
			t.Fatal(err)
		}
		res := e.Step(s, now)
		var queue []Action
		for {
			queue = append(queue, res.Actions...)
			if len(queue) == 0 {
				break
			}
			a := queue[0]
			queue = queue[1:]
			now = now.Add(250 * time.Millisecond)
			res = e.Step(s, now, Event{Kind: TaskFinished, Node: a.Node, Attempt: a.Attempt, Succeeded: true})
		}
		data, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		if s.Phase != RunSucceeded || len(data) > 128<<10 {
			t.Errorf("%s: run %s, state %d bytes (budget 128 KiB)", name, s.Phase, len(data))
		}
		var back State
		if err := json.Unmarshal(data, &back); err != nil {
			t.Fatal(err)
		}
		again, _ := json.Marshal(&back)
		if string(again) != string(data) {
			t.Errorf("%s: state changed in a round trip", name)
		}
		t.Logf("%s: %d nodes, %d bytes", name, len(s.Nodes), len(data))
	}
}
