package local

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kfstack/terraform-provider-kubeflow/runtime/engine"
	"github.com/kfstack/terraform-provider-kubeflow/runtime/launcher"
	"github.com/kfstack/terraform-provider-kubeflow/runtime/pipeline"
)

func setup(t *testing.T, tasks []pipeline.NativeTask, maxParallel int) (*engine.Engine, *Executor, string) {
	t.Helper()
	plan, err := pipeline.CompileNative(&pipeline.NativeDAG{Name: "local", Tasks: tasks})
	if err != nil {
		t.Fatal(err)
	}
	root := "file://" + filepath.Join(t.TempDir(), "root")
	store, err := launcher.OpenStore(context.Background(), root, launcher.StoreOptions{ForeignReads: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	work := t.TempDir()
	x := New(launcher.Config{PipelineRoot: root, WorkDir: t.TempDir(), Dir: work}, store, maxParallel)
	return engine.New(plan, engine.Options{}), x, work
}

// TestBoundedParallelism runs six tasks that each record how many of them
// run at the same moment; the executor's own limit (2) must hold even
// though the engine would start all of them. Each task holds until the
// test releases it, once two run: an executor without the limit would
// have started a third by then, which would have counted three.
func TestBoundedParallelism(t *testing.T) {
	var tasks []pipeline.NativeTask
	script := `mkdir -p active && touch active/$0 && ls active | wc -l >> counts && while [ ! -e release/$0 ]; do sleep 0.01; done; rm active/$0`
	for i := 0; i < 6; i++ {
		tasks = append(tasks, pipeline.NativeTask{Name: fmt.Sprintf("t%d", i), Image: "busybox", Command: []string{"sh", "-c", script, fmt.Sprintf("t%d", i)}})
	}
	e, x, work := setup(t, tasks, 2)
	if err := os.MkdirAll(filepath.Join(work, "release"), 0o755); err != nil {
		t.Fatal(err)
	}
	s, err := e.Start("par", nil, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		e.Drive(context.Background(), s, x, nil, nil)
	}()
	// Release the running tasks two at a time (the last pair included).
	for released := 0; released < 6; {
		var active []string
		waitFor(t, "two tasks to run", func() bool {
			entries, _ := os.ReadDir(filepath.Join(work, "active"))
			active = active[:0]
			for _, en := range entries {
				if _, err := os.Stat(filepath.Join(work, "release", en.Name())); err != nil {
					active = append(active, en.Name())
				}
			}
			return len(active) >= min(2, 6-released)
		})
		for _, name := range active {
			if err := os.WriteFile(filepath.Join(work, "release", name), nil, 0o644); err != nil {
				t.Fatal(err)
			}
			released++
		}
	}
	<-done
	x.Close()
	if s.Phase != engine.RunSucceeded {
		t.Fatalf("run %s: %s", s.Phase, s.Message)
	}
	b, err := os.ReadFile(filepath.Join(work, "counts"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Fields(string(b))
	if len(lines) != 6 {
		t.Fatalf("counts %q", b)
	}
	for _, l := range lines {
		if n, _ := strconv.Atoi(l); n > 2 {
			t.Errorf("%d tasks ran at once, limit is 2 (counts %v)", n, lines)
		}
	}
}

// waitFor polls cond until it holds, failing the test after 20 seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited 20s for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// lines counts the lines of a file (0 when it does not exist).
func lines(path string) int {
	b, _ := os.ReadFile(path)
	return len(strings.Fields(string(b)))
}

// event waits for the executor's next event.
func event(t *testing.T, x *Executor, what string) engine.Event {
	t.Helper()
	select {
	case ev := <-x.Events():
		return ev
	case <-time.After(20 * time.Second):
		t.Fatalf("no event for %s within 20s", what)
		return engine.Event{}
	}
}

// TestCancelThenRetry: a retry started right after its predecessor's
// cancel keeps its own cancel (the predecessor's goroutine ends after the
// retry started), and a late cancel of an old attempt does not stop a
// newer one.
func TestCancelThenRetry(t *testing.T) {
	e, x, work := setup(t, []pipeline.NativeTask{
		{Name: "job", Image: "busybox", Command: []string{"sh", "-c", "echo $$ >> pids; while [ ! -e go ]; do sleep 0.01; done"}},
	}, 0)
	// Whatever happens, let the processes end before Close waits for them.
	defer func() {
		_ = os.WriteFile(filepath.Join(work, "go"), nil, 0o644)
		x.Close()
	}()
	s, err := e.Start("retry", nil, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	res := e.Step(s, time.Now())
	if len(res.Actions) != 1 || res.Actions[0].Kind != engine.StartTask {
		t.Fatalf("actions %+v", res.Actions)
	}
	a1 := res.Actions[0]
	a2, a3 := a1, a1
	a2.Attempt, a3.Attempt = a1.Attempt+1, a1.Attempt+2
	pids := filepath.Join(work, "pids")
	ctx := context.Background()

	x.Start(ctx, a1)
	waitFor(t, "attempt 1 to run", func() bool { return lines(pids) == 1 })
	x.Cancel(a1)
	x.Start(ctx, a2)
	if ev := event(t, x, "attempt 1"); ev.Attempt != a1.Attempt || ev.Succeeded {
		t.Fatalf("first event %+v, want attempt 1 failed", ev)
	}
	waitFor(t, "attempt 2 to run", func() bool { return lines(pids) == 2 })
	x.Cancel(a2)
	if ev := event(t, x, "attempt 2 after its cancel (was its cancel lost?)"); ev.Attempt != a2.Attempt || ev.Succeeded || !strings.Contains(ev.Message, "cancelled") {
		t.Fatalf("event %+v, want attempt 2 cancelled", ev)
	}

	x.Start(ctx, a3)
	waitFor(t, "attempt 3 to run", func() bool { return lines(pids) == 3 })
	x.Cancel(a1) // late cancels of finished attempts
	x.Cancel(a2)
	if err := os.WriteFile(filepath.Join(work, "go"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if ev := event(t, x, "attempt 3"); ev.Attempt != a3.Attempt || !ev.Succeeded {
		t.Fatalf("event %+v, want attempt 3 succeeded (an old attempt's cancel stopped it?)", ev)
	}
}

// TestCancelStopsProcesses cancels a run while a task sleeps; Drive returns
// with the run cancelled and the process gone.
func TestCancelStopsProcesses(t *testing.T) {
	e, x, work := setup(t, []pipeline.NativeTask{
		{Name: "sleepy", Image: "busybox", Command: []string{"sh", "-c", "echo $$ > pid; sleep 30"}},
		{Name: "after", Image: "busybox", Command: []string{"true"}, DependsOn: []string{"sleepy"}},
	}, 0)
	s, err := e.Start("cancel", nil, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		e.Drive(ctx, s, x, nil, nil)
	}()
	waitFor(t, "the task to run", func() bool { return lines(filepath.Join(work, "pid")) == 1 })
	start := time.Now()
	cancel()
	<-done
	x.Close()
	if s.Phase != engine.RunCancelled {
		t.Fatalf("run %s", s.Phase)
	}
	if time.Since(start) > 20*time.Second {
		t.Errorf("cancel took %s", time.Since(start))
	}
	pid, _ := os.ReadFile(filepath.Join(work, "pid"))
	if p, err := strconv.Atoi(strings.TrimSpace(string(pid))); err == nil {
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", p)); err == nil {
			if st, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p)); !strings.Contains(string(st), ") Z") {
				t.Errorf("process %d still running after cancel", p)
			}
		}
	}
}
