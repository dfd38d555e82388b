// Package pipeline holds the pipeline formats kfstack accepts (the KFP v2
// pipeline spec and the native DAG), their validation, and the compiled
// graph that the engine runs.
//
// The KFP types mirror api/v2alpha1/pipeline_spec.proto as the KFP compiler
// serialises it (camelCase JSON names). Only the fields the runtime reads are
// declared; the decoder rejects unknown fields in the places where a typo
// would silently change behaviour (tasks, inputs, executors).
package pipeline

import (
	"fmt"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Spec is the KFP v2 pipeline IR, PipelineSpec in pipeline_spec.proto (the
// first YAML document).
type Spec struct {
	// Info names the pipeline.
	Info Info `yaml:"pipelineInfo" json:"pipelineInfo"`
	// DeploymentSpec holds the executors referenced by components.
	DeploymentSpec DeploymentSpec `yaml:"deploymentSpec" json:"deploymentSpec"`
	// Components maps component names (comp-...) to their specs.
	Components map[string]*ComponentSpec `yaml:"components" json:"components,omitempty"`
	// Root is the pipeline's own component: its DAG and its inputs and outputs.
	Root *ComponentSpec `yaml:"root" json:"root"`
	// SchemaVersion is the IR schema version, 2.1.0 for current compilers.
	SchemaVersion string `yaml:"schemaVersion" json:"schemaVersion,omitempty"`
	// SDKVersion is the compiler that wrote the file.
	SDKVersion string `yaml:"sdkVersion" json:"sdkVersion,omitempty"`
	// DefaultPipelineRoot is where artifacts go when the run names no root.
	DefaultPipelineRoot string `yaml:"defaultPipelineRoot" json:"defaultPipelineRoot,omitempty"`
}

// Info is the pipeline's name and description (PipelineInfo).
type Info struct {
	// Name is the pipeline name.
	Name string `yaml:"name" json:"name"`
	// DisplayName is an optional human-friendly name.
	DisplayName string `yaml:"displayName" json:"displayName,omitempty"`
	// Description is free text.
	Description string `yaml:"description" json:"description,omitempty"`
}

// DeploymentSpec is the executor table of a pipeline.
type DeploymentSpec struct {
	// Executors maps executor labels (exec-...) to executors.
	Executors map[string]*ExecutorSpec `yaml:"executors" json:"executors"`
}

// ComponentSpec is a component: an executor or a DAG, with its interface.
type ComponentSpec struct {
	// InputDefinitions declares the parameters and artifacts it accepts.
	InputDefinitions *InterfaceDefinitions `yaml:"inputDefinitions" json:"inputDefinitions,omitempty"`
	// OutputDefinitions declares the parameters and artifacts it produces.
	OutputDefinitions *InterfaceDefinitions `yaml:"outputDefinitions" json:"outputDefinitions,omitempty"`
	// ExecutorLabel names the executor of a leaf component.
	ExecutorLabel string `yaml:"executorLabel" json:"executorLabel,omitempty"`
	// DAG is set for graph components (the root, sub-pipelines, loops, conditions, exit handlers).
	DAG *DAGSpec `yaml:"dag" json:"dag,omitempty"`
	// SinglePlatformSpecs is written by newer compilers; it is kept only so decoding does not fail.
	SinglePlatformSpecs []map[string]any `yaml:"singlePlatformSpecs" json:"singlePlatformSpecs,omitempty"`
	// TaskConfigPassthroughs is written by newer compilers; it is kept only so decoding does not fail.
	TaskConfigPassthroughs []map[string]any `yaml:"taskConfigPassthroughs" json:"taskConfigPassthroughs,omitempty"`
}

// InterfaceDefinitions lists a component's parameters and artifacts.
type InterfaceDefinitions struct {
	// Parameters maps parameter names to their specs.
	Parameters map[string]*ParameterSpec `yaml:"parameters" json:"parameters,omitempty"`
	// Artifacts maps artifact names to their specs.
	Artifacts map[string]*ArtifactSpec `yaml:"artifacts" json:"artifacts,omitempty"`
}

// ParameterType is a KFP parameter type (STRING, NUMBER_INTEGER, ...).
type ParameterType string

// Parameter types as the compiler writes them.
const (
	TypeString          ParameterType = "STRING"
	TypeInteger         ParameterType = "NUMBER_INTEGER"
	TypeDouble          ParameterType = "NUMBER_DOUBLE"
	TypeBoolean         ParameterType = "BOOLEAN"
	TypeList            ParameterType = "LIST"
	TypeStruct          ParameterType = "STRUCT"
	TypeTaskFinalStatus ParameterType = "TASK_FINAL_STATUS"
	// TypeTaskConfig is an input the runtime fills with the task's own
	// configuration (resources, environment, Kubernetes placement), for
	// components that pass it on to a workload they start.
	TypeTaskConfig ParameterType = "TASK_CONFIG"
)

// parameterTypeNumbers are ParameterTypeEnum's numbers, which proto3 JSON
// may use instead of the names.
var parameterTypeNumbers = []ParameterType{"", TypeDouble, TypeInteger, TypeString, TypeBoolean, TypeList, TypeStruct, TypeTaskFinalStatus, TypeTaskConfig}

// Valid reports whether t is a parameter type the runtime knows.
func (t ParameterType) Valid() bool {
	switch t {
	case TypeString, TypeInteger, TypeDouble, TypeBoolean, TypeList, TypeStruct, TypeTaskFinalStatus, TypeTaskConfig:
		return true
	}
	return false
}

// UnmarshalYAML reads the enum by name or by number.
func (t *ParameterType) UnmarshalYAML(n *yaml.Node) error {
	name, err := decodeEnum(n, parameterTypeNumbers, "PARAMETER_TYPE_ENUM_UNSPECIFIED")
	*t = name
	return err
}

// decodeEnum reads a proto enum written by name or by number; the zero
// value (unspecified) decodes as "".
func decodeEnum[T ~string](n *yaml.Node, byNumber []T, unspecified string) (T, error) {
	if n.Kind != yaml.ScalarNode {
		return "", fmt.Errorf("line %d: expected an enum name or number", n.Line)
	}
	if i, err := strconv.Atoi(strings.TrimSpace(n.Value)); err == nil {
		if i < 0 || i >= len(byNumber) {
			return "", fmt.Errorf("line %d: enum number %d is out of range", n.Line, i)
		}
		return byNumber[i], nil
	}
	if n.Value == unspecified {
		return "", nil
	}
	return T(n.Value), nil
}

// PrimitiveType is the deprecated parameter type (INT, DOUBLE, STRING)
// of schema 2.0.0 files.
type PrimitiveType string

// UnmarshalYAML reads the enum by name or by number.
func (t *PrimitiveType) UnmarshalYAML(n *yaml.Node) error {
	name, err := decodeEnum(n, []PrimitiveType{"", "INT", "DOUBLE", "STRING"}, "PRIMITIVE_TYPE_UNSPECIFIED")
	*t = name
	return err
}

// ParameterType maps the deprecated type to the current one.
func (t PrimitiveType) ParameterType() ParameterType {
	switch t {
	case "INT":
		return TypeInteger
	case "DOUBLE":
		return TypeDouble
	case "STRING":
		return TypeString
	}
	return ""
}

// ParameterSpec declares one parameter.
type ParameterSpec struct {
	// ParameterType is the parameter's type.
	ParameterType ParameterType `yaml:"parameterType" json:"parameterType"`
	// Type is the deprecated primitive type, read when ParameterType is unset.
	Type PrimitiveType `yaml:"type" json:"type,omitempty"`
	// DefaultValue is used when no value is bound.
	DefaultValue any `yaml:"defaultValue" json:"defaultValue,omitempty"`
	// IsOptional marks a parameter that may stay unbound.
	IsOptional bool `yaml:"isOptional" json:"isOptional,omitempty"`
	// Description is free text.
	Description string `yaml:"description" json:"description,omitempty"`
}

// ArtifactSpec declares one artifact.
type ArtifactSpec struct {
	// ArtifactType is the artifact's schema.
	ArtifactType ArtifactType `yaml:"artifactType" json:"artifactType"`
	// Metadata is the output artifact's initial metadata.
	Metadata map[string]any `yaml:"metadata" json:"metadata,omitempty"`
	// IsArtifactList marks a list of artifacts (fan-in from a loop).
	IsArtifactList bool `yaml:"isArtifactList" json:"isArtifactList,omitempty"`
	// IsOptional marks an artifact that may stay unbound.
	IsOptional bool `yaml:"isOptional" json:"isOptional,omitempty"`
	// Description is free text.
	Description string `yaml:"description" json:"description,omitempty"`
}

// ArtifactType is an artifact schema reference.
type ArtifactType struct {
	// SchemaTitle is e.g. system.Dataset.
	SchemaTitle string `yaml:"schemaTitle" json:"schemaTitle,omitempty"`
	// InstanceSchema is a YAML schema of the artifact's properties, the
	// alternative to SchemaTitle.
	InstanceSchema string `yaml:"instanceSchema" json:"instanceSchema,omitempty"`
	// SchemaURI is the deprecated location of such a schema.
	SchemaURI string `yaml:"schemaUri" json:"schemaUri,omitempty"`
	// SchemaVersion is e.g. 0.0.1.
	SchemaVersion string `yaml:"schemaVersion" json:"schemaVersion,omitempty"`
}

// DAGSpec is a graph of tasks with outputs.
type DAGSpec struct {
	// Tasks maps task names to tasks.
	Tasks map[string]*TaskSpec `yaml:"tasks" json:"tasks"`
	// Outputs selects which task outputs become the DAG's outputs.
	Outputs *DAGOutputsSpec `yaml:"outputs" json:"outputs,omitempty"`
}

// DAGOutputsSpec selects a DAG's output parameters and artifacts.
type DAGOutputsSpec struct {
	// Parameters maps DAG output parameter names to their source.
	Parameters map[string]*DAGOutputParameterSpec `yaml:"parameters" json:"parameters,omitempty"`
	// Artifacts maps DAG output artifact names to their sources.
	Artifacts map[string]*DAGOutputArtifactSpec `yaml:"artifacts" json:"artifacts,omitempty"`
}

// DAGOutputParameterSpec is the source of a DAG output parameter.
type DAGOutputParameterSpec struct {
	// ValueFromParameter takes the output of one subtask.
	ValueFromParameter *OutputSelector `yaml:"valueFromParameter" json:"valueFromParameter,omitempty"`
	// ValueFromOneof takes the first available of several subtask outputs (dsl.OneOf).
	ValueFromOneof *OneofSelector `yaml:"valueFromOneof" json:"valueFromOneof,omitempty"`
}

// OneofSelector lists candidate parameter sources; the first that produced a value wins.
type OneofSelector struct {
	// ParameterSelectors are tried in order.
	ParameterSelectors []*OutputSelector `yaml:"parameterSelectors" json:"parameterSelectors"`
}

// OutputSelector names a subtask output parameter.
type OutputSelector struct {
	// ProducerSubtask is the task inside the DAG.
	ProducerSubtask string `yaml:"producerSubtask" json:"producerSubtask"`
	// OutputParameterKey is the producer's output parameter.
	OutputParameterKey string `yaml:"outputParameterKey" json:"outputParameterKey"`
}

// DAGOutputArtifactSpec is the source of a DAG output artifact.
type DAGOutputArtifactSpec struct {
	// ArtifactSelectors name subtask output artifacts.
	ArtifactSelectors []*ArtifactSelector `yaml:"artifactSelectors" json:"artifactSelectors"`
}

// ArtifactSelector names a subtask output artifact.
type ArtifactSelector struct {
	// ProducerSubtask is the task inside the DAG.
	ProducerSubtask string `yaml:"producerSubtask" json:"producerSubtask"`
	// OutputArtifactKey is the producer's output artifact.
	OutputArtifactKey string `yaml:"outputArtifactKey" json:"outputArtifactKey"`
}

// TaskSpec is one task of a DAG.
type TaskSpec struct {
	// TaskInfo carries the task's display name.
	TaskInfo TaskInfo `yaml:"taskInfo" json:"taskInfo"`
	// ComponentRef names the component the task runs.
	ComponentRef ComponentRef `yaml:"componentRef" json:"componentRef"`
	// Inputs binds the component's inputs.
	Inputs *TaskInputsSpec `yaml:"inputs" json:"inputs,omitempty"`
	// DependentTasks must finish before this task starts.
	DependentTasks []string `yaml:"dependentTasks" json:"dependentTasks,omitempty"`
	// CachingOptions turns result caching on.
	CachingOptions *CachingOptions `yaml:"cachingOptions" json:"cachingOptions,omitempty"`
	// TriggerPolicy holds the CEL condition and the exit-handler strategy.
	TriggerPolicy *TriggerPolicy `yaml:"triggerPolicy" json:"triggerPolicy,omitempty"`
	// ParameterIterator makes the task a ParallelFor over a parameter list.
	ParameterIterator *ParameterIteratorSpec `yaml:"parameterIterator" json:"parameterIterator,omitempty"`
	// ArtifactIterator makes the task a ParallelFor over an artifact list.
	ArtifactIterator *ArtifactIteratorSpec `yaml:"artifactIterator" json:"artifactIterator,omitempty"`
	// IteratorPolicy bounds the parallelism of a ParallelFor.
	IteratorPolicy *IteratorPolicy `yaml:"iteratorPolicy" json:"iteratorPolicy,omitempty"`
	// RetryPolicy retries failed attempts.
	RetryPolicy *RetryPolicy `yaml:"retryPolicy" json:"retryPolicy,omitempty"`
}

// TaskInfo is a task's display name.
type TaskInfo struct {
	// Name is the display name.
	Name string `yaml:"name" json:"name"`
}

// ComponentRef names a component.
type ComponentRef struct {
	// Name is the key in PipelineSpec.Components.
	Name string `yaml:"name" json:"name"`
}

// CachingOptions is a task's caching switch.
type CachingOptions struct {
	// EnableCache reuses a previous result with the same key.
	EnableCache bool `yaml:"enableCache" json:"enableCache,omitempty"`
	// CacheKey overrides the computed key.
	CacheKey string `yaml:"cacheKey" json:"cacheKey,omitempty"`
}

// Trigger strategies.
const (
	StrategyAllUpstreamSucceeded = "ALL_UPSTREAM_TASKS_SUCCEEDED"
	StrategyAllUpstreamCompleted = "ALL_UPSTREAM_TASKS_COMPLETED"
)

// TriggerPolicy decides whether a ready task runs.
type TriggerPolicy struct {
	// Condition is a CEL expression over `inputs`; false skips the task.
	Condition string `yaml:"condition" json:"condition,omitempty"`
	// Strategy is ALL_UPSTREAM_TASKS_SUCCEEDED (default) or ALL_UPSTREAM_TASKS_COMPLETED (exit handlers).
	Strategy TriggerStrategy `yaml:"strategy" json:"strategy,omitempty"`
}

// TriggerStrategy is the TriggerPolicy enum, by name or number.
type TriggerStrategy string

// UnmarshalYAML reads the enum by name or by number.
func (s *TriggerStrategy) UnmarshalYAML(n *yaml.Node) error {
	name, err := decodeEnum(n, []TriggerStrategy{"", StrategyAllUpstreamSucceeded, StrategyAllUpstreamCompleted}, "TRIGGER_STRATEGY_UNSPECIFIED")
	*s = name
	return err
}

// ParameterIteratorSpec iterates over a list parameter.
type ParameterIteratorSpec struct {
	// Items is the list to iterate.
	Items ParameterItems `yaml:"items" json:"items"`
	// ItemInput is the input name of the loop DAG that receives each item.
	ItemInput string `yaml:"itemInput" json:"itemInput"`
}

// ParameterItems is a raw JSON list or an input parameter holding a list.
type ParameterItems struct {
	// Raw is a JSON-encoded list.
	Raw string `yaml:"raw" json:"raw,omitempty"`
	// InputParameter names a task input holding the list.
	InputParameter string `yaml:"inputParameter" json:"inputParameter,omitempty"`
}

// ArtifactIteratorSpec iterates over a list of artifacts.
type ArtifactIteratorSpec struct {
	// Items names the task input artifact holding the list.
	Items ArtifactItems `yaml:"items" json:"items"`
	// ItemInput is the input name of the loop DAG that receives each artifact.
	ItemInput string `yaml:"itemInput" json:"itemInput"`
}

// ArtifactItems names the input artifact list.
type ArtifactItems struct {
	// InputArtifact names a task input artifact.
	InputArtifact string `yaml:"inputArtifact" json:"inputArtifact"`
}

// IteratorPolicy bounds a ParallelFor.
type IteratorPolicy struct {
	// ParallelismLimit caps concurrent iterations; 0 means no cap.
	ParallelismLimit int `yaml:"parallelismLimit" json:"parallelismLimit,omitempty"`
}

// RetryPolicy retries failed attempts with exponential backoff.
type RetryPolicy struct {
	// MaxRetryCount is the number of retries after the first attempt.
	MaxRetryCount int `yaml:"maxRetryCount" json:"maxRetryCount,omitempty"`
	// BackoffDuration is the first delay, as a protobuf duration ("3s").
	BackoffDuration string `yaml:"backoffDuration" json:"backoffDuration,omitempty"`
	// BackoffFactor multiplies the delay after each retry.
	BackoffFactor float64 `yaml:"backoffFactor" json:"backoffFactor,omitempty"`
	// BackoffMaxDuration caps the delay.
	BackoffMaxDuration string `yaml:"backoffMaxDuration" json:"backoffMaxDuration,omitempty"`
}

// TaskInputsSpec binds a task's inputs.
type TaskInputsSpec struct {
	// Parameters maps input parameter names to bindings.
	Parameters map[string]*InputParameterSpec `yaml:"parameters" json:"parameters,omitempty"`
	// Artifacts maps input artifact names to bindings.
	Artifacts map[string]*InputArtifactSpec `yaml:"artifacts" json:"artifacts,omitempty"`
}

// InputParameterSpec is the source of one input parameter: exactly one of
// the fields is set (ParameterExpressionSelector refines any of them).
type InputParameterSpec struct {
	// ComponentInputParameter takes an input of the enclosing DAG.
	ComponentInputParameter string `yaml:"componentInputParameter" json:"componentInputParameter,omitempty"`
	// TaskOutputParameter takes a sibling task's output.
	TaskOutputParameter *TaskOutputParameterSpec `yaml:"taskOutputParameter" json:"taskOutputParameter,omitempty"`
	// RuntimeValue is a constant.
	RuntimeValue *RuntimeValue `yaml:"runtimeValue" json:"runtimeValue,omitempty"`
	// TaskFinalStatus takes a sibling task's final status (exit handlers).
	TaskFinalStatus *TaskFinalStatusSpec `yaml:"taskFinalStatus" json:"taskFinalStatus,omitempty"`
	// ParameterExpressionSelector is a CEL expression applied to the value (string_value).
	ParameterExpressionSelector string `yaml:"parameterExpressionSelector" json:"parameterExpressionSelector,omitempty"`
}

// TaskOutputParameterSpec names a sibling task's output parameter.
type TaskOutputParameterSpec struct {
	// ProducerTask is the sibling task.
	ProducerTask string `yaml:"producerTask" json:"producerTask"`
	// OutputParameterKey is its output parameter.
	OutputParameterKey string `yaml:"outputParameterKey" json:"outputParameterKey"`
}

// RuntimeValue is a constant value (ValueOrRuntimeParameter).
type RuntimeValue struct {
	// Constant is any JSON value.
	Constant any `yaml:"constant" json:"constant"`
	// ConstantValue is the deprecated typed form of Constant.
	ConstantValue *LegacyValue `yaml:"constantValue" json:"constantValue,omitempty"`
	// RuntimeParameter names an input parameter of the enclosing component.
	RuntimeParameter string `yaml:"runtimeParameter" json:"runtimeParameter,omitempty"`
}

// LegacyValue is the deprecated Value message: one of an integer, a double
// or a string.
type LegacyValue struct {
	// IntValue is an int64 (a string in proto3 JSON).
	IntValue *int64 `yaml:"intValue" json:"intValue,omitempty"`
	// DoubleValue is a double.
	DoubleValue *float64 `yaml:"doubleValue" json:"doubleValue,omitempty"`
	// StringValue is a string.
	StringValue *string `yaml:"stringValue" json:"stringValue,omitempty"`
}

// Value returns the value in the runtime's JSON shape, or nil.
func (v *LegacyValue) Value() any {
	switch {
	case v == nil:
		return nil
	case v.IntValue != nil:
		return float64(*v.IntValue)
	case v.DoubleValue != nil:
		return *v.DoubleValue
	case v.StringValue != nil:
		return *v.StringValue
	}
	return nil
}

// TaskFinalStatusSpec names the task whose final status is passed.
type TaskFinalStatusSpec struct {
	// ProducerTask is the task (usually the exit handler's DAG).
	ProducerTask string `yaml:"producerTask" json:"producerTask"`
}

// InputArtifactSpec is the source of one input artifact.
type InputArtifactSpec struct {
	// TaskOutputArtifact takes a sibling task's output artifact.
	TaskOutputArtifact *TaskOutputArtifactSpec `yaml:"taskOutputArtifact" json:"taskOutputArtifact,omitempty"`
	// ComponentInputArtifact takes an input artifact of the enclosing DAG.
	ComponentInputArtifact string `yaml:"componentInputArtifact" json:"componentInputArtifact,omitempty"`
}

// TaskOutputArtifactSpec names a sibling task's output artifact.
type TaskOutputArtifactSpec struct {
	// ProducerTask is the sibling task.
	ProducerTask string `yaml:"producerTask" json:"producerTask"`
	// OutputArtifactKey is its output artifact.
	OutputArtifactKey string `yaml:"outputArtifactKey" json:"outputArtifactKey"`
}

// ExecutorSpec is a leaf component's implementation.
type ExecutorSpec struct {
	// Container runs a process.
	Container *ContainerSpec `yaml:"container" json:"container,omitempty"`
	// Importer registers an existing artifact without running anything.
	Importer *ImporterSpec `yaml:"importer" json:"importer,omitempty"`
	// Resolver queries ML Metadata for artifacts; kfstack has no metadata
	// store, so it is refused with a clear error.
	Resolver map[string]any `yaml:"resolver" json:"resolver,omitempty"`
	// CustomJob starts a Vertex AI CustomJob (deprecated, Google Cloud
	// only); refused with a clear error.
	CustomJob map[string]any `yaml:"customJob" json:"customJob,omitempty"`
}

// ContainerSpec is a container executor.
type ContainerSpec struct {
	// Image is the container image (ignored by the local executor).
	Image string `yaml:"image" json:"image"`
	// Command is the entrypoint, with placeholders.
	Command []string `yaml:"command" json:"command,omitempty"`
	// Args are the arguments, with placeholders.
	Args []string `yaml:"args" json:"args,omitempty"`
	// Env sets environment variables.
	Env []EnvVar `yaml:"env" json:"env,omitempty"`
	// Resources requests CPU, memory and accelerators.
	Resources *ResourceSpec `yaml:"resources" json:"resources,omitempty"`
	// Lifecycle is accepted and ignored.
	Lifecycle map[string]any `yaml:"lifecycle" json:"lifecycle,omitempty"`
}

// EnvVar is one environment variable.
type EnvVar struct {
	// Name is the variable name.
	Name string `yaml:"name" json:"name"`
	// Value is its value, with placeholders.
	Value string `yaml:"value" json:"value"`
}

// ResourceSpec is a container's resource requests and limits as the
// compiler writes them (newer compilers write the string forms).
type ResourceSpec struct {
	// CPULimit is the legacy numeric CPU limit.
	CPULimit float64 `yaml:"cpuLimit" json:"cpuLimit,omitempty"`
	// MemoryLimit is the legacy numeric memory limit in GB.
	MemoryLimit float64 `yaml:"memoryLimit" json:"memoryLimit,omitempty"`
	// CPURequest is the legacy numeric CPU request.
	CPURequest float64 `yaml:"cpuRequest" json:"cpuRequest,omitempty"`
	// MemoryRequest is the legacy numeric memory request in GB.
	MemoryRequest float64 `yaml:"memoryRequest" json:"memoryRequest,omitempty"`
	// ResourceCPULimit is the CPU limit as a quantity ("500m").
	ResourceCPULimit string `yaml:"resourceCpuLimit" json:"resourceCpuLimit,omitempty"`
	// ResourceMemoryLimit is the memory limit as a quantity ("4G").
	ResourceMemoryLimit string `yaml:"resourceMemoryLimit" json:"resourceMemoryLimit,omitempty"`
	// ResourceCPURequest is the CPU request as a quantity.
	ResourceCPURequest string `yaml:"resourceCpuRequest" json:"resourceCpuRequest,omitempty"`
	// ResourceMemoryRequest is the memory request as a quantity.
	ResourceMemoryRequest string `yaml:"resourceMemoryRequest" json:"resourceMemoryRequest,omitempty"`
	// Accelerator requests GPUs or TPUs.
	Accelerator *AcceleratorSpec `yaml:"accelerator" json:"accelerator,omitempty"`
}

// AcceleratorSpec requests accelerators.
type AcceleratorSpec struct {
	// Type is e.g. nvidia.com/gpu or a TPU type.
	Type string `yaml:"type" json:"type,omitempty"`
	// Count is the legacy numeric count.
	Count int64 `yaml:"count" json:"count,omitempty"`
	// ResourceType is the string form of Type.
	ResourceType string `yaml:"resourceType" json:"resourceType,omitempty"`
	// ResourceCount is the string form of Count.
	ResourceCount string `yaml:"resourceCount" json:"resourceCount,omitempty"`
}

// ImporterSpec imports an existing artifact.
type ImporterSpec struct {
	// ArtifactURI is the artifact's location: a constant or a bound input.
	ArtifactURI ImporterURI `yaml:"artifactUri" json:"artifactUri"`
	// TypeSchema is the imported artifact's type.
	TypeSchema ArtifactType `yaml:"typeSchema" json:"typeSchema"`
	// Metadata is attached to the artifact.
	Metadata map[string]any `yaml:"metadata" json:"metadata,omitempty"`
	// Reimport imports again even if the URI is known.
	Reimport bool `yaml:"reimport" json:"reimport,omitempty"`
	// DownloadToWorkspace copies the artifact into the run's workspace; the
	// launcher stages every input artifact for its consumers anyway.
	DownloadToWorkspace bool `yaml:"downloadToWorkspace" json:"downloadToWorkspace,omitempty"`
}

// ImporterURI is the importer's URI source.
type ImporterURI struct {
	// Constant is a literal URI.
	Constant string `yaml:"constant" json:"constant,omitempty"`
	// ConstantValue is the deprecated typed form of Constant.
	ConstantValue *LegacyValue `yaml:"constantValue" json:"constantValue,omitempty"`
	// RuntimeParameter names an input parameter that holds the URI.
	RuntimeParameter string `yaml:"runtimeParameter" json:"runtimeParameter,omitempty"`
}
