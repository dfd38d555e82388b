package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/kfstack/terraform-provider-kubeflow/runtime/pipeline"
)

func loadFixture(t testing.TB, name string) *pipeline.Plan {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "pipeline", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	p, err := pipeline.Load(b)
	if err != nil {
		t.Fatalf("loading %s: %v", name, err)
	}
	return p
}

// harness drives an engine with a scripted, synchronous executor and a
// fake clock, so tests are deterministic and fast.
type harness struct {
	t       testing.TB
	e       *Engine
	s       *State
	now     time.Time
	exec    func(a Action) *Event // nil result: leave the attempt running
	running map[int32]Action
	peak    int
	started []string
	changes []Change
	pending []Event
}

func newHarness(t testing.TB, plan *pipeline.Plan, opts Options, params map[string]any, exec func(a Action) *Event) *harness {
	t.Helper()
	e := New(plan, opts)
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	s, err := e.Start("run-1", params, now)
	if err != nil {
		t.Fatalf("starting: %v", err)
	}
	return &harness{t: t, e: e, s: s, now: now, exec: exec, running: map[int32]Action{}}
}

// step runs one Step with the queued events and executes its actions.
func (h *harness) step() Result {
	res := h.e.Step(h.s, h.now, h.pending...)
	h.pending = nil
	h.changes = append(h.changes, res.Changes...)
	for _, a := range res.Actions {
		switch a.Kind {
		case StartTask:
			h.running[a.Node] = a
			h.started = append(h.started, a.Task.Path)
			if len(h.running) > h.peak {
				h.peak = len(h.running)
			}
			if ev := h.exec(a); ev != nil {
				h.finish(a, *ev)
			}
		case CancelTask:
			delete(h.running, a.Node)
		}
	}
	return res
}

func (h *harness) finish(a Action, ev Event) {
	delete(h.running, a.Node)
	ev.Kind, ev.Node, ev.Attempt = TaskFinished, a.Node, a.Attempt
	h.pending = append(h.pending, ev)
}

// run steps until the run ends, advancing the clock to timers when idle.
func (h *harness) run() {
	h.t.Helper()
	for i := 0; i < 100000; i++ {
		res := h.step()
		if h.s.Phase != RunRunning {
			return
		}
		if len(h.pending) > 0 {
			continue
		}
		if res.WakeAt.IsZero() {
			h.t.Fatalf("run is stuck: nothing pending, no timer; running=%v", h.running)
		}
		h.now = res.WakeAt
	}
	h.t.Fatal("run did not finish")
}

func (h *harness) node(path string) *Node {
	h.t.Helper()
	for i := range h.s.Nodes {
		if h.e.Path(h.s, int32(i)) == path {
			return &h.s.Nodes[i]
		}
	}
	h.t.Fatalf("no node %q", path)
	return nil
}

// shellish computes the fixtures' outputs the way their sh commands do.
func fixtureExec(a Action) *Event {
	p := a.Task.Params
	switch a.Task.Name {
	case "make-list":
		var items []any
		for i := 1; i <= int(p["n"].(float64)); i++ {
			items = append(items, float64(i))
		}
		return &Event{Succeeded: true, Params: map[string]any{"items": items}}
	case "square":
		x := p["x"].(float64)
		return &Event{Succeeded: true, Params: map[string]any{"y": x * x}}
	case "sum":
		total := 0.0
		for _, v := range p["nums"].([]any) {
			total += v.(float64)
		}
		return &Event{Succeeded: true, Params: map[string]any{"total": total}}
	case "announce":
		return &Event{Succeeded: true, Params: map[string]any{"said": p["msg"]}}
	case "work":
		if p["fail"] == true {
			return &Event{Message: "exit status 3"}
		}
		return &Event{Succeeded: true}
	case "cleanup":
		return &Event{Succeeded: true, Params: map[string]any{"seen": p["status"]}}
	}
	return &Event{Succeeded: true}
}

func TestLoopsNestedDAGsAndConditions(t *testing.T) {
	plan := loadFixture(t, "loops_nested_condition.yaml")
	for _, tc := range []struct {
		n        float64
		squares  []any
		total    float64
		announce Phase
	}{
		{n: 3, squares: []any{1.0, 4.0, 9.0}, total: 14, announce: Succeeded},
		{n: 2, squares: []any{1.0, 4.0}, total: 5, announce: Skipped},
		{n: 0, squares: []any{}, total: 0, announce: Skipped},
	} {
		t.Run(fmt.Sprint(tc.n), func(t *testing.T) {
			h := newHarness(t, plan, Options{}, map[string]any{"n": tc.n}, fixtureExec)
			h.run()
			if h.s.Phase != RunSucceeded {
				t.Fatalf("phase %s: %s", h.s.Phase, h.s.Message)
			}
			params, _ := h.s.Outputs()
			if !reflect.DeepEqual(params["squares"], tc.squares) || params["total"] != tc.total {
				t.Errorf("outputs = %v, want squares %v total %v", params, tc.squares, tc.total)
			}
			if got := h.node("condition-2").Phase; got != tc.announce {
				t.Errorf("condition-2 is %s, want %s", got, tc.announce)
			}
			if tc.announce == Succeeded {
				want := "big total 14 in run-1"
				if got := h.node("condition-2/announce").Params["said"]; got != want {
					t.Errorf("constant placeholder resolved to %q, want %q", got, want)
				}
			}
		})
	}
}

func TestParallelismLimitOfLoop(t *testing.T) {
	plan := loadFixture(t, "loops_nested_condition.yaml")
	// Leave squares running to observe how many iterations run at once.
	var held []Action
	h := newHarness(t, plan, Options{}, map[string]any{"n": 5.0}, func(a Action) *Event {
		if a.Task.Name == "square" {
			held = append(held, a)
			return nil
		}
		return fixtureExec(a)
	})
	h.step()
	h.step()
	for len(held) > 0 || h.s.Phase == RunRunning {
		if len(held) == 0 {
			h.step()
			if len(held) == 0 && len(h.pending) == 0 {
				break
			}
			continue
		}
		if len(held) > 2 {
			t.Fatalf("%d iterations running, parallelismLimit is 2", len(held))
		}
		a := held[0]
		held = held[1:]
		h.finish(a, *fixtureExec(a))
		h.step()
	}
	h.run()
	if h.peak != 2 {
		t.Errorf("peak concurrent iterations = %d, want 2", h.peak)
	}
	params, _ := h.s.Outputs()
	if want := []any{1.0, 4.0, 9.0, 16.0, 25.0}; !reflect.DeepEqual(params["squares"], want) {
		t.Errorf("squares = %v, want %v (in iteration order)", params["squares"], want)
	}
}

func TestRunLevelParallelism(t *testing.T) {
	tasks := []pipeline.NativeTask{{Name: "src", Image: "busybox", Command: []string{"true"}}}
	for i := 0; i < 10; i++ {
		tasks = append(tasks, pipeline.NativeTask{Name: fmt.Sprintf("t%d", i), Image: "busybox", Command: []string{"true"}, DependsOn: []string{"src"}})
	}
	plan, err := pipeline.CompileNative(&pipeline.NativeDAG{Name: "fan", Tasks: tasks})
	if err != nil {
		t.Fatal(err)
	}
	var held []Action
	h := newHarness(t, plan, Options{MaxParallel: 3}, nil, func(a Action) *Event { held = append(held, a); return nil })
	h.step()
	for h.s.Phase == RunRunning {
		if len(held) == 0 {
			t.Fatal("nothing running but the run is not over")
		}
		a := held[0]
		held = held[1:]
		h.finish(a, Event{Succeeded: true})
		h.step()
	}
	if h.peak != 3 || h.s.Phase != RunSucceeded {
		t.Errorf("peak = %d (want 3), phase %s", h.peak, h.s.Phase)
	}
	if h.started[0] != "src" || len(h.started) != 11 {
		t.Errorf("started %v", h.started)
	}
}

// TestStepLimited: a cap on starts leaves ready tasks Ready, says so, and
// later steps start them oldest first; the cap composes with the run's own
// parallelism.
func TestStepLimited(t *testing.T) {
	tasks := []pipeline.NativeTask{{Name: "src"}}
	for i := 0; i < 6; i++ {
		tasks = append(tasks, pipeline.NativeTask{Name: fmt.Sprintf("t%d", i), DependsOn: []string{"src"}})
	}
	plan := nativePlan(t, tasks...)
	e := New(plan, Options{MaxParallel: 4})
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	s, err := e.Start("run-1", nil, now)
	if err != nil {
		t.Fatal(err)
	}
	names := func(res Result) []string {
		var out []string
		for _, a := range res.Actions {
			if a.Kind == StartTask {
				out = append(out, a.Task.Name)
			}
		}
		return out
	}
	res := e.StepLimited(s, now, 0)
	if len(res.Actions) != 0 || res.Deferred != 1 || s.Nodes[s.Nodes[0].First].Phase != Ready {
		t.Fatalf("cap 0: actions %v, deferred %d", names(res), res.Deferred)
	}
	res = e.StepLimited(s, now, 1)
	if got := names(res); !reflect.DeepEqual(got, []string{"src"}) || res.Deferred != 0 {
		t.Fatalf("cap 1: started %v, deferred %d", got, res.Deferred)
	}
	// Six tasks are ready; the run's parallelism (4) would start four.
	res = e.StepLimited(s, now, 0, Event{Kind: TaskFinished, Node: res.Actions[0].Node, Attempt: 1, Succeeded: true})
	if len(res.Actions) != 0 || res.Deferred != 4 {
		t.Fatalf("cap 0 after src: actions %v, deferred %d", names(res), res.Deferred)
	}
	res = e.StepLimited(s, now, 2)
	if got := names(res); !reflect.DeepEqual(got, []string{"t0", "t1"}) || res.Deferred != 2 {
		t.Fatalf("cap 2: started %v, deferred %d", got, res.Deferred)
	}
	// The run's own parallelism stops an uncapped step at two more: that
	// is not the cap's doing.
	res = e.StepLimited(s, now, -1)
	if got := names(res); !reflect.DeepEqual(got, []string{"t2", "t3"}) || res.Deferred != 0 {
		t.Fatalf("uncapped: started %v, deferred %d", got, res.Deferred)
	}
}

func TestExitHandlerGetsFinalStatus(t *testing.T) {
	plan := loadFixture(t, "exit_handler.yaml")
	for _, fail := range []bool{false, true} {
		h := newHarness(t, plan, Options{}, map[string]any{"fail": fail}, fixtureExec)
		h.run()
		seen := h.node("cleanup").Params["seen"].(map[string]any)
		wantState, wantRun := "SUCCEEDED", RunSucceeded
		if fail {
			wantState, wantRun = "FAILED", RunFailed
		}
		if seen["state"] != wantState || seen["pipelineTaskName"] != "exit-handler-1" || seen["pipelineJobResourceName"] != "run-1" {
			t.Errorf("fail=%v: final status %v", fail, seen)
		}
		if h.s.Phase != wantRun {
			t.Errorf("fail=%v: run %s, want %s", fail, h.s.Phase, wantRun)
		}
		if fail {
			e, _ := seen["error"].(map[string]any)
			if msg, _ := e["message"].(string); !strings.Contains(msg, "exit status 3") {
				t.Errorf("final status error = %v", seen["error"])
			}
			if !strings.Contains(h.s.Message, `"exit-handler-1/work"`) {
				t.Errorf("run message %q does not name the failed task", h.s.Message)
			}
		}
	}
}

func nativePlan(t testing.TB, tasks ...pipeline.NativeTask) *pipeline.Plan {
	t.Helper()
	for i := range tasks {
		if tasks[i].Image == "" {
			tasks[i].Image = "busybox"
		}
		if tasks[i].Command == nil {
			tasks[i].Command = []string{"true"}
		}
	}
	p, err := pipeline.CompileNative(&pipeline.NativeDAG{Name: "native", Tasks: tasks})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestRetriesWithBackoff(t *testing.T) {
	plan := nativePlan(t,
		pipeline.NativeTask{Name: "flaky", Retries: 3, RetryBackoff: "10s", RetryBackoffFactor: 2},
		pipeline.NativeTask{Name: "after", DependsOn: []string{"flaky"}})
	var times []time.Duration
	var h *harness
	h = newHarness(t, plan, Options{}, nil, func(a Action) *Event {
		if a.Task.Name != "flaky" {
			return &Event{Succeeded: true}
		}
		times = append(times, h.now.Sub(time.UnixMilli(h.s.Start)))
		if a.Attempt < 3 {
			return &Event{Message: fmt.Sprintf("attempt %d broke", a.Attempt)}
		}
		return &Event{Succeeded: true}
	})
	h.run()
	if h.s.Phase != RunSucceeded {
		t.Fatalf("run %s: %s", h.s.Phase, h.s.Message)
	}
	want := []time.Duration{0, 10 * time.Second, 30 * time.Second}
	if !reflect.DeepEqual(times, want) {
		t.Errorf("attempts started at %v, want %v (10s backoff, factor 2)", times, want)
	}
	if n := h.node("flaky"); n.Attempt != 3 {
		t.Errorf("attempts = %d, want 3", n.Attempt)
	}
	// Out of retries: the last error is reported with the attempt count.
	plan = nativePlan(t, pipeline.NativeTask{Name: "broken", Retries: 1})
	h = newHarness(t, plan, Options{}, nil, func(a Action) *Event { return &Event{Message: "exit status 1\n--- last output ---\nno such file"} })
	h.run()
	if h.s.Phase != RunFailed || !strings.Contains(h.node("broken").Message, "attempt 2 of 2 failed: exit status 1") || !strings.Contains(h.s.Message, "no such file") {
		t.Errorf("phase %s, node message %q, run message %q", h.s.Phase, h.node("broken").Message, h.s.Message)
	}
}

func TestTimeoutCancelsAndRetries(t *testing.T) {
	plan := nativePlan(t, pipeline.NativeTask{Name: "slow", Timeout: "1m", Retries: 1})
	var cancels int
	h := newHarness(t, plan, Options{}, nil, func(a Action) *Event { return nil })
	res := h.step()
	if want := h.now.Add(time.Minute); !res.WakeAt.Equal(want) {
		t.Fatalf("WakeAt = %v, want the deadline %v", res.WakeAt, want)
	}
	for h.s.Phase == RunRunning {
		h.now = res.WakeAt
		res = h.e.Step(h.s, h.now)
		for _, a := range res.Actions {
			if a.Kind == CancelTask {
				cancels++
			}
		}
	}
	if cancels != 2 || h.s.Phase != RunFailed || !strings.Contains(h.s.Message, "timed out after 1m0s") {
		t.Errorf("cancels %d, phase %s, message %q", cancels, h.s.Phase, h.s.Message)
	}
	// A late result of the timed-out attempt is ignored.
	before := h.s.Phase
	h.e.Step(h.s, h.now, Event{Kind: TaskFinished, Node: 1, Attempt: 1, Succeeded: true})
	if h.s.Phase != before {
		t.Error("a stale result changed the run")
	}
}

func TestFailurePropagationAndSkips(t *testing.T) {
	plan := nativePlan(t,
		pipeline.NativeTask{Name: "a"},
		pipeline.NativeTask{Name: "b", DependsOn: []string{"a"}},
		pipeline.NativeTask{Name: "c", DependsOn: []string{"b"}},
		pipeline.NativeTask{Name: "independent"},
		pipeline.NativeTask{Name: "report", DependsOn: []string{"c"}, RunOnFailure: true},
	)
	h := newHarness(t, plan, Options{}, nil, func(a Action) *Event {
		if a.Task.Name == "a" {
			return &Event{Message: "boom"}
		}
		return &Event{Succeeded: true}
	})
	h.run()
	want := map[string]Phase{"a": Failed, "b": Skipped, "c": Skipped, "independent": Succeeded, "report": Succeeded}
	for path, p := range want {
		if got := h.node(path).Phase; got != p {
			t.Errorf("%s is %s, want %s", path, got, p)
		}
	}
	if h.s.Phase != RunFailed {
		t.Errorf("run %s", h.s.Phase)
	}
}

func TestWhenConditionOnUpstreamOutput(t *testing.T) {
	plan, err := pipeline.CompileNative(&pipeline.NativeDAG{Name: "cond", Tasks: []pipeline.NativeTask{
		{Name: "coin", Image: "busybox", Command: []string{"sh", "-c", "echo heads > {{$.outputs.parameters['side'].output_file}}"}, Outputs: pipeline.NativeOutputs{Parameters: map[string]string{"side": "string"}}},
		{Name: "celebrate", Image: "busybox", Command: []string{"echo", "{{$.inputs.parameters['side']}}"}, Inputs: pipeline.NativeInputs{Parameters: map[string]pipeline.NativeValue{"side": {Task: "coin", Output: "side"}}}, When: "inputs.parameter_values['side'] == 'heads'"},
		{Name: "mourn", Image: "busybox", Command: []string{"echo", "{{$.inputs.parameters['side']}}"}, Inputs: pipeline.NativeInputs{Parameters: map[string]pipeline.NativeValue{"side": {Task: "coin", Output: "side"}}}, When: "inputs.parameter_values['side'] == 'tails'"},
		{Name: "finally", Image: "busybox", Command: []string{"true"}, DependsOn: []string{"celebrate", "mourn"}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, plan, Options{}, nil, func(a Action) *Event {
		if a.Task.Name == "coin" {
			return &Event{Succeeded: true, Params: map[string]any{"side": "heads"}}
		}
		return &Event{Succeeded: true}
	})
	h.run()
	if h.node("celebrate").Phase != Succeeded || h.node("mourn").Phase != Skipped || h.node("finally").Phase != Succeeded || h.s.Phase != RunSucceeded {
		t.Errorf("celebrate %s, mourn %s (%s), finally %s, run %s", h.node("celebrate").Phase, h.node("mourn").Phase, h.node("mourn").Message, h.node("finally").Phase, h.s.Phase)
	}
}

func TestCancel(t *testing.T) {
	plan := nativePlan(t, pipeline.NativeTask{Name: "a"}, pipeline.NativeTask{Name: "b", DependsOn: []string{"a"}})
	h := newHarness(t, plan, Options{}, nil, func(a Action) *Event { return nil })
	h.step()
	res := h.e.Step(h.s, h.now, Event{Kind: CancelRun})
	if len(res.Actions) != 1 || res.Actions[0].Kind != CancelTask {
		t.Fatalf("actions %+v, want one CancelTask", res.Actions)
	}
	if h.s.Phase != RunCancelled || h.node("b").Phase != Cancelled {
		t.Errorf("run %s, b %s", h.s.Phase, h.node("b").Phase)
	}
}

// memCache is an in-memory Cache.
type memCache map[string]*CachedResult

func (m memCache) Get(_ context.Context, k string) (*CachedResult, bool) { r, ok := m[k]; return r, ok }
func (m memCache) Put(_ context.Context, k string, r *CachedResult) error {
	m[k] = r
	return nil
}

// chanExecutor runs fixtureExec on goroutines, as a real executor would.
type chanExecutor struct {
	events chan Event
	runs   int
}

func (c *chanExecutor) Events() <-chan Event { return c.events }
func (c *chanExecutor) Cancel(Action)        {}
func (c *chanExecutor) Start(_ context.Context, a Action) {
	c.runs++
	ev := fixtureExec(a)
	ev.Kind, ev.Node, ev.Attempt = TaskFinished, a.Node, a.Attempt
	go func() { c.events <- *ev }()
}

func TestDriveWithCache(t *testing.T) {
	plan := loadFixture(t, "loops_nested_condition.yaml")
	e := New(plan, Options{MaxParallel: 2})
	cache := memCache{}
	var cached []string
	for round := 0; round < 2; round++ {
		s, err := e.Start(fmt.Sprintf("run-%d", round), map[string]any{"n": "3"}, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		x := &chanExecutor{events: make(chan Event)}
		e.Drive(context.Background(), s, x, cache, func(s *State, c Change) {
			if c.Cached {
				cached = append(cached, e.Path(s, c.Node))
			}
		})
		if s.Phase != RunSucceeded {
			t.Fatalf("round %d: %s %s", round, s.Phase, s.Message)
		}
		params, _ := s.Outputs()
		if params["total"] != 14.0 {
			t.Errorf("round %d: total %v", round, params["total"])
		}
		if round == 1 && x.runs != 3 {
			t.Errorf("second run executed %d tasks, want 3 (make-list, sum, announce; the squares come from the cache)", x.runs)
		}
	}
	if want := []string{"for-loop-1[0]/square", "for-loop-1[1]/square", "for-loop-1[2]/square"}; !reflect.DeepEqual(cached, want) {
		t.Errorf("cache hits %v, want %v", cached, want)
	}
}

// TestCacheKeyMatchesStartTask: the key recomputed from the state once
// the task is done is the one its StartTask action carried.
func TestCacheKeyMatchesStartTask(t *testing.T) {
	plan := nativePlan(t,
		pipeline.NativeTask{Name: "src", Cache: true, Outputs: pipeline.NativeOutputs{Parameters: map[string]string{"v": "string"}}},
		pipeline.NativeTask{Name: "use", Cache: true, Inputs: pipeline.NativeInputs{Parameters: map[string]pipeline.NativeValue{"v": {Task: "src", Output: "v"}}}},
		pipeline.NativeTask{Name: "nocache", DependsOn: []string{"src"}})
	keys := map[string]string{}
	h := newHarness(t, plan, Options{}, nil, func(a Action) *Event {
		keys[a.Task.Name] = a.Task.CacheKey
		return &Event{Succeeded: true, Params: map[string]any{"v": "x"}}
	})
	h.run()
	if keys["src"] == "" || keys["use"] == "" || keys["nocache"] != "" || keys["src"] == keys["use"] {
		t.Fatalf("keys of the actions: %v", keys)
	}
	index := map[string]int32{}
	for i := range h.s.Nodes {
		index[h.e.Path(h.s, int32(i))] = int32(i)
	}
	for name, want := range keys {
		if got := h.e.CacheKey(h.s, index[name]); got != want {
			t.Errorf("%s: CacheKey = %q, the action carried %q", name, got, want)
		}
	}
}

func TestStateRoundTripMidRun(t *testing.T) {
	plan := loadFixture(t, "loops_nested_condition.yaml")
	var held []Action
	h := newHarness(t, plan, Options{}, map[string]any{"n": 4.0}, func(a Action) *Event {
		if a.Task.Name == "square" {
			held = append(held, a)
			return nil
		}
		return fixtureExec(a)
	})
	h.s.RunUID = "8d7c1f52-3b0e-4a57-9c1e-2f4b6a8d0e13"
	h.step()
	h.step()
	if len(held) != 2 {
		t.Fatalf("held %d squares", len(held))
	}
	// Persist and reload the state, as the controller does between reconciles.
	b, err := json.Marshal(h.s)
	if err != nil {
		t.Fatal(err)
	}
	var restored State
	if err := json.Unmarshal(b, &restored); err != nil {
		t.Fatal(err)
	}
	b2, _ := json.Marshal(&restored)
	if string(b) != string(b2) {
		t.Fatalf("state changed in a round trip:\n%s\n%s", b, b2)
	}
	if restored.RunUID != h.s.RunUID {
		t.Errorf("run UID %q after a round trip, want %q", restored.RunUID, h.s.RunUID)
	}
	h.s = &restored
	for _, a := range held {
		h.finish(a, *fixtureExec(a))
	}
	held = nil
	h.exec = fixtureExec
	h.run()
	params, _ := h.s.Outputs()
	if h.s.Phase != RunSucceeded || params["total"] != 30.0 {
		t.Errorf("after reload: %s, outputs %v", h.s.Phase, params)
	}
}

func TestBindParameterErrors(t *testing.T) {
	plan := loadFixture(t, "loops_nested_condition.yaml")
	e := New(plan, Options{})
	_, err := e.Start("r", map[string]any{"n": "three", "m": "1"}, time.Now())
	l := pipeline.AsErrorList(err)
	if len(l) != 2 || l[0].Field != `parameters["m"]` || l[1].Field != `parameters["n"]` {
		t.Fatalf("errors %v", err)
	}
}

func TestImporterArtifactIteratorAndOneOf(t *testing.T) {
	plan := loadFixture(t, "importer_artifact_loop.yaml")
	for _, tc := range []struct {
		n    float64
		said string
	}{{3, "small"}, {30, "big"}} {
		var used []string
		h := newHarness(t, plan, Options{}, map[string]any{"source": "gs://bucket/base.csv", "n": tc.n}, func(a Action) *Event {
			switch a.Task.Name {
			case "make":
				if base := a.Task.Artifacts["base"]; len(base) != 1 || base[0].URI != "gs://bucket/base.csv" || base[0].Metadata["source"] != "imported" {
					return &Event{Message: fmt.Sprintf("bad base artifact %+v", base)}
				}
				uri := "gs://out/" + a.Task.Path + "/out"
				return &Event{Succeeded: true, Artifacts: map[string][]Artifact{"out": {{Name: "out", URI: uri, SchemaTitle: "system.Dataset"}}}}
			case "use":
				used = append(used, a.Task.Artifacts["data"][0].URI)
				return &Event{Succeeded: true, Params: map[string]any{"size": 2.0}}
			case "say":
				return &Event{Succeeded: true, Params: map[string]any{"said": a.Task.Params["text"]}}
			case "say-2":
				return &Event{Succeeded: true, Params: map[string]any{"said": a.Task.Params["text"]}}
			}
			return &Event{Message: "unexpected task " + a.Task.Name}
		})
		h.run()
		if h.s.Phase != RunSucceeded {
			t.Fatalf("run %s: %s", h.s.Phase, h.s.Message)
		}
		want := []string{"gs://out/for-loop-1[0]/make/out", "gs://out/for-loop-1[1]/make/out", "gs://out/for-loop-1[2]/make/out"}
		if !reflect.DeepEqual(used, want) {
			t.Errorf("artifact iterations used %v, want %v", used, want)
		}
		params, arts := h.s.Outputs()
		if params["said"] != tc.said {
			t.Errorf("n=%v: OneOf output %v, want %s", tc.n, params["said"], tc.said)
		}
		if len(arts["made"]) != 3 || arts["made"][2].URI != want[2] {
			t.Errorf("collected artifacts %+v", arts["made"])
		}
		if imp := h.node("importer"); imp.Phase != Succeeded || imp.Artifacts["artifact"][0].SchemaTitle != "system.Dataset" {
			t.Errorf("importer %+v", imp)
		}
	}
}

func TestDryRunTakesEveryBranch(t *testing.T) {
	plan := loadFixture(t, "importer_artifact_loop.yaml")
	var started []string
	h := newHarness(t, plan, Options{DryRun: true, MaxParallel: 1}, map[string]any{"source": "gs://b/x"}, func(a Action) *Event {
		started = append(started, a.Task.Path)
		ev := &Event{Succeeded: true, Params: map[string]any{}, Artifacts: map[string][]Artifact{}}
		for name := range a.Task.Component.Outputs.Parameters {
			ev.Params[name] = "{{" + a.Task.Path + "." + name + "}}"
		}
		for name := range a.Task.Component.Outputs.Artifacts {
			ev.Artifacts[name] = []Artifact{{Name: name, URI: "gs://dry/" + a.Task.Path}}
		}
		return ev
	})
	h.run()
	if h.s.Phase != RunSucceeded {
		t.Fatalf("dry run %s: %s", h.s.Phase, h.s.Message)
	}
	want := "branches/condition-3/say,branches/condition-4/say-2,for-loop-1[0]/make,for-loop-1[1]/make,for-loop-1[2]/make,for-loop-2[0]/use,for-loop-2[1]/use,for-loop-2[2]/use"
	if got := strings.Join(started, ","); got != want {
		t.Errorf("dry run order\n got %s\nwant %s", got, want)
	}
}

func TestCancelStillRunsExitHandler(t *testing.T) {
	plan := loadFixture(t, "exit_handler.yaml")
	h := newHarness(t, plan, Options{}, nil, func(a Action) *Event {
		if a.Task.Name == "work" {
			return nil // keep it running until the cancel
		}
		return fixtureExec(a)
	})
	h.step()
	if len(h.running) != 1 {
		t.Fatalf("running %v", h.running)
	}
	h.pending = append(h.pending, Event{Kind: CancelRun})
	res := h.step()
	if len(res.Actions) != 2 || res.Actions[0].Kind != CancelTask || res.Actions[1].Kind != StartTask || res.Actions[1].Task.Name != "cleanup" {
		t.Fatalf("actions after cancel: %+v", res.Actions)
	}
	h.run()
	seen := h.node("cleanup").Params["seen"].(map[string]any)
	if h.s.Phase != RunCancelled || seen["state"] != "CANCELLED" || h.node("exit-handler-1/work").Phase != Cancelled {
		t.Errorf("run %s, cleanup saw %v, work %s", h.s.Phase, seen, h.node("exit-handler-1/work").Phase)
	}
}
