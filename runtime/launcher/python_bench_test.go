package launcher_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/kfstack/terraform-provider-kubeflow/runtime/engine"
	"github.com/kfstack/terraform-provider-kubeflow/runtime/launcher"
	"github.com/kfstack/terraform-provider-kubeflow/runtime/pipeline"
)

// BenchmarkPythonComponent measures what a Python-function component costs
// beyond its own work, with kfstack's built-in kfp and Debian's python3:
// one attempt of the KFP SDK's add_numbers component (the corpus's
// critical_add_numbers: prelude, program, executor protocol, outputs),
// against the same function run by a bare `python3 -c`. It reports the
// attempt's mean, the bare run's mean and their difference (ms).
//
//	go test ./runtime/launcher -run XXX -bench PythonComponent -benchtime 20x
func BenchmarkPythonComponent(b *testing.B) {
	python := "/usr/bin/python3"
	if _, err := os.Stat(python); err != nil {
		b.Skip("no Debian python3")
	}
	spec, err := os.ReadFile(filepath.Join("..", "..", "..", "shared", "testdata", "kfp-sdk", "valid", "critical_add_numbers.yaml"))
	if err != nil {
		b.Skipf("no KFP SDK corpus: %v", err)
	}
	plan, err := pipeline.Load(spec)
	if err != nil {
		b.Fatal(err)
	}
	task := plan.Root.DAG.Task("add-numbers")
	dir := b.TempDir()
	store, err := launcher.OpenStore(context.Background(), "file://"+filepath.Join(dir, "root"), launcher.StoreOptions{})
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	cfg := launcher.Config{Mode: launcher.LocalMode, PipelineRoot: "file://" + filepath.Join(dir, "root"), WorkDir: filepath.Join(dir, "work"),
		PythonExecutor: launcher.PythonBuiltin, Python: python}
	run := &engine.TaskRun{RunID: "bench", RunStart: time.Now(), PipelineName: plan.Name, Path: "add-numbers", Name: "add-numbers",
		Task: task, Component: task.Component, Params: map[string]any{"a": 1.0, "b": 2.0}}
	// The first attempt installs the package and checks the interpreter;
	// later ones of the same process reuse both, as a local run's tasks do.
	first := time.Now()
	if _, err := launcher.Run(context.Background(), run, cfg, store); err != nil {
		b.Fatal(err)
	}
	firstMs := float64(time.Since(first).Microseconds()) / 1000
	var task0, bare time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		res, err := launcher.Run(context.Background(), run, cfg, store)
		if err != nil || res.Params["Output"] != 3.0 {
			b.Fatalf("run: %v %v", res, err)
		}
		task0 += time.Since(t0)
		t1 := time.Now()
		if out, err := exec.Command(python, "-c", "def add_numbers(a: int, b: int) -> int:\n    return a + b\nprint(add_numbers(1, 2))").CombinedOutput(); err != nil {
			b.Fatalf("%v: %s", err, out)
		}
		bare += time.Since(t1)
	}
	n := float64(b.N)
	b.ReportMetric(float64(task0.Microseconds())/1000/n, "task-ms")
	b.ReportMetric(float64(bare.Microseconds())/1000/n, "bare-python-ms")
	b.ReportMetric(float64((task0-bare).Microseconds())/1000/n, "overhead-ms")
	// The first attempt also installs the package and checks the
	// interpreter (a task pod's only attempt pays this).
	b.ReportMetric(firstMs, "first-attempt-ms")
}
