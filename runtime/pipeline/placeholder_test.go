package pipeline

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestParseRef(t *testing.T) {
	for _, tc := range []struct {
		text string
		want Ref
	}{
		{"{{$}}", Ref{Kind: RefExecutorInput}},
		{"{{$.inputs.parameters['lr']}}", Ref{Kind: RefInputParameter, Name: "lr"}},
		{`{{$.inputs.parameters["lr"]}}`, Ref{Kind: RefInputParameter, Name: "lr"}},
		{"{{$.inputs.artifacts['data'].path}}", Ref{Kind: RefInputArtifact, Name: "data", Attr: "path"}},
		{"{{$.inputs.artifacts['data'].uri}}", Ref{Kind: RefInputArtifact, Name: "data", Attr: "uri"}},
		{"{{$.inputs.artifacts['data'].metadata}}", Ref{Kind: RefInputArtifact, Name: "data", Attr: "metadata"}},
		{"{{$.inputs.artifacts['data'].metadata['rows']}}", Ref{Kind: RefInputArtifact, Name: "data", Attr: "metadata", Key: "rows"}},
		{"{{$.inputs.artifacts['list']}}", Ref{Kind: RefInputArtifact, Name: "list"}},
		{"{{$.outputs.parameters['y'].output_file}}", Ref{Kind: RefOutputParameter, Name: "y", Attr: "output_file"}},
		{"{{$.outputs.artifacts['model'].path}}", Ref{Kind: RefOutputArtifact, Name: "model", Attr: "path"}},
		{"{{$.outputs.artifacts['model'].uri}}", Ref{Kind: RefOutputArtifact, Name: "model", Attr: "uri"}},
		{"{{$.outputs.artifacts['model'].metadata}}", Ref{Kind: RefOutputArtifact, Name: "model", Attr: "metadata"}},
		{"{{$.pipeline_job_name}}", Ref{Kind: RefRuntime, Name: RuntimeJobName}},
		{"{{$.pipeline_job_resource_name}}", Ref{Kind: RefRuntime, Name: RuntimeJobResourceName}},
		{"{{$.pipeline_job_uuid}}", Ref{Kind: RefRuntime, Name: RuntimeJobUUID}},
		{"{{$.pipeline_task_name}}", Ref{Kind: RefRuntime, Name: RuntimeTaskName}},
		{"{{$.pipeline_task_uuid}}", Ref{Kind: RefRuntime, Name: RuntimeTaskUUID}},
		{"{{$.pipeline_job_create_time_utc}}", Ref{Kind: RefRuntime, Name: RuntimeJobCreateTime}},
		{"{{$.pipeline_job_schedule_time_utc}}", Ref{Kind: RefRuntime, Name: RuntimeJobScheduleTime}},
		{"{{$.pipeline_root}}", Ref{Kind: RefRuntime, Name: RuntimePipelineRoot}},
	} {
		got, err := ParseRef(tc.text)
		if err != nil {
			t.Errorf("%s: %v", tc.text, err)
			continue
		}
		tc.want.Text = tc.text
		if *got != tc.want {
			t.Errorf("%s: got %+v, want %+v", tc.text, *got, tc.want)
		}
	}
	for _, bad := range []string{"{{$.inputs.parameters['x'].path}}", "{{$.outputs.parameters['x']}}", "{{$.inputs.params['x']}}", "{{$.pipeline_job}}", "{{$.outputs.artifacts['m'].output_file}}", "{{$.inputs.parameters['x'].uri['k']}}"} {
		if _, err := ParseRef(bad); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}

// mapResolver resolves placeholders from a map keyed by placeholder text.
type mapResolver map[string]string

func (m mapResolver) Resolve(r *Ref) (string, error) {
	if v, ok := m[r.Text]; ok {
		return v, nil
	}
	return "", fmt.Errorf("no value for %s", r.Text)
}

func (m mapResolver) Present(name string) bool {
	_, ok := m["{{$.inputs.parameters['"+name+"']}}"]
	return ok
}

func TestExpandStructuredPlaceholders(t *testing.T) {
	res := mapResolver{
		"{{$.inputs.parameters['a']}}":              "A",
		"{{$.outputs.artifacts['m'].uri}}":          "gs://b/m",
		"{{$.outputs.parameters['o'].output_file}}": "/tmp/o",
	}
	for _, tc := range []struct {
		arg  string
		want []string
	}{
		{"plain", []string{"plain"}},
		{"x={{$.inputs.parameters['a']}}-{{$.inputs.parameters['a']}}", []string{"x=A-A"}},
		{`{"IfPresent": {"InputName": "a", "Then": ["--a", "{{$.inputs.parameters['a']}}"], "Else": ["--no-a"]}}`, []string{"--a", "A"}},
		{`{"IfPresent": {"InputName": "b", "Then": ["--b", "{{$.inputs.parameters['b']}}"], "Else": ["--no-b"]}}`, []string{"--no-b"}},
		{`{"IfPresent": {"InputName": "b", "Then": ["--b"]}}`, nil},
		{`{"IfPresent": {"InputName": "a", "Then": "{{$.outputs.artifacts['m'].uri}}"}}`, []string{"gs://b/m"}},
		{`{"Concat": ["--out=", "{{$.outputs.parameters['o'].output_file}}"]}`, []string{"--out=/tmp/o"}},
		{`{"Concat": ["a:", {"IfPresent": {"InputName": "a", "Then": {"Concat": ["[", "{{$.inputs.parameters['a']}}", "]"]}, "Else": "none"}}, ":", {"IfPresent": {"InputName": "b", "Then": "B", "Else": "noB"}}]}`, []string{"a:[A]:noB"}},
		{`{"IfPresent": {"InputName": "a", "Then": [{"Concat": ["--a=", "{{$.inputs.parameters['a']}}"]}, {"IfPresent": {"InputName": "b", "Then": "--b", "Else": "--nob"}}]}}`, []string{"--a=A", "--nob"}},
	} {
		a, err := ParseArg(tc.arg)
		if err != nil {
			t.Errorf("%s: %v", tc.arg, err)
			continue
		}
		got, err := a.Expand(res)
		if err != nil {
			t.Errorf("%s: %v", tc.arg, err)
			continue
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: got %q, want %q", tc.arg, got, tc.want)
		}
	}
}

// sharedKFP returns the KFP-compiled pipelines of ../shared/testdata/kfp,
// or skips when the workspace does not have them.
func sharedKFP(t *testing.T) []string {
	t.Helper()
	dir := filepath.Join("..", "..", "..", "shared", "testdata", "kfp")
	files, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if len(files) == 0 {
		t.Skipf("no KFP test pipelines in %s (a checkout outside the kfstack workspace); skipping", dir)
	}
	return files
}

func TestCompileSharedKFPPipelines(t *testing.T) {
	for _, f := range sharedKFP(t) {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		p, err := Load(b)
		if err != nil {
			t.Errorf("%s: %v", filepath.Base(f), err)
			continue
		}
		if p.Name == "" || len(p.Root.DAG.Tasks) == 0 {
			t.Errorf("%s: empty plan", filepath.Base(f))
		}
		// Every task is ordered after what it depends on.
		for _, c := range p.Components {
			if c.DAG == nil {
				continue
			}
			for _, task := range c.DAG.Tasks {
				for _, d := range task.Deps {
					if d >= task.Index {
						t.Errorf("%s: %s/%s comes before its dependency %s", filepath.Base(f), c.Name, task.Name, c.DAG.Tasks[d].Name)
					}
				}
			}
		}
	}
}

func TestSharedKFPDetails(t *testing.T) {
	files := sharedKFP(t)
	load := func(name string) *Plan {
		for _, f := range files {
			if strings.HasSuffix(f, name) {
				b, _ := os.ReadFile(f)
				p, err := Load(b)
				if err != nil {
					t.Fatal(err)
				}
				return p
			}
		}
		t.Fatalf("%s missing", name)
		return nil
	}
	retry := load("critical_pipeline_with_retry.yaml").Root.DAG.Task("add").Retry
	if retry.MaxRetries != 3 || retry.Backoff != 0 || retry.Factor != 2 || retry.MaxBackoff.String() != "1h0m0s" {
		t.Errorf("retry policy %+v", retry)
	}
	loops := load("parallel_and_nested_pipeline_with_loops.yaml")
	if l := loops.Root.DAG.Task("for-loop-4").Loop; len(l.Raw) != 2 || l.ItemInput != "pipelinechannel--loop-item-param-3" {
		t.Errorf("for-loop-4 loop %+v", l)
	}
	if sel := loops.Components["comp-for-loop-2"].DAG.Task("print-text-2").Selectors["msg"]; sel == nil {
		t.Error("parameterExpressionSelector not compiled")
	} else if v, err := EvalSelector(sel, map[string]any{"A_a": "1", "B_b": "2"}); err != nil || v != "1" {
		t.Errorf("selector gave %v, %v", v, err)
	}
	exit := load("local_execution_local_execution_pipeline_with_exit_handler.yaml").Root.DAG.Task("record-exit")
	if !exit.RunsOnUpstreamFailure || len(exit.Deps) != 1 {
		t.Errorf("exit task %+v", exit)
	}
	flip := load("critical_flip_coin.yaml")
	cond := flip.Components["comp-condition-1"].DAG.Task("condition-2")
	for v, want := range map[float64]bool{9: true, 5: false} {
		got, err := EvalCondition(cond.Condition, map[string]any{"pipelinechannel--random-num-Output": v})
		if err != nil || got != want {
			t.Errorf("condition on %v = %v, %v", v, got, err)
		}
	}
}
