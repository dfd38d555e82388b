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
// though the engine would start all of them.
func TestBoundedParallelism(t *testing.T) {
	var tasks []pipeline.NativeTask
	script := `mkdir -p active && touch active/$0 && ls active | wc -l >> counts && sleep 0.3 && rm active/$0`
	for i := 0; i < 6; i++ {
		tasks = append(tasks, pipeline.NativeTask{Name: fmt.Sprintf("t%d", i), Image: "busybox", Command: []string{"sh", "-c", script, fmt.Sprintf("t%d", i)}})
	}
	e, x, work := setup(t, tasks, 2)
	s, err := e.Start("par", nil, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	e.Drive(context.Background(), s, x, nil, nil)
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
	go func() {
		for i := 0; i < 100; i++ {
			if _, err := os.Stat(filepath.Join(work, "pid")); err == nil {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		cancel()
	}()
	start := time.Now()
	e.Drive(ctx, s, x, nil, nil)
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
