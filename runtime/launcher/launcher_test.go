package launcher

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/kfstack/terraform-provider-kubeflow/runtime/engine"
	"github.com/kfstack/terraform-provider-kubeflow/runtime/pipeline"
)

func artifactsPlan(t *testing.T) *pipeline.Plan {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "pipeline", "testdata", "artifacts.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	p, err := pipeline.Load(b)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func taskRun(p *pipeline.Plan, name string, params map[string]any, arts map[string][]engine.Artifact) *engine.TaskRun {
	task := p.Root.DAG.Task(name)
	return &engine.TaskRun{RunID: "run-7", RunStart: time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC), PipelineName: p.Name,
		Path: name, Name: name, Task: task, Component: task.Component, Params: params, Artifacts: arts}
}

// TestExecutorInputShape checks the executor input against the JSON that
// KFP's launcher writes (ExecutorInput in pipeline_spec.proto, proto JSON
// names) and that kfp.dsl.executor reads.
func TestExecutorInputShape(t *testing.T) {
	p := artifactsPlan(t)
	run := taskRun(p, "consume", map[string]any{"count": 3.0, "label": "x"}, map[string][]engine.Artifact{
		"data": {{Name: "data", URI: "gs://bucket/root/artifacts/run-7/produce/data", SchemaTitle: "system.Dataset", Metadata: map[string]any{"rows": 3.0, "format": "txt"}}},
	})
	prep, err := Prepare(run, Config{Mode: PodMode, PipelineRoot: "gs://bucket/root", WorkDir: "/tmp/kfp"})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := json.Marshal(prep.Input)
	want := `{"inputs":{"parameterValues":{"count":3,"label":"x"},"artifacts":{"data":{"artifacts":[{"name":"data","type":{"schemaTitle":"system.Dataset","schemaVersion":"0.0.1"},"uri":"gs://bucket/root/artifacts/run-7/produce/data","metadata":{"format":"txt","rows":3}}]}}},` +
		`"outputs":{"parameters":{"summary":{"outputFile":"/tmp/kfp/consume/outputs/parameters/summary"}},"artifacts":{"report":{"artifacts":[{"name":"report","type":{"schemaTitle":"system.Artifact","schemaVersion":"0.0.1"},"uri":"gs://bucket/root/artifacts/run-7/consume/report","metadata":{}}]}},"outputFile":"/tmp/kfp/consume/outputs/output_metadata.json"}}`
	if string(got) != want {
		t.Errorf("executor input\n got %s\nwant %s", got, want)
	}
	// In a pod, paths are where KFP's SDK maps the URIs.
	wantArgv := []string{"sh", "-c", prep.Argv[2],
		"label=x/txt",
		"/gcs/bucket/root/artifacts/run-7/produce/data",
		"/tmp/kfp/consume/outputs/parameters/summary",
		"/gcs/bucket/root/artifacts/run-7/consume/report",
		"--count", "3",
		`{"format":"txt","rows":3}`}
	if !reflect.DeepEqual(prep.Argv, wantArgv) {
		t.Errorf("argv\n got %q\nwant %q", prep.Argv, wantArgv)
	}
	// Without the optional label, IfPresent takes its Else branch.
	delete(run.Params, "label")
	prep, err = Prepare(run, Config{Mode: LocalMode, PipelineRoot: "file:///r", WorkDir: "/w"})
	if err != nil {
		t.Fatal(err)
	}
	if prep.Argv[3] != "label=none/txt" || prep.Argv[4] != "/w/consume/inputs/artifacts/data/0" {
		t.Errorf("local argv %q", prep.Argv)
	}
	if uri := prep.Input.Inputs.Artifacts["data"].Artifacts[0].URI; uri != "/w/consume/inputs/artifacts/data/0" {
		t.Errorf("local mode passes the staged path as the URI, as kfp.local does; got %s", uri)
	}
}

func TestExecutorInputPlaceholderAndRuntimeValues(t *testing.T) {
	plan, err := pipeline.CompileNative(&pipeline.NativeDAG{Name: "rt", Tasks: []pipeline.NativeTask{{
		Name: "t", Image: "busybox", Command: []string{"echo", "{{$.pipeline_job_name}}", "{{$.pipeline_task_name}}", "{{$.pipeline_job_create_time_utc}}", "{{$.pipeline_root}}", "{{$}}"},
		Env: map[string]string{"RUN": "{{$.pipeline_job_uuid}}"},
	}}})
	if err != nil {
		t.Fatal(err)
	}
	task := plan.Root.DAG.Task("t")
	run := &engine.TaskRun{RunID: "run-9", RunStart: time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC), PipelineName: "rt", Path: "t", Name: "t", Task: task, Component: task.Component}
	prep, err := Prepare(run, Config{PipelineRoot: "file:///root", WorkDir: "/w"})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"echo", "run-9", "t", "2026-03-04T05:06:07Z", "file:///root", `{"inputs":{},"outputs":{"outputFile":"/w/t/outputs/output_metadata.json"}}`}
	if !reflect.DeepEqual(prep.Argv, want) || !reflect.DeepEqual(prep.Env, []string{"RUN=run-9"}) {
		t.Errorf("argv %q env %q", prep.Argv, prep.Env)
	}

	// A run with a UID (every PipelineRun): the job UUID and the artifact
	// directory are the UID, so a run made again under the same name never
	// shares either with its predecessor; the job name stays the name.
	run.RunUID = "0b9f3d6e-1c2a-4e8b-a7d5-93f1c6e2b480"
	prep, err = Prepare(run, Config{PipelineRoot: "file:///root", WorkDir: "/w"})
	if err != nil {
		t.Fatal(err)
	}
	if prep.Argv[1] != "run-9" || !reflect.DeepEqual(prep.Env, []string{"RUN=" + run.RunUID}) {
		t.Errorf("with a UID: argv %q env %q", prep.Argv, prep.Env)
	}
	if uri := ArtifactURI("gs://b/root", run, "model"); uri != "gs://b/root/rt/"+run.RunUID+"/t/model" {
		t.Errorf("artifact URI %s", uri)
	}
}

func openStore(t *testing.T) (*Store, string) {
	t.Helper()
	root := "file://" + filepath.Join(t.TempDir(), "root")
	s, err := OpenStore(context.Background(), root, StoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, root
}

// TestRunHonoursExecutorOutput runs the fixture's producer, which writes
// executor_output.json as kfp.dsl.executor_main does, then the consumer,
// which reads the uploaded artifact back.
func TestRunHonoursExecutorOutput(t *testing.T) {
	p := artifactsPlan(t)
	store, root := openStore(t)
	cfg := Config{Mode: LocalMode, PipelineRoot: root, WorkDir: t.TempDir()}
	res, err := Run(context.Background(), taskRun(p, "produce", map[string]any{"rows": 4.0}, nil), cfg, store)
	if err != nil {
		t.Fatal(err)
	}
	if res.Params["count"] != 4.0 {
		t.Errorf("count = %v, want 4 from executor_output.json", res.Params["count"])
	}
	data := res.Artifacts["data"][0]
	if data.URI != root+"/artifacts/run-7/produce/data" || data.Metadata["rows"] != 4.0 || data.SchemaTitle != "system.Dataset" {
		t.Errorf("artifact %+v", data)
	}
	b, err := os.ReadFile(filepath.Join(strings.TrimPrefix(data.URI, "file://"), "part-0.txt"))
	if err != nil || strings.Count(string(b), "row") != 4 {
		t.Errorf("uploaded artifact: %q, %v", b, err)
	}
	res, err = Run(context.Background(), taskRun(p, "consume", map[string]any{"count": 4.0, "label": "L"}, res.Artifacts), cfg, store)
	if err != nil {
		t.Fatal(err)
	}
	if res.Params["summary"] != "label=L/txt:4" {
		t.Errorf("summary %q", res.Params["summary"])
	}
	report, _ := os.ReadFile(strings.TrimPrefix(res.Artifacts["report"][0].URI, "file://"))
	if string(report) != "label=L/txt 4 rows\n" {
		t.Errorf("report %q", report)
	}
}

func failingRun(t *testing.T, script string, timeout time.Duration) *engine.TaskRun {
	plan, err := pipeline.CompileNative(&pipeline.NativeDAG{Name: "f", Tasks: []pipeline.NativeTask{{Name: "t", Image: "busybox", Command: []string{"sh", "-c", script}}}})
	if err != nil {
		t.Fatal(err)
	}
	task := plan.Root.DAG.Task("t")
	return &engine.TaskRun{RunID: "r", PipelineName: "f", Path: "t", Name: "t", Task: task, Component: task.Component, Timeout: timeout}
}

func TestFailingTaskReportsLogTail(t *testing.T) {
	store, root := openStore(t)
	script := `i=0; while [ $i -lt 500 ]; do echo "noise $i"; i=$((i+1)); done; echo "fatal: dataset missing" >&2; exit 4`
	_, err := Run(context.Background(), failingRun(t, script, 0), Config{PipelineRoot: root, WorkDir: t.TempDir(), LogTailBytes: 200}, store)
	var te *TaskError
	if !errors.As(err, &te) {
		t.Fatalf("error %v is not a TaskError", err)
	}
	if !strings.Contains(err.Error(), "exit status 4") || !strings.HasSuffix(strings.TrimSpace(te.LogTail), "fatal: dataset missing") || len(te.LogTail) > 200 || strings.Contains(te.LogTail, "noise 1\n") {
		t.Errorf("error %q, tail %q", err, te.LogTail)
	}
}

func TestRunStopsAtDeadline(t *testing.T) {
	store, root := openStore(t)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	// The child of the shell must die too: the process group is killed.
	_, err := Run(ctx, failingRun(t, "sleep 30 & wait", 0), Config{PipelineRoot: root, WorkDir: t.TempDir()}, store)
	if err == nil || !strings.Contains(err.Error(), "stopped") {
		t.Fatalf("error %v", err)
	}
	if time.Since(start) > 10*time.Second {
		t.Errorf("took %s to stop", time.Since(start))
	}
}

func TestMissingOutputIsAnError(t *testing.T) {
	p := artifactsPlan(t)
	store, root := openStore(t)
	run := taskRun(p, "consume", map[string]any{"count": 1.0}, map[string][]engine.Artifact{"data": {{Name: "data", URI: root + "/nothing-here"}}})
	_, err := Run(context.Background(), run, Config{PipelineRoot: root, WorkDir: t.TempDir()}, store)
	if err == nil || !strings.Contains(err.Error(), "downloading input artifacts") {
		t.Errorf("missing input artifact: %v", err)
	}
}

func TestStoreDirectoryRoundTrip(t *testing.T) {
	store, root := openStore(t)
	src := t.TempDir()
	if err := os.MkdirAll(filepath.Join(src, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string]string{"a.txt": "A", "sub/b.txt": "B"} {
		if err := os.WriteFile(filepath.Join(src, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	uri := store.URI("p/r/t/model")
	if uri != root+"/p/r/t/model" {
		t.Fatalf("URI %s", uri)
	}
	if err := store.Upload(context.Background(), src, uri); err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(t.TempDir(), "model")
	if err := store.Download(context.Background(), uri, dst); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{"a.txt": "A", "sub/b.txt": "B"} {
		if b, _ := os.ReadFile(filepath.Join(dst, name)); string(b) != want {
			t.Errorf("%s = %q", name, b)
		}
	}
	if _, err := store.key("gs://other/x"); err == nil {
		t.Error("a URI outside the root was accepted")
	}
	if PodPath("gs://b/k/m") != "/gcs/b/k/m" || PodPath("s3://b/k") != "/s3/b/k" || PodPath("minio://b/k") != "/minio/b/k" {
		t.Error("PodPath does not follow KFP's mount layout")
	}
}
