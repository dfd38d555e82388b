package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/kfstack/terraform-provider-kubeflow/internal/kfptest"
)

// runCLI runs the binary's dispatch in-process.
func runCLI(t *testing.T, args ...string) (int, string) {
	t.Helper()
	var out bytes.Buffer
	code := dispatch(args, &out, &out)
	return code, out.String()
}

func writeFile(t *testing.T, path, data string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), mode); err != nil {
		t.Fatal(err)
	}
}

// sharedKFP is ../shared/testdata/kfp next to the repository root.
func sharedKFP(t *testing.T) string { return kfptest.Dir(t) }

// standIns puts the programs that some upstream container components call
// (their images would ship them) on PATH, and returns a working directory
// holding run.sh.
func standIns(t *testing.T) string {
	t.Helper()
	bin := t.TempDir()
	for name, program := range kfptest.Programs {
		if _, err := exec.LookPath(name); err == nil && name == "gsutil" {
			continue // the real one
		}
		writeFile(t, filepath.Join(bin, name), program, 0o755)
	}
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	work := t.TempDir()
	writeFile(t, filepath.Join(work, "run.sh"), kfptest.RunSh, 0o644)
	return work
}

// TestRunSharedContainerPipelines runs every container-component pipeline
// of the shared KFP test data for real.
func TestRunSharedContainerPipelines(t *testing.T) {
	dir := sharedKFP(t)
	work := standIns(t)
	urlFile := filepath.Join(t.TempDir(), "source.txt")
	writeFile(t, urlFile, "contents of the source", 0o644)
	expect := map[string]struct {
		params []string
		want   []string // substrings of the output, in order
	}{
		"arguments_parameters.yaml":                        {[]string{"param2=world"}, []string{"[echo] hello-world", "run echo-test Succeeded"}},
		"container_io.yaml":                                {[]string{"text=kfstack"}, []string{`output_path = "kfstack"`}},
		"container_with_artifact_output.yaml":              {[]string{"num_epochs=5"}, []string{`model_config_path = "config for 5 epochs"`, "model -> file://"}},
		"container_with_if_placeholder.yaml":               {nil, []string{`output_path = "default"`, "dataset -> file://"}},
		"critical_container_component_with_no_inputs.yaml": {nil, []string{"[hello-world-container] hello world"}},
		"critical_producer_consumer_param_pipeline.yaml":   {nil, []string{"producer", "Succeeded", "[consumer] Hello world, this is an output parameter", "consumer", "Succeeded"}},
		"critical_two_step_pipeline_containerized.yaml":    {nil, []string{"[component2] Hello KFP Containerized!", "output_gcs -> file://"}},
		"essential_pipeline_with_after.yaml":               {nil, []string{"[print-text] 1st task", "[print-text-2] 2nd task", "[print-text-3] 3rd task"}},
		"hello_world.yaml":                                 {nil, []string{"[echo] hello world"}},
		"sequential_v2.yaml":                               {[]string{"url=" + urlFile}, []string{"[echo] contents of the source", "run echo-test Succeeded"}},
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
	ran := 0
	for _, f := range files {
		b, _ := os.ReadFile(f)
		if strings.Contains(string(b), "kfp.dsl.executor_main") {
			continue
		}
		name := filepath.Base(f)
		t.Run(name, func(t *testing.T) {
			e, ok := expect[name]
			if !ok {
				t.Fatalf("container pipeline %s has no expectation in this test", name)
			}
			args := []string{"run", f, "--output-dir", t.TempDir(), "--workdir", work, "--run-id", "echo-test"}
			for _, p := range e.params {
				args = append(args, "--param", p)
			}
			code, out := runCLI(t, args...)
			if code != 0 {
				t.Fatalf("exit %d:\n%s", code, out)
			}
			if !strings.Contains(out, "run echo-test Succeeded") {
				t.Errorf("no success line:\n%s", out)
			}
			rest := out
			for _, w := range e.want {
				i := strings.Index(rest, w)
				if i < 0 {
					t.Fatalf("output lacks %q (in order):\n%s", w, out)
				}
				rest = rest[i+len(w):]
			}
		})
		ran++
	}
	if ran != len(expect) {
		t.Errorf("ran %d container pipelines, expected %d", ran, len(expect))
	}
}

var taskLine = regexp.MustCompile(`(?m)^\d+\. (\S+)$`)

// TestDryRunSharedPipelines prints every shared pipeline's graph, Python
// components included, and checks the order and the resolved commands.
func TestDryRunSharedPipelines(t *testing.T) {
	dir := sharedKFP(t)
	cases := map[string]struct {
		params   []string
		order    []string
		contains []string
	}{
		"arguments_parameters.yaml":           {nil, []string{"echo"}, []string{"command: echo 'hello-{{param2}}'"}},
		"container_io.yaml":                   {[]string{"text=t"}, []string{"container-io"}, []string{"command: my_program t --output_path /"}},
		"container_with_artifact_output.yaml": {nil, []string{"container-with-artifact-output"}, []string{"command: sh run.sh --epochs '{{num_epochs}}' --model_path /", "--model_metadata '{}' --model_config_path /"}},
		"container_with_if_placeholder.yaml":  {nil, []string{"container-with-if-placeholder"}, []string{"command: my_program default --dataset /", "/outputs/artifacts/dataset --output_path"}},
		"critical_add_numbers.yaml":           {[]string{"a=1", "b=2"}, []string{"add-numbers"}, []string{`"parameterValues":{"a":1,"b":2}`, "--function_to_execute add_numbers"}},
		"critical_collected_parameters.yaml": {nil, []string{"collecting-parameters/split-ids", "collecting-parameters/for-loop-1[0]/prepend-id", "collecting-parameters/for-loop-1[0]/consume-single-id", "collecting-parameters/consume-ids", "consume-ids"},
			[]string{`"parameterValues":{"ids":"s1,s2,s3"}`, "ParallelFor over 1 item(s)"}},
		"critical_container_component_with_no_inputs.yaml": {nil, []string{"hello-world-container"}, []string{"command: echo 'hello world'"}},
		"critical_flip_coin.yaml": {nil, []string{"flip-coin", "condition-1/random-num", "condition-4/random-num-2", "condition-1/condition-2/print-msg", "condition-1/condition-3/print-msg-2", "condition-4/condition-5/print-msg-3", "condition-4/condition-6/print-msg-4"},
			[]string{`"parameterValues":{"high":9,"low":0}`, "condition-1: runs when inputs.parameter_values['pipelinechannel--flip-coin-Output'] == 'heads'", `"msg":"heads and {{condition-1/random-num.Output}} > 5!"`}},
		"critical_parameters_simple.yaml": {nil, []string{"for-loop-2[0]/double", "for-loop-2[1]/double", "for-loop-2[2]/double", "add", "add-container"},
			[]string{`"parameterValues":{"num":3}`, `"nums":["{{for-loop-2[0]/double.Output}}","{{for-loop-2[1]/double.Output}}","{{for-loop-2[2]/double.Output}}"]`}},
		"critical_pipeline_with_retry.yaml":              {nil, []string{"add"}, []string{"retries: 3", `"parameterValues":{"a":1,"b":7}`}},
		"critical_producer_consumer_param_pipeline.yaml": {nil, []string{"producer", "consumer"}, []string{"'Hello world' /", "{{producer.output_value}}"}},
		"critical_two_step_pipeline_containerized.yaml":  {nil, []string{"component1", "component2"}, []string{"component2/inputs/artifacts/input_gcs/0"}},
		"essential_pipeline_with_after.yaml":             {nil, []string{"print-text", "print-text-2", "print-text-3"}, []string{"'3rd task'"}},
		"hello_world.yaml":                               {nil, []string{"echo"}, []string{"command: echo 'hello world'"}},
		"local_execution_local_execution_pipeline_with_exit_handler.yaml": {nil, []string{"exit-handler-1/echo", "record-exit"},
			[]string{`"status":{"pipelineJobResourceName":"dry","pipelineTaskName":"exit-handler-1","state":"SUCCEEDED"}`, "exit handler: runs whatever its upstream did"}},
		"parallel_and_nested_pipeline_in_pipeline.yaml": {nil, []string{"print-op1", "inner-pipeline/print-op1", "inner-pipeline/print-op2"}, []string{"command: echo '{{inner-pipeline/print-op1.Output}}'"}},
		"parallel_and_nested_pipeline_with_loops.yaml": {nil, []string{"args-generator-op", "for-loop-1[0]/print-text", "for-loop-1[1]/print-text",
			"for-loop-4[0]/print-struct-2", "for-loop-4[0]/print-text-4", "for-loop-4[0]/print-text-5", "for-loop-4[1]/print-struct-2", "for-loop-4[1]/print-text-4", "for-loop-4[1]/print-text-5",
			"for-loop-2[0]/print-struct", "for-loop-2[0]/print-text-2", "for-loop-2[0]/print-text-3"},
			[]string{`"parameterValues":{"msg":"10"}`, `"parameterValues":{"struct":{"A_a":"1","B_b":"2"}}`, `"parameterValues":{"msg":"a"}`}},
		"sequential_v2.yaml": {[]string{"url=gs://bucket/file"}, []string{"download", "echo"}, []string{"'gsutil cp gs://bucket/file /", "'echo {{download.downloaded}}'"}},
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if len(files) != len(cases) {
		t.Errorf("%d shared pipelines, %d cases", len(files), len(cases))
	}
	for _, f := range files {
		name := filepath.Base(f)
		t.Run(name, func(t *testing.T) {
			c, ok := cases[name]
			if !ok {
				t.Fatalf("no expectation for %s", name)
			}
			args := []string{"run", f, "--dry-run", "--output-dir", t.TempDir(), "--run-id", "dry"}
			for _, p := range c.params {
				args = append(args, "--param", p)
			}
			code, out := runCLI(t, args...)
			if code != 0 {
				t.Fatalf("exit %d:\n%s", code, out)
			}
			var order []string
			for _, m := range taskLine.FindAllStringSubmatch(out, -1) {
				order = append(order, m[1])
			}
			if strings.Join(order, ",") != strings.Join(c.order, ",") {
				t.Errorf("order %v, want %v", order, c.order)
			}
			for _, s := range c.contains {
				if !strings.Contains(out, s) {
					t.Errorf("output lacks %q:\n%s", s, out)
				}
			}
			if strings.Contains(out, "{{$") {
				t.Errorf("an unresolved placeholder is left:\n%s", out)
			}
		})
	}
}
