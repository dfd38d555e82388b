package pipeline

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"
)

// NativeDAG is the pipeline form that the HCL `kubeflow_pipeline` block
// holds: a flat list of container tasks. Commands use the same `{{$...}}`
// placeholders as KFP components, so a task written natively and one
// compiled by the KFP SDK run through the same launcher.
type NativeDAG struct {
	// Name is the pipeline name.
	Name string `json:"name" yaml:"name"`
	// Description is free text.
	Description string `json:"description,omitempty" yaml:"description"`
	// Parameters are the pipeline's run parameters.
	Parameters map[string]NativeParameter `json:"parameters,omitempty" yaml:"parameters"`
	// Tasks are the steps.
	Tasks []NativeTask `json:"tasks" yaml:"tasks"`
	// Outputs maps pipeline output names to task outputs.
	Outputs map[string]NativeOutputRef `json:"outputs,omitempty" yaml:"outputs"`
}

// NativeParameter declares a run parameter.
type NativeParameter struct {
	// Type is string, int, float, bool, list or struct (default string).
	Type string `json:"type,omitempty" yaml:"type"`
	// Default is used when the run does not set the parameter.
	Default any `json:"default,omitempty" yaml:"default"`
	// Optional lets the parameter stay unset.
	Optional bool `json:"optional,omitempty" yaml:"optional"`
}

// NativeTask is one container step.
type NativeTask struct {
	// Name is unique in the DAG.
	Name string `json:"name" yaml:"name"`
	// Image is the container image.
	Image string `json:"image" yaml:"image"`
	// Command is the entrypoint, with placeholders.
	Command []string `json:"command,omitempty" yaml:"command"`
	// Args are the arguments, with placeholders.
	Args []string `json:"args,omitempty" yaml:"args"`
	// Env sets environment variables (values may hold placeholders).
	Env map[string]string `json:"env,omitempty" yaml:"env"`
	// Resources requests CPU, memory and accelerators.
	Resources NativeResources `json:"resources,omitempty" yaml:"resources"`
	// NodeSelector restricts the nodes.
	NodeSelector map[string]string `json:"nodeSelector,omitempty" yaml:"nodeSelector"`
	// Tolerations allow tainted nodes.
	Tolerations []Toleration `json:"tolerations,omitempty" yaml:"tolerations"`
	// Inputs binds input parameters and artifacts.
	Inputs NativeInputs `json:"inputs,omitempty" yaml:"inputs"`
	// Outputs declares output parameters (written to files) and artifacts
	// (written to paths).
	Outputs NativeOutputs `json:"outputs,omitempty" yaml:"outputs"`
	// DependsOn lists tasks that must finish first.
	DependsOn []string `json:"dependsOn,omitempty" yaml:"dependsOn"`
	// When is a CEL condition over `inputs.parameter_values`; false skips the task.
	When string `json:"when,omitempty" yaml:"when"`
	// Retries is the number of retries after a failed attempt.
	Retries int `json:"retries,omitempty" yaml:"retries"`
	// RetryBackoff is the delay before the first retry ("10s").
	RetryBackoff string `json:"retryBackoff,omitempty" yaml:"retryBackoff"`
	// RetryBackoffFactor multiplies the delay for each later retry.
	RetryBackoffFactor float64 `json:"retryBackoffFactor,omitempty" yaml:"retryBackoffFactor"`
	// RetryMaxBackoff caps the delay.
	RetryMaxBackoff string `json:"retryMaxBackoff,omitempty" yaml:"retryMaxBackoff"`
	// Timeout bounds one attempt ("30m").
	Timeout string `json:"timeout,omitempty" yaml:"timeout"`
	// Cache reuses a previous result with the same inputs.
	Cache bool `json:"cache,omitempty" yaml:"cache"`
	// RunOnFailure makes the task an exit handler: it runs when its
	// upstream tasks are done, whatever their outcome.
	RunOnFailure bool `json:"runOnFailure,omitempty" yaml:"runOnFailure"`

	timeout   time.Duration
	placement Placement
}

// NativeResources requests resources for a task.
type NativeResources struct {
	// CPU is a quantity ("2", "500m").
	CPU string `json:"cpu,omitempty" yaml:"cpu"`
	// Memory is a quantity ("4Gi").
	Memory string `json:"memory,omitempty" yaml:"memory"`
	// GPU is the number of GPUs.
	GPU int `json:"gpu,omitempty" yaml:"gpu"`
	// GPUType is the GPU resource name (default nvidia.com/gpu).
	GPUType string `json:"gpuType,omitempty" yaml:"gpuType"`
	// TPU is the number of TPU chips.
	TPU int `json:"tpu,omitempty" yaml:"tpu"`
	// TPUType is the TPU resource name (default google.com/tpu).
	TPUType string `json:"tpuType,omitempty" yaml:"tpuType"`
}

// NativeInputs binds a task's inputs.
type NativeInputs struct {
	// Parameters maps input names to bindings.
	Parameters map[string]NativeValue `json:"parameters,omitempty" yaml:"parameters"`
	// Artifacts maps input names to producing task outputs.
	Artifacts map[string]NativeOutputRef `json:"artifacts,omitempty" yaml:"artifacts"`
}

// NativeValue is a literal, a pipeline parameter or a task output;
// exactly one is set.
type NativeValue struct {
	// Value is a literal.
	Value any `json:"value,omitempty" yaml:"value"`
	// Parameter names a pipeline parameter.
	Parameter string `json:"parameter,omitempty" yaml:"parameter"`
	// Task and Output name another task's output parameter.
	Task string `json:"task,omitempty" yaml:"task"`
	// Output is the producing task's output parameter.
	Output string `json:"output,omitempty" yaml:"output"`
	// Type declares the input's type (default: the source's type, or string).
	Type string `json:"type,omitempty" yaml:"type"`
}

// NativeOutputRef names a task's output.
type NativeOutputRef struct {
	// Task is the producing task.
	Task string `json:"task" yaml:"task"`
	// Output is its output name.
	Output string `json:"output" yaml:"output"`
}

// NativeOutputs declares a task's outputs.
type NativeOutputs struct {
	// Parameters maps output parameter names to types (string, int, ...).
	Parameters map[string]string `json:"parameters,omitempty" yaml:"parameters"`
	// Artifacts maps output artifact names to schema titles (default system.Artifact).
	Artifacts map[string]string `json:"artifacts,omitempty" yaml:"artifacts"`
}

var nativeTypes = map[string]ParameterType{
	"": TypeString, "string": TypeString, "str": TypeString,
	"int": TypeInteger, "integer": TypeInteger, "float": TypeDouble, "double": TypeDouble, "number": TypeDouble,
	"bool": TypeBoolean, "boolean": TypeBoolean, "list": TypeList, "struct": TypeStruct, "map": TypeStruct,
}

var taskNameRE = regexp.MustCompile(`^[a-z0-9]([-a-z0-9_]*[a-z0-9])?$`)
var quantityRE = regexp.MustCompile(`^([0-9]+(\.[0-9]+)?)(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$`)

// CompileNative validates a native DAG and compiles it into a Plan. Errors
// name the task and the native field (when, dependsOn, inputs...).
func CompileNative(n *NativeDAG) (*Plan, error) {
	sink := &errorSink{}
	add := func(task, field, format string, args ...any) {
		sink.errs = append(sink.errs, &FieldError{Task: task, Field: field, Err: fmt.Errorf(format, args...)})
	}
	spec := &Spec{
		Info:           Info{Name: n.Name, Description: n.Description},
		DeploymentSpec: DeploymentSpec{Executors: map[string]*ExecutorSpec{}},
		Components:     map[string]*ComponentSpec{},
		Root:           &ComponentSpec{DAG: &DAGSpec{Tasks: map[string]*TaskSpec{}}, InputDefinitions: &InterfaceDefinitions{Parameters: map[string]*ParameterSpec{}}},
		SchemaVersion:  "2.1.0",
	}
	if n.Name == "" {
		add("", "name", "a pipeline needs a name")
	}
	for _, name := range sortedKeys(n.Parameters) {
		p := n.Parameters[name]
		t, ok := nativeTypes[p.Type]
		if !ok {
			add("", fmt.Sprintf("parameters[%q].type", name), "unknown type %q", p.Type)
			continue
		}
		spec.Root.InputDefinitions.Parameters[name] = &ParameterSpec{ParameterType: t, DefaultValue: p.Default, IsOptional: p.Optional}
	}
	extras := map[string]*NativeTask{}
	outTypes := map[string]map[string]ParameterType{}
	for i := range n.Tasks {
		t := &n.Tasks[i]
		if !taskNameRE.MatchString(t.Name) {
			add(t.Name, fmt.Sprintf("tasks[%d].name", i), "task name %q must be lower-case letters, digits, '-' or '_'", t.Name)
			continue
		}
		if extras[t.Name] != nil {
			add(t.Name, "name", "duplicate task name")
			continue
		}
		extras[t.Name] = t
		outTypes[t.Name] = map[string]ParameterType{}
		for o, ty := range t.Outputs.Parameters {
			pt, ok := nativeTypes[ty]
			if !ok {
				add(t.Name, fmt.Sprintf("outputs.parameters[%q]", o), "unknown type %q", ty)
			}
			outTypes[t.Name][o] = pt
		}
	}
	for i := range n.Tasks {
		t := &n.Tasks[i]
		if extras[t.Name] != t {
			continue
		}
		comp, task := nativeTask(t, spec, outTypes, func(field, format string, args ...any) { add(t.Name, field, format, args...) })
		if comp == nil {
			continue
		}
		spec.Components["comp-"+t.Name] = comp
		spec.Root.DAG.Tasks[t.Name] = task
	}
	for _, name := range sortedKeys(n.Outputs) {
		o := n.Outputs[name]
		if spec.Root.DAG.Outputs == nil {
			spec.Root.DAG.Outputs = &DAGOutputsSpec{Parameters: map[string]*DAGOutputParameterSpec{}, Artifacts: map[string]*DAGOutputArtifactSpec{}}
			spec.Root.OutputDefinitions = &InterfaceDefinitions{Parameters: map[string]*ParameterSpec{}, Artifacts: map[string]*ArtifactSpec{}}
		}
		producer := extras[o.Task]
		switch {
		case producer == nil:
			add("", fmt.Sprintf("outputs[%q].task", name), "unknown task %q", o.Task)
		case producer.Outputs.Parameters[o.Output] != "" || hasKey(producer.Outputs.Parameters, o.Output):
			spec.Root.DAG.Outputs.Parameters[name] = &DAGOutputParameterSpec{ValueFromParameter: &OutputSelector{ProducerSubtask: o.Task, OutputParameterKey: o.Output}}
			spec.Root.OutputDefinitions.Parameters[name] = &ParameterSpec{ParameterType: outTypes[o.Task][o.Output]}
		case hasKey(producer.Outputs.Artifacts, o.Output):
			spec.Root.DAG.Outputs.Artifacts[name] = &DAGOutputArtifactSpec{ArtifactSelectors: []*ArtifactSelector{{ProducerSubtask: o.Task, OutputArtifactKey: o.Output}}}
			spec.Root.OutputDefinitions.Artifacts[name] = &ArtifactSpec{ArtifactType: ArtifactType{SchemaTitle: schemaOr(producer.Outputs.Artifacts[o.Output]), SchemaVersion: "0.0.1"}}
		default:
			add("", fmt.Sprintf("outputs[%q].output", name), "task %q has no output %q", o.Task, o.Output)
		}
	}
	if len(n.Tasks) == 0 {
		add("", "tasks", "a pipeline needs at least one task")
	}
	if err := sink.err(); err != nil {
		return nil, err
	}
	c := &compiler{spec: spec, sink: &errorSink{}, plan: &Plan{Components: map[string]*Component{}}, native: extras}
	plan, err := c.compile()
	if err != nil {
		return nil, nativeErrors(AsErrorList(err))
	}
	return plan, nil
}

func hasKey(m map[string]string, k string) bool {
	_, ok := m[k]
	return ok
}

func schemaOr(s string) string {
	if s == "" {
		return "system.Artifact"
	}
	return s
}

func nativeTask(t *NativeTask, spec *Spec, outTypes map[string]map[string]ParameterType, add func(field, format string, args ...any)) (*ComponentSpec, *TaskSpec) {
	if t.Image == "" {
		add("image", "a task needs an image")
	}
	if t.Timeout != "" {
		d, err := time.ParseDuration(t.Timeout)
		if err != nil || d <= 0 {
			add("timeout", "invalid duration %q", t.Timeout)
		}
		t.timeout = d
	}
	r := t.Resources
	for field, q := range map[string]string{"resources.cpu": r.CPU, "resources.memory": r.Memory} {
		if q != "" && !quantityRE.MatchString(q) {
			add(field, "invalid quantity %q", q)
		}
	}
	if r.GPU < 0 || r.TPU < 0 {
		add("resources", "accelerator counts must not be negative")
	}
	if r.GPU > 0 && r.TPU > 0 {
		add("resources", "a task requests GPUs or TPUs, not both")
	}
	t.placement = Placement{NodeSelector: t.NodeSelector, Tolerations: t.Tolerations, CPU: r.CPU, Memory: r.Memory}
	switch {
	case r.GPU > 0:
		t.placement.AcceleratorType, t.placement.AcceleratorCount = orDefault(r.GPUType, "nvidia.com/gpu"), r.GPU
	case r.TPU > 0:
		t.placement.AcceleratorType, t.placement.AcceleratorCount = orDefault(r.TPUType, "google.com/tpu"), r.TPU
	}
	for i, tol := range t.Tolerations {
		switch tol.Operator {
		case "", "Equal", "Exists":
		default:
			add(fmt.Sprintf("tolerations[%d].operator", i), "operator must be Equal or Exists, is %q", tol.Operator)
		}
		switch tol.Effect {
		case "", "NoSchedule", "PreferNoSchedule", "NoExecute":
		default:
			add(fmt.Sprintf("tolerations[%d].effect", i), "unknown effect %q", tol.Effect)
		}
	}
	label := "exec-" + t.Name
	container := &ContainerSpec{Image: t.Image, Command: t.Command, Args: t.Args}
	for _, k := range sortedKeys(t.Env) {
		container.Env = append(container.Env, EnvVar{Name: k, Value: t.Env[k]})
	}
	spec.DeploymentSpec.Executors[label] = &ExecutorSpec{Container: container}
	comp := &ComponentSpec{
		ExecutorLabel:     label,
		InputDefinitions:  &InterfaceDefinitions{Parameters: map[string]*ParameterSpec{}, Artifacts: map[string]*ArtifactSpec{}},
		OutputDefinitions: &InterfaceDefinitions{Parameters: map[string]*ParameterSpec{}, Artifacts: map[string]*ArtifactSpec{}},
	}
	task := &TaskSpec{
		TaskInfo:       TaskInfo{Name: t.Name},
		ComponentRef:   ComponentRef{Name: "comp-" + t.Name},
		Inputs:         &TaskInputsSpec{Parameters: map[string]*InputParameterSpec{}, Artifacts: map[string]*InputArtifactSpec{}},
		DependentTasks: append([]string(nil), t.DependsOn...),
		CachingOptions: &CachingOptions{EnableCache: t.Cache},
	}
	sort.Strings(task.DependentTasks)
	if t.When != "" || t.RunOnFailure {
		task.TriggerPolicy = &TriggerPolicy{Condition: t.When}
		if t.RunOnFailure {
			task.TriggerPolicy.Strategy = StrategyAllUpstreamCompleted
		}
	}
	if t.Retries != 0 || t.RetryBackoff != "" {
		task.RetryPolicy = &RetryPolicy{MaxRetryCount: t.Retries, BackoffDuration: t.RetryBackoff, BackoffFactor: t.RetryBackoffFactor, BackoffMaxDuration: t.RetryMaxBackoff}
	}
	for _, name := range sortedKeys(t.Inputs.Parameters) {
		v := t.Inputs.Parameters[name]
		field := fmt.Sprintf("inputs.parameters[%q]", name)
		b := &InputParameterSpec{}
		var src ParameterType
		n := 0
		if v.Value != nil {
			n++
			b.RuntimeValue = &RuntimeValue{Constant: NormalizeValue(v.Value)}
		}
		if v.Parameter != "" {
			n++
			b.ComponentInputParameter = v.Parameter
			if p := spec.Root.InputDefinitions.Parameters[v.Parameter]; p != nil {
				src = p.ParameterType
			}
		}
		if v.Task != "" || v.Output != "" {
			n++
			b.TaskOutputParameter = &TaskOutputParameterSpec{ProducerTask: v.Task, OutputParameterKey: v.Output}
			src = outTypes[v.Task][v.Output]
		}
		if n != 1 {
			add(field, "set exactly one of value, parameter, or task and output; found %d", n)
			continue
		}
		pt := src
		if v.Type != "" || pt == "" {
			var ok bool
			if pt, ok = nativeTypes[v.Type]; !ok {
				add(field+".type", "unknown type %q", v.Type)
				continue
			}
		}
		comp.InputDefinitions.Parameters[name] = &ParameterSpec{ParameterType: pt}
		task.Inputs.Parameters[name] = b
	}
	for _, name := range sortedKeys(t.Inputs.Artifacts) {
		a := t.Inputs.Artifacts[name]
		comp.InputDefinitions.Artifacts[name] = &ArtifactSpec{ArtifactType: ArtifactType{SchemaTitle: "system.Artifact", SchemaVersion: "0.0.1"}}
		task.Inputs.Artifacts[name] = &InputArtifactSpec{TaskOutputArtifact: &TaskOutputArtifactSpec{ProducerTask: a.Task, OutputArtifactKey: a.Output}}
	}
	for _, name := range sortedKeys(t.Outputs.Parameters) {
		comp.OutputDefinitions.Parameters[name] = &ParameterSpec{ParameterType: outTypes[t.Name][name]}
	}
	for _, name := range sortedKeys(t.Outputs.Artifacts) {
		comp.OutputDefinitions.Artifacts[name] = &ArtifactSpec{ArtifactType: ArtifactType{SchemaTitle: schemaOr(t.Outputs.Artifacts[name]), SchemaVersion: "0.0.1"}}
	}
	return comp, task
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

// nativeFields renames KFP field paths to the native DAG's names.
var nativeFields = []struct{ from, to string }{
	{"triggerPolicy.condition", "when"},
	{"dependentTasks", "dependsOn"},
	{"retryPolicy.backoffDuration", "retryBackoff"},
	{"retryPolicy.backoffMaxDuration", "retryMaxBackoff"},
	{"retryPolicy.maxRetryCount", "retries"},
	{"retryPolicy.backoffFactor", "retryBackoffFactor"},
	{"container.", ""},
	{"outputDefinitions.", "outputs."},
	{"inputDefinitions.", "inputs."},
}

// nativeErrors re-attributes errors about the generated comp-<task>
// components to the native task and field.
func nativeErrors(l ErrorList) ErrorList {
	for _, e := range l {
		if name, ok := strings.CutPrefix(e.Component, "comp-"); ok && e.Task == "" {
			e.Task = name
		}
		e.Component = ""
		for _, r := range nativeFields {
			if strings.HasPrefix(e.Field, r.from) {
				e.Field = r.to + strings.TrimPrefix(e.Field, r.from)
				break
			}
		}
		e.Line = 0
	}
	return l
}
