package pipeline

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func fixture(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestMalformedPipelines mutates valid fixtures one way each and checks
// that validation names the task (or component) and field at fault.
func TestMalformedPipelines(t *testing.T) {
	const lnc, art, eh = "loops_nested_condition.yaml", "artifacts.yaml", "exit_handler.yaml"
	cases := []struct {
		name      string
		file      string
		old, new  string
		task      string // "" when the problem is outside any task
		component string // checked when set
		field     string // prefix of FieldError.Field
		msg       string
		wantLine  bool
	}{
		{"unknown component", lnc, "componentRef: {name: comp-stats}", "componentRef: {name: comp-statz}", "stats", "", "componentRef.name", `unknown component "comp-statz"`, true},
		{"unknown dependency", lnc, "dependentTasks: [make-list]", "dependentTasks: [make-lst]", "for-loop-1", "", "dependentTasks[0]", `unknown task "make-lst"`, true},
		{"cycle", lnc, "        componentRef: {name: comp-make-list}\n", "        componentRef: {name: comp-make-list}\n        dependentTasks: [stats]\n", "stats", "", "dependentTasks", "dependency cycle: stats -> for-loop-1 -> make-list -> stats", true},
		{"missing required input", art, "        inputs:\n          parameters:\n            rows: {componentInputParameter: rows}\n", "", "produce", "", `inputs.parameters["rows"]`, `required input parameter "rows"`, true},
		{"undeclared input", lnc, "              nums: {componentInputParameter: nums}", "              numz: {componentInputParameter: nums}", "sum", "comp-stats", `inputs.parameters["numz"]`, `has no input parameter "numz"`, true},
		{"unknown DAG input", lnc, "nums: {componentInputParameter: nums}", "nums: {componentInputParameter: numbers}", "sum", "comp-stats", `inputs.parameters["nums"]`, `no input parameter "numbers"`, true},
		{"unknown output key", lnc, "{producerTask: make-list, outputParameterKey: items}", "{producerTask: make-list, outputParameterKey: itemz}", "for-loop-1", "", `inputs.parameters["pipelinechannel--make-list-items"]`, `has no output parameter "itemz"`, true},
		{"unknown producer", lnc, "{producerTask: make-list, outputParameterKey: items}", "{producerTask: make-lis, outputParameterKey: items}", "for-loop-1", "", `inputs.parameters["pipelinechannel--make-list-items"]`, `unknown task "make-lis"`, true},
		{"parameter type mismatch", art, "        count: {parameterType: NUMBER_INTEGER}", "        count: {parameterType: STRING}", "consume", "", `inputs.parameters["count"]`, "type mismatch: STRING value for a NUMBER_INTEGER input", true},
		{"constant type mismatch", art, "label: {componentInputParameter: label}", "label: {runtimeValue: {constant: 5}}", "consume", "", `inputs.parameters["label"]`, "constant does not match type STRING", true},
		{"two sources", art, "rows: {componentInputParameter: rows}", "rows: {componentInputParameter: rows, runtimeValue: {constant: 3}}", "produce", "", `inputs.parameters["rows"]`, "exactly one of", true},
		{"artifact type mismatch", art, "artifactType: {schemaTitle: system.Dataset, schemaVersion: 0.0.1}", "artifactType: {schemaTitle: system.Model, schemaVersion: 0.0.1}", "consume", "", `inputs.artifacts["data"]`, "type mismatch: system.Model artifact for a system.Dataset input", true},
		{"unknown output artifact", art, "{producerTask: produce, outputArtifactKey: data}", "{producerTask: produce, outputArtifactKey: dataz}", "consume", "", `inputs.artifacts["data"]`, `no output artifact "dataz"`, true},
		{"CEL syntax", lnc, "int(inputs.parameter_values['pipelinechannel--stats-total']) > 10", "int(inputs.parameter_values[ > 10", "condition-2", "", "triggerPolicy.condition", "compiling CEL condition", true},
		{"CEL not bool", lnc, "int(inputs.parameter_values['pipelinechannel--stats-total']) > 10", "1 + 2", "condition-2", "", "triggerPolicy.condition", "must be a bool", true},
		{"CEL undeclared", lnc, "int(inputs.parameter_values['pipelinechannel--stats-total']) > 10", "outputs.total > 10", "condition-2", "", "triggerPolicy.condition", "undeclared reference to 'outputs'", true},
		{"bad strategy", eh, "strategy: ALL_UPSTREAM_TASKS_COMPLETED", "strategy: SOMETIMES", "cleanup", "", "triggerPolicy.strategy", `unknown trigger strategy "SOMETIMES"`, true},
		{"final status outside exit handler", eh, "        triggerPolicy: {strategy: ALL_UPSTREAM_TASKS_COMPLETED}\n", "", "cleanup", "", `inputs.parameters["status"]`, "only a task with triggerPolicy.strategy", true},
		{"unknown placeholder", art, "\"{{$.inputs.artifacts['data'].path}}\"", "\"{{$.inputs.artifact['data'].path}}\"", "consume", "", "container.args[1]", "unknown placeholder {{$.inputs.artifact['data'].path}}", true},
		{"placeholder names undeclared input", art, "\"{{$.inputs.parameters['rows']}}\"", "\"{{$.inputs.parameters['nrows']}}\"", "produce", "", "container.command[5]", `no input parameter "nrows"`, true},
		{"output parameter attribute", art, "{{$.outputs.parameters['summary'].output_file}}", "{{$.outputs.parameters['summary'].path}}", "consume", "", "container.args[2]", "referenced only by .output_file", true},
		{"IfPresent unknown input", art, `"InputName": "label"`, `"InputName": "labl"`, "consume", "", "container.args[0]", `IfPresent refers to "labl"`, true},
		{"malformed Concat", art, `{"Concat": ["label=", `, `{"Concat": [["label="], `, "consume", "", "container.args[0]", "unexpected placeholder element", true},
		{"unterminated placeholder", art, "\"{{$.inputs.artifacts['data'].metadata}}\"", "\"{{$.inputs.artifacts['data'].metadata}\"", "consume", "", "container.args[5]", "malformed placeholder", true},
		{"unknown executor", lnc, "executorLabel: exec-sum", "executorLabel: exec-summ", "sum", "comp-stats", "executorLabel", `unknown executor "exec-summ"`, true},
		{"missing image", lnc, "        image: alpine\n        command: [sh, -c, 'mkdir", "        image: \"\"\n        command: [sh, -c, 'mkdir", "make-list", "", "container.image", "has no image", true},
		{"loop items input", lnc, "items: {inputParameter: pipelinechannel--make-list-items}", "items: {inputParameter: nope}", "for-loop-1", "", "parameterIterator.items.inputParameter", `binds no input parameter "nope"`, true},
		{"loop item input undeclared", lnc, "itemInput: pipelinechannel--make-list-items-loop-item", "itemInput: item", "for-loop-1", "", "parameterIterator.itemInput", `declares no input "item"`, true},
		{"negative parallelism", lnc, "parallelismLimit: 2", "parallelismLimit: -1", "for-loop-1", "", "iteratorPolicy.parallelismLimit", "must not be negative", true},
		{"bad backoff", art, "backoffDuration: 0s", "backoffDuration: soon", "produce", "", "retryPolicy.backoffDuration", `invalid duration "soon"`, true},
		{"negative retries", art, "maxRetryCount: 2", "maxRetryCount: -2", "produce", "", "retryPolicy.maxRetryCount", "must not be negative", true},
		{"DAG output producer", lnc, "valueFromParameter: {producerSubtask: sum, outputParameterKey: total}", "valueFromParameter: {producerSubtask: summ, outputParameterKey: total}", "", "comp-stats", `dag.outputs.parameters["total"]`, `unknown producer task "summ"`, true},
		{"unknown parameter type", lnc, "n: {parameterType: NUMBER_INTEGER}", "n: {parameterType: NUMBER}", "make-list", "", `inputDefinitions.parameters["n"]`, `unknown parameter type "NUMBER"`, true},
		{"default of wrong type", lnc, "defaultValue: 3,", "defaultValue: three,", "", "", `inputDefinitions.parameters["n"].defaultValue`, "default does not match type NUMBER_INTEGER", true},
		{"YAML syntax", lnc, "  comp-square:\n", "  comp-square: [\n", "", "", "document", "parsing YAML", true},
		{"YAML type", lnc, "parallelismLimit: 2", "parallelismLimit: two", "", "", "document", "cannot unmarshal", true},
	}
	if len(cases) < 30 {
		t.Fatalf("only %d cases", len(cases))
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			src := fixture(t, tc.file)
			if !strings.Contains(src, tc.old) {
				t.Fatalf("fixture %s lacks %q", tc.file, tc.old)
			}
			_, err := Load([]byte(strings.Replace(src, tc.old, tc.new, 1)))
			if err == nil {
				t.Fatal("pipeline accepted")
			}
			var found *FieldError
			for _, fe := range AsErrorList(err) {
				if fe.Task == tc.task && strings.HasPrefix(fe.Field, tc.field) && strings.Contains(fe.Err.Error(), tc.msg) && (tc.component == "" || fe.Component == tc.component) {
					found = fe
					break
				}
			}
			if found == nil {
				t.Fatalf("no error for task %q field %q containing %q; got:\n%v", tc.task, tc.field, tc.msg, err)
			}
			if tc.wantLine && found.Line == 0 {
				t.Errorf("error has no line: %v", found)
			}
			if tc.task != "" && !strings.Contains(found.Error(), `task "`+tc.task+`"`) {
				t.Errorf("message %q does not name the task", found.Error())
			}
		})
	}
}

func TestMalformedNativeDAGs(t *testing.T) {
	base := func() *NativeDAG {
		return &NativeDAG{
			Name:       "train",
			Parameters: map[string]NativeParameter{"lr": {Type: "float", Default: 0.1}},
			Tasks: []NativeTask{
				{Name: "prep", Image: "python:3.12", Command: []string{"sh", "-c", "echo 1 > {{$.outputs.parameters['rows'].output_file}}"},
					Outputs: NativeOutputs{Parameters: map[string]string{"rows": "int"}, Artifacts: map[string]string{"data": "system.Dataset"}}},
				{Name: "train", Image: "python:3.12", Command: []string{"python", "train.py", "--lr", "{{$.inputs.parameters['lr']}}", "--data", "{{$.inputs.artifacts['data'].path}}"},
					Inputs: NativeInputs{
						Parameters: map[string]NativeValue{"lr": {Parameter: "lr"}, "rows": {Task: "prep", Output: "rows"}},
						Artifacts:  map[string]NativeOutputRef{"data": {Task: "prep", Output: "data"}},
					},
					DependsOn: []string{"prep"}, When: "inputs.parameter_values['rows'] > 0", Retries: 2, RetryBackoff: "5s", Timeout: "1h",
					Resources: NativeResources{CPU: "4", Memory: "16Gi", GPU: 1}, NodeSelector: map[string]string{"pool": "gpu"},
					Tolerations: []Toleration{{Key: "nvidia.com/gpu", Operator: "Exists", Effect: "NoSchedule"}}},
			},
		}
	}
	if p, err := CompileNative(base()); err != nil {
		t.Fatalf("base DAG rejected: %v", err)
	} else if tr := p.Root.DAG.Task("train"); tr.Timeout.String() != "1h0m0s" || tr.Placement.AcceleratorType != "nvidia.com/gpu" || tr.Placement.NodeSelector["pool"] != "gpu" || tr.Retry.MaxRetries != 2 {
		t.Errorf("train compiled to %+v", tr)
	}
	cases := []struct {
		name   string
		mutate func(d *NativeDAG)
		task   string
		field  string
		msg    string
	}{
		{"no image", func(d *NativeDAG) { d.Tasks[1].Image = "" }, "train", "image", "needs an image"},
		{"bad when", func(d *NativeDAG) { d.Tasks[1].When = "rows >" }, "train", "when", "compiling CEL"},
		{"unknown dependency", func(d *NativeDAG) { d.Tasks[1].DependsOn = []string{"prepp"} }, "train", "dependsOn[0]", `unknown task "prepp"`},
		{"unknown producer output", func(d *NativeDAG) {
			d.Tasks[1].Inputs.Parameters["rows"] = NativeValue{Task: "prep", Output: "cols"}
		}, "train", `inputs.parameters["rows"]`, `no output parameter "cols"`},
		{"unknown pipeline parameter", func(d *NativeDAG) { d.Tasks[1].Inputs.Parameters["lr"] = NativeValue{Parameter: "rate"} }, "train", `inputs.parameters["lr"]`, `no input parameter "rate"`},
		{"two sources", func(d *NativeDAG) { d.Tasks[1].Inputs.Parameters["lr"] = NativeValue{Parameter: "lr", Value: 0.2} }, "train", `inputs.parameters["lr"]`, "exactly one"},
		{"bad timeout", func(d *NativeDAG) { d.Tasks[1].Timeout = "forever" }, "train", "timeout", "invalid duration"},
		{"bad toleration", func(d *NativeDAG) { d.Tasks[1].Tolerations[0].Operator = "Maybe" }, "train", "tolerations[0].operator", "Equal or Exists"},
		{"duplicate task", func(d *NativeDAG) { d.Tasks[1].Name = "prep" }, "prep", "name", "duplicate"},
		{"bad quantity", func(d *NativeDAG) { d.Tasks[1].Resources.CPU = "lots" }, "train", "resources.cpu", "invalid quantity"},
		{"cycle", func(d *NativeDAG) { d.Tasks[0].DependsOn = []string{"train"} }, "prep", "dependsOn", "dependency cycle"},
		{"placeholder names undeclared input", func(d *NativeDAG) { d.Tasks[1].Args = []string{"{{$.inputs.parameters['epochs']}}"} }, "train", "args[0]", `no input parameter "epochs"`},
		{"bad retry backoff", func(d *NativeDAG) { d.Tasks[1].RetryBackoff = "-1s" }, "train", "retryBackoff", "invalid duration"},
		{"bad type", func(d *NativeDAG) { d.Tasks[0].Outputs.Parameters["rows"] = "integer64" }, "prep", `outputs.parameters["rows"]`, "unknown type"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := base()
			tc.mutate(d)
			_, err := CompileNative(d)
			if err == nil {
				t.Fatal("DAG accepted")
			}
			for _, fe := range AsErrorList(err) {
				if fe.Task == tc.task && strings.HasPrefix(fe.Field, tc.field) && strings.Contains(fe.Err.Error(), tc.msg) {
					return
				}
			}
			t.Fatalf("no error for task %q field %q containing %q; got:\n%v", tc.task, tc.field, tc.msg, err)
		})
	}
}

func TestBadRunParameters(t *testing.T) {
	plan, err := Load([]byte(fixture(t, "loops_nested_condition.yaml")))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		given map[string]any
		field string
		msg   string
	}{
		{map[string]any{"x": "1"}, `parameters["x"]`, `no parameter "x"`},
		{map[string]any{"n": "three"}, `parameters["n"]`, "expected an integer"},
		{map[string]any{"n": "2.5"}, `parameters["n"]`, "expected an integer"},
	} {
		_, err := plan.BindParameters(tc.given)
		l := AsErrorList(err)
		if len(l) != 1 || l[0].Field != tc.field || !strings.Contains(l[0].Error(), tc.msg) {
			t.Errorf("%v: got %v, want %s: %s", tc.given, err, tc.field, tc.msg)
		}
	}
	native, err := CompileNative(&NativeDAG{Name: "p", Parameters: map[string]NativeParameter{"data": {Type: "string"}},
		Tasks: []NativeTask{{Name: "a", Image: "x", Command: []string{"true"}}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := native.BindParameters(nil); err == nil || !strings.Contains(err.Error(), `parameters["data"]: required STRING parameter is not set`) {
		t.Errorf("missing required parameter: %v", err)
	}
}

func TestNativeYAMLErrorsHaveLines(t *testing.T) {
	src := `name: lines
tasks:
- name: prep
  image: busybox
  command: [echo]
- name: train
  image: busybox
  command: [echo, "{{$.inputs.parameters['lr']}}"]
  dependsOn: [prepp]
  when: "inputs.parameter_values['lr'] >"
`
	_, err := LoadAny([]byte(src))
	want := map[string]int{"dependsOn[0]": 9, "when": 10, "command[1]": 8}
	for _, fe := range AsErrorList(err) {
		if line, ok := want[fe.Field]; ok && fe.Task == "train" {
			if fe.Line != line {
				t.Errorf("%s: line %d, want %d", fe, fe.Line, line)
			}
			delete(want, fe.Field)
		}
	}
	if len(want) > 0 {
		t.Errorf("missing errors for %v in:\n%v", want, err)
	}
	// A misspelt field is an error, not silently ignored.
	_, err = LoadAny([]byte(strings.Replace(src, "dependsOn:", "dependOn:", 1)))
	if l := AsErrorList(err); len(l) != 1 || l[0].Line != 9 || !strings.Contains(l[0].Error(), "field dependOn not found") {
		t.Errorf("unknown field: %v", err)
	}
}
