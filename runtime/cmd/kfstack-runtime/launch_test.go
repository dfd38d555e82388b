package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kfstack/terraform-provider-kubeflow/runtime/engine"
	"github.com/kfstack/terraform-provider-kubeflow/runtime/launcher"
	"github.com/kfstack/terraform-provider-kubeflow/runtime/pipeline"
)

// launchSpec writes the task spec of task name of plan for `launch`.
func launchSpec(t *testing.T, plan *pipeline.Plan, name, root string, params map[string]any) string {
	t.Helper()
	task := plan.Root.DAG.Task(name)
	run := &engine.TaskRun{RunID: "r1", RunStart: time.Now().UTC(), PipelineName: plan.Name, Path: name, Name: name, Task: task, Component: task.Component, Params: params}
	b, err := json.Marshal(launcher.NewTaskSpec(run, root))
	if err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(t.TempDir(), "spec.json")
	writeFile(t, f, string(b), 0o644)
	return f
}

func TestLaunchReportsThroughTerminationMessage(t *testing.T) {
	b, _ := os.ReadFile(ownFixture("artifacts.yaml"))
	plan, err := pipeline.Load(b)
	if err != nil {
		t.Fatal(err)
	}
	rootDir := filepath.Join(t.TempDir(), "root")
	root := "file://" + rootDir
	result := filepath.Join(t.TempDir(), "termination-log")
	code, out := runCLI(t, "launch", "--spec", launchSpec(t, plan, "produce", root, map[string]any{"rows": 2.0}), "--result", result, "--workdir", t.TempDir())
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	msg, _ := os.ReadFile(result)
	store, err := launcher.OpenStore(context.Background(), root, launcher.StoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	m, err := launcher.DecodeResult(context.Background(), store, msg, launcher.ResultPath("artifacts", "r1", "", "produce"))
	if err != nil {
		t.Fatal(err)
	}
	data := m.Artifacts["data"][0]
	if m.Params["count"] != 2.0 || data.Metadata["rows"] != 2.0 || data.URI != root+"/artifacts/r1/produce/data" {
		t.Errorf("result %s", msg)
	}
	if b, err := os.ReadFile(filepath.Join(rootDir, "artifacts", "r1", "produce", "data", "part-0.txt")); err != nil || string(b) != "row 0\nrow 1\n" {
		t.Errorf("artifact in the store: %q, %v", b, err)
	}
}

func TestLaunchOffloadsLargeResultsAndReportsFailures(t *testing.T) {
	plan, err := pipeline.CompileNative(&pipeline.NativeDAG{Name: "big", Tasks: []pipeline.NativeTask{
		{Name: "big", Image: "busybox", Command: []string{"sh", "-c", `i=0; while [ $i -lt 2000 ]; do printf "%04d," $i; i=$((i+1)); done > "$0"`, "{{$.outputs.parameters['csv'].output_file}}"},
			Outputs: pipeline.NativeOutputs{Parameters: map[string]string{"csv": "string"}}},
		{Name: "bad", Image: "busybox", Command: []string{"sh", "-c", `i=0; while [ $i -lt 3000 ]; do echo "line $i"; i=$((i+1)); done; echo "final words" >&2; exit 9`}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	root := "file://" + filepath.Join(t.TempDir(), "root")
	store, err := launcher.OpenStore(context.Background(), root, launcher.StoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	result := filepath.Join(t.TempDir(), "termination-log")
	code, out := runCLI(t, "launch", "--spec", launchSpec(t, plan, "big", root, nil), "--result", result, "--workdir", t.TempDir())
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	msg, _ := os.ReadFile(result)
	if len(msg) > launcher.MaxMessage || !strings.Contains(string(msg), `"resultUri":"`+root+"/big/r1/big/.result.json") {
		t.Fatalf("termination message (%d bytes) %s", len(msg), msg)
	}
	m, err := launcher.DecodeResult(context.Background(), store, msg, launcher.ResultPath("big", "r1", "", "big"))
	if err != nil {
		t.Fatal(err)
	}
	if csv, _ := m.Params["csv"].(string); len(csv) != 10000 || !strings.HasSuffix(csv, "1999,") {
		t.Errorf("offloaded result has %d bytes", len(csv))
	}
	code, out = runCLI(t, "launch", "--spec", launchSpec(t, plan, "bad", root, nil), "--result", result, "--workdir", t.TempDir())
	if code != 1 {
		t.Fatalf("failing task: exit %d:\n%s", code, out)
	}
	msg, _ = os.ReadFile(result)
	m, err = launcher.DecodeResult(context.Background(), store, msg, launcher.ResultPath("big", "r1", "", "bad"))
	if err != nil {
		t.Fatal(err)
	}
	if len(msg) > launcher.MaxMessage || m.Error != "running sh: exit status 9" {
		t.Errorf("failure message (%d bytes): %q", len(msg), m.Error)
	}
	if !strings.HasSuffix(strings.TrimSpace(m.LogTail), "final words") || !strings.Contains(m.LogTail, "line 2999") {
		t.Errorf("the end of the log is not kept: %q", m.LogTail[max(0, len(m.LogTail)-200):])
	}
}

// TestLaunchReadsTheSpecFromTheEnvironment is how the pod executor hands
// the task over: in an environment variable, no volume needed.
func TestLaunchReadsTheSpecFromTheEnvironment(t *testing.T) {
	b, _ := os.ReadFile(ownFixture("artifacts.yaml"))
	plan, err := pipeline.Load(b)
	if err != nil {
		t.Fatal(err)
	}
	root := "file://" + filepath.Join(t.TempDir(), "root")
	spec, err := os.ReadFile(launchSpec(t, plan, "produce", root, map[string]any{"rows": 3.0}))
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("KFSTACK_TASK_TEST", string(spec))
	result := filepath.Join(t.TempDir(), "termination-log")
	code, out := runCLI(t, "launch", "--spec-env", "KFSTACK_TASK_TEST", "--result", result, "--workdir", t.TempDir())
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	if msg, _ := os.ReadFile(result); !strings.Contains(string(msg), `"count":3`) {
		t.Errorf("result %s", msg)
	}
	code, out = runCLI(t, "launch", "--spec-env", "KFSTACK_TASK_UNSET", "--result", result)
	if code != 2 || !strings.Contains(out, "KFSTACK_TASK_UNSET is not set") {
		t.Errorf("unset variable: exit %d:\n%s", code, out)
	}
}

// TestLaunchKeepsRecords: a task spec with an attempt number (as the
// controller writes it) makes launch keep the attempt's output and record
// in the store, where the UI reads them after the pod is gone.
func TestLaunchKeepsRecords(t *testing.T) {
	b, _ := os.ReadFile(ownFixture("artifacts.yaml"))
	plan, err := pipeline.Load(b)
	if err != nil {
		t.Fatal(err)
	}
	root := "file://" + filepath.Join(t.TempDir(), "root")
	specFile := launchSpec(t, plan, "produce", root, map[string]any{"rows": 2.0})
	var spec launcher.TaskSpec
	data, _ := os.ReadFile(specFile)
	if err := json.Unmarshal(data, &spec); err != nil {
		t.Fatal(err)
	}
	spec.Attempt = 3
	data, _ = json.Marshal(spec)
	writeFile(t, specFile, string(data), 0o644)
	if code, out := runCLI(t, "launch", "--spec", specFile, "--result", filepath.Join(t.TempDir(), "termination-log"), "--workdir", t.TempDir()); code != 0 {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	store, err := launcher.OpenStore(context.Background(), root, launcher.StoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	dir := launcher.AttemptDirOf(plan.Name, "r1", "produce", 3)
	rec, err := launcher.ReadRecord(context.Background(), store, dir)
	if err != nil {
		t.Fatal(err)
	}
	if !rec.Succeeded || rec.Outputs.Artifacts["data"][0].Metadata["rows"] != 2.0 {
		t.Errorf("record %+v", rec)
	}
	if _, err := launcher.ReadLog(context.Background(), store, dir+"/log", 0, 100); err != nil {
		t.Error(err)
	}
}
