package pipeline

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/google/cel-go/cel"
)

// rootComponent is the name the plan gives the pipeline's own component.
const rootComponent = "root"

// Plan is a validated pipeline, compiled into the graph the engine runs.
// Both formats (KFP spec and native DAG) compile into a Plan.
type Plan struct {
	// Name is the pipeline name.
	Name string
	// Root is the pipeline's own component (its DAG and interface).
	Root *Component
	// Components holds every component by name, the root included.
	Components map[string]*Component
	// Source is the KFP spec the plan was compiled from (native DAGs are
	// first translated into one).
	Source *Spec
	// DefaultPipelineRoot is the spec's defaultPipelineRoot.
	DefaultPipelineRoot string
	// Workspace is the run's shared volume (pipelineConfig.workspace), or nil.
	Workspace *WorkspaceConfig
}

// Component is a compiled component: a DAG or an executor.
type Component struct {
	// Name is the component's key (root for the pipeline itself).
	Name string
	// Inputs declares its inputs (maps are never nil).
	Inputs InterfaceDefinitions
	// Outputs declares its outputs (maps are never nil).
	Outputs InterfaceDefinitions
	// DAG is set for graph components.
	DAG *DAG
	// Executor is set for leaf components.
	Executor *Executor
	// Digest identifies the component's full definition, for cache keys.
	Digest string
}

// Executor is a compiled executor with its placeholders parsed.
type Executor struct {
	// Label is the executor's key in deploymentSpec.
	Label string
	// Kind is ExecContainer for a process, or one of the tasks the runtime
	// performs itself (ExecCreatePVC, ExecDeletePVC).
	Kind ExecutorKind
	// Container is set for container executors.
	Container *ContainerSpec
	// Importer is set for importer executors.
	Importer *ImporterSpec
	// Command is Container.Command parsed.
	Command []*Arg
	// Args is Container.Args parsed.
	Args []*Arg
	// Env is Container.Env with each value parsed.
	Env []EnvTemplate
}

// ExecutorKind says what runs a container executor.
type ExecutorKind string

// Executor kinds. kfp-kubernetes compiles CreatePVC and DeletePVC into
// executors with a stub image and no command, which KFP's backend
// performs itself; so does kfstack's.
const (
	ExecContainer ExecutorKind = ""
	ExecCreatePVC ExecutorKind = "createpvc"
	ExecDeletePVC ExecutorKind = "deletepvc"
)

// EnvTemplate is an environment variable whose value may hold placeholders.
type EnvTemplate struct {
	// Name is the variable.
	Name string
	// Value is the parsed value.
	Value *Arg
}

// DAG is a compiled graph.
type DAG struct {
	// Tasks are in a topological order (ties broken by name), so that
	// printing and starting them in slice order respects dependencies.
	Tasks []*Task
	// Outputs selects the DAG's outputs.
	Outputs *DAGOutputsSpec
	index   map[string]int
}

// Task returns the task called name, or nil.
func (d *DAG) Task(name string) *Task {
	if i, ok := d.index[name]; ok {
		return d.Tasks[i]
	}
	return nil
}

// Task is a compiled task of a DAG.
type Task struct {
	// Name is the task's key in its DAG.
	Name string
	// Index is its position in DAG.Tasks.
	Index int
	// Spec is the task as written.
	Spec *TaskSpec
	// Component is what the task runs.
	Component *Component
	// Deps are indices (into DAG.Tasks) of the tasks that must finish first:
	// dependentTasks plus every producer an input refers to.
	Deps []int
	// Condition is the compiled triggerPolicy.condition, or nil.
	Condition cel.Program
	// ConditionText is the condition as written.
	ConditionText string
	// Selectors are the compiled parameterExpressionSelectors by input name.
	Selectors map[string]cel.Program
	// RunsOnUpstreamFailure is set for exit handlers
	// (ALL_UPSTREAM_TASKS_COMPLETED): they run whatever their upstream did.
	RunsOnUpstreamFailure bool
	// Loop is set when the task is a ParallelFor.
	Loop *Loop
	// Retry is the retry policy (zero: no retries).
	Retry Retry
	// Timeout bounds one attempt; zero means none.
	Timeout time.Duration
	// Cache enables result caching.
	Cache bool
	// Placement is where and with what resources the task runs (native
	// DAGs); for KFP tasks Resources and Kubernetes are resolved per task
	// instance into TaskRun's placement and pod config.
	Placement Placement
	// Resources are the executor's resources, possibly with placeholders
	// that take pipeline inputs or task outputs.
	Resources *ResourceSpec
	// Kubernetes is the executor's kfp-kubernetes config, or nil.
	Kubernetes *KubernetesExecutorConfig
}

// Loop describes a ParallelFor.
type Loop struct {
	// Raw is the literal item list, when the spec gives one.
	Raw []any
	// InputParameter names the task input holding the item list.
	InputParameter string
	// InputArtifact names the task input artifact list iterated over.
	InputArtifact string
	// ItemInput is the loop DAG's input that receives each item.
	ItemInput string
	// ParallelismLimit caps concurrent iterations (0: unbounded).
	ParallelismLimit int
}

// Retry is a task's retry policy.
type Retry struct {
	// MaxRetries is the number of attempts after the first.
	MaxRetries int
	// Backoff is the delay before the first retry.
	Backoff time.Duration
	// Factor multiplies the delay for each later retry (default 2).
	Factor float64
	// MaxBackoff caps the delay (default one hour, as KFP).
	MaxBackoff time.Duration
}

// Delay is the wait before retry number n (1-based).
func (r Retry) Delay(n int) time.Duration {
	if r.Backoff <= 0 || n < 1 {
		return 0
	}
	f := r.Factor
	if f <= 0 {
		f = 2
	}
	d := float64(r.Backoff) * math.Pow(f, float64(n-1))
	limit := r.MaxBackoff
	if limit <= 0 {
		limit = time.Hour
	}
	if d > float64(limit) {
		return limit
	}
	return time.Duration(d)
}

// Placement holds scheduling hints and resources for a task's pod.
type Placement struct {
	// NodeSelector restricts the nodes.
	NodeSelector map[string]string `json:"nodeSelector,omitempty"`
	// Tolerations allow tainted nodes.
	Tolerations []Toleration `json:"tolerations,omitempty"`
	// CPU is the CPU limit quantity ("500m"), also the request when
	// CPURequest is empty.
	CPU string `json:"cpu,omitempty"`
	// Memory is the memory limit quantity ("4Gi"), also the request when
	// MemoryRequest is empty.
	Memory string `json:"memory,omitempty"`
	// CPURequest is the CPU request when it differs from the limit.
	CPURequest string `json:"cpuRequest,omitempty"`
	// MemoryRequest is the memory request when it differs from the limit.
	MemoryRequest string `json:"memoryRequest,omitempty"`
	// AcceleratorType is e.g. nvidia.com/gpu or google.com/tpu.
	AcceleratorType string `json:"acceleratorType,omitempty"`
	// AcceleratorCount is how many accelerators.
	AcceleratorCount int `json:"acceleratorCount,omitempty"`
}

// Toleration is a Kubernetes toleration.
type Toleration struct {
	// Key is the taint key.
	Key string `json:"key,omitempty" yaml:"key"`
	// Operator is Equal or Exists.
	Operator string `json:"operator,omitempty" yaml:"operator"`
	// Value is the taint value.
	Value string `json:"value,omitempty" yaml:"value"`
	// Effect is NoSchedule, PreferNoSchedule or NoExecute.
	Effect string `json:"effect,omitempty" yaml:"effect"`
}

// ErrMissingParameter marks a required run parameter without a value.
var ErrMissingParameter = errors.New("missing parameter")

// BindParameters checks run parameters against the pipeline's inputs and
// returns the value of every root input parameter, defaults included.
// Values given as text (command-line flags) are parsed by type. On error
// the values that did bind are returned with it.
func (p *Plan) BindParameters(given map[string]any) (map[string]any, error) {
	var errs ErrorList
	out := map[string]any{}
	for _, name := range sortedKeys(given) {
		def, ok := p.Root.Inputs.Parameters[name]
		if !ok {
			errs = append(errs, &FieldError{Field: fmt.Sprintf("parameters[%q]", name), Err: fmt.Errorf("the pipeline has no parameter %q", name)})
			continue
		}
		v, err := CoerceParameter(def.ParameterType, given[name])
		if err != nil {
			errs = append(errs, &FieldError{Field: fmt.Sprintf("parameters[%q]", name), Err: fmt.Errorf("%s parameter: %w", def.ParameterType, err)})
			continue
		}
		out[name] = v
	}
	for _, name := range sortedKeys(p.Root.Inputs.Parameters) {
		def := p.Root.Inputs.Parameters[name]
		if _, ok := out[name]; ok {
			continue
		}
		if _, bad := given[name]; bad {
			continue
		}
		switch {
		case def.DefaultValue != nil:
			out[name] = def.DefaultValue
		case !def.IsOptional:
			errs = append(errs, &FieldError{Field: fmt.Sprintf("parameters[%q]", name), Err: fmt.Errorf("required %s parameter is not set: %w", def.ParameterType, ErrMissingParameter)})
		}
	}
	if len(errs) > 0 {
		return out, errs
	}
	return out, nil
}
