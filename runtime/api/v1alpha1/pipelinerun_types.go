package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// Executor selects where a run's tasks execute.
//
// +kubebuilder:validation:Enum=pod;local
type Executor string

// Executors.
const (
	// ExecutorPod runs one Pod per task attempt.
	ExecutorPod Executor = "pod"
	// ExecutorLocal runs tasks as subprocesses of the controller (images
	// ignored); for the quickstart and tests.
	ExecutorLocal Executor = "local"
)

// RunPhase is the state of a run.
type RunPhase string

// Run phases.
const (
	// RunPending waits for its pipeline version.
	RunPending RunPhase = "Pending"
	// RunRunning has tasks in flight.
	RunRunning RunPhase = "Running"
	// RunSucceeded finished well.
	RunSucceeded RunPhase = "Succeeded"
	// RunFailed finished badly (a task failed, the run timed out or was
	// invalid).
	RunFailed RunPhase = "Failed"
	// RunCancelled was cancelled.
	RunCancelled RunPhase = "Cancelled"
)

// Terminal reports whether the phase is final.
func (p RunPhase) Terminal() bool {
	return p == RunSucceeded || p == RunFailed || p == RunCancelled
}

// PipelineRunSpec is one execution of a pipeline version. Everything but
// cancel is fixed at creation: the API server refuses other changes even
// without the admission webhook, so what the controller checked when the
// run started (its service account, its parameters) stays what runs.
// Optional fields may be absent from the object (kubectl sends only what
// the YAML holds), so every rule tests has() before it reads one: a rule
// that reads a missing field fails with "no such key" on every later
// write, the controller's status updates included.
//
// +kubebuilder:validation:XValidation:rule="self.pipeline == oldSelf.pipeline",message="is immutable: a run executes what it was created with; create a new run instead (only cancel may change)",fieldPath=".pipeline",reason=FieldValueForbidden
// +kubebuilder:validation:XValidation:rule="(has(self.pipelineVersion) ? self.pipelineVersion : 0) == (has(oldSelf.pipelineVersion) ? oldSelf.pipelineVersion : 0)",message="is immutable: a run executes what it was created with; create a new run instead (only cancel may change)",fieldPath=".pipelineVersion",reason=FieldValueForbidden
// +kubebuilder:validation:XValidation:rule="has(self.parameters) == has(oldSelf.parameters) && (!has(self.parameters) || self.parameters == oldSelf.parameters)",message="is immutable: a run executes what it was created with; create a new run instead (only cancel may change)",fieldPath=".parameters",reason=FieldValueForbidden
// +kubebuilder:validation:XValidation:rule="has(self.parameterSecrets) == has(oldSelf.parameterSecrets) && (!has(self.parameterSecrets) || self.parameterSecrets == oldSelf.parameterSecrets)",message="is immutable: a run executes what it was created with; create a new run instead (only cancel may change)",fieldPath=".parameterSecrets",reason=FieldValueForbidden
// +kubebuilder:validation:XValidation:rule="has(self.pipelineRoot) == has(oldSelf.pipelineRoot) && (!has(self.pipelineRoot) || self.pipelineRoot == oldSelf.pipelineRoot)",message="is immutable: a run executes what it was created with; create a new run instead (only cancel may change)",fieldPath=".pipelineRoot",reason=FieldValueForbidden
// +kubebuilder:validation:XValidation:rule="has(self.serviceAccountName) == has(oldSelf.serviceAccountName) && (!has(self.serviceAccountName) || self.serviceAccountName == oldSelf.serviceAccountName)",message="is immutable: a run executes what it was created with; create a new run instead (only cancel may change)",fieldPath=".serviceAccountName",reason=FieldValueForbidden
// +kubebuilder:validation:XValidation:rule="(has(self.parallelism) ? self.parallelism : 0) == (has(oldSelf.parallelism) ? oldSelf.parallelism : 0)",message="is immutable: a run executes what it was created with; create a new run instead (only cancel may change)",fieldPath=".parallelism",reason=FieldValueForbidden
// +kubebuilder:validation:XValidation:rule="has(self.timeout) == has(oldSelf.timeout) && (!has(self.timeout) || self.timeout == oldSelf.timeout)",message="is immutable: a run executes what it was created with; create a new run instead (only cancel may change)",fieldPath=".timeout",reason=FieldValueForbidden
// +kubebuilder:validation:XValidation:rule="(has(self.executor) ? self.executor : 'pod') == (has(oldSelf.executor) ? oldSelf.executor : 'pod')",message="is immutable: a run executes what it was created with; create a new run instead (only cancel may change)",fieldPath=".executor",reason=FieldValueForbidden
// +kubebuilder:validation:XValidation:rule="!has(oldSelf.experiment) || (has(self.experiment) && self.experiment == oldSelf.experiment)",message="experiment is immutable"
type PipelineRunSpec struct {
	// pipeline names the Pipeline in the run's namespace.
	// +kubebuilder:validation:MinLength=1
	Pipeline string `json:"pipeline"`
	// pipelineVersion pins a version; 0 (unset) takes the latest one,
	// recorded in status.pipelineVersion when the run starts.
	// +optional
	// +kubebuilder:validation:Minimum=0
	PipelineVersion int32 `json:"pipelineVersion,omitempty"`
	// experiment names the Experiment the run belongs to, in the run's
	// namespace ("default" when unset). The Experiment object is
	// optional: runs are grouped by this name.
	// +optional
	// +kubebuilder:default=default
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`
	Experiment string `json:"experiment,omitempty"`
	// parameters are the run parameters, as text parsed by each
	// parameter's type (JSON for lists and structs).
	// +optional
	// +kubebuilder:validation:MaxProperties=1000
	Parameters map[string]string `json:"parameters,omitempty"`
	// parameterSecrets are run parameters whose values come from keys of
	// Kubernetes Secrets in the run's namespace, by parameter name: for
	// passwords and tokens, which spec.parameters would show to everyone
	// who can read the run. The controller never reads them: each task
	// pod that takes one gets it as an environment variable from the
	// Secret (secretKeyRef), and the launcher passes it to the task as the
	// parameter's value. Only STRING parameters; not with the local
	// executor; tasks that take one are never cached.
	// +optional
	// +kubebuilder:validation:MaxProperties=100
	ParameterSecrets map[string]SecretKeyRef `json:"parameterSecrets,omitempty"`
	// pipelineRoot is where artifacts go: gs://, s3:// (with ?endpoint=
	// for MinIO) or file:// URL. The controller's default when empty.
	// +optional
	PipelineRoot string `json:"pipelineRoot,omitempty"`
	// serviceAccountName runs the task pods: the namespace's default
	// service account when empty (a profile's pipeline runner), and
	// otherwise one the namespace allows (the annotation
	// pipelines.kfstack.dev/allowed-service-accounts, which
	// kubeflow_profile's run_service_accounts sets).
	// +optional
	ServiceAccountName string `json:"serviceAccountName,omitempty"`
	// parallelism caps the tasks running at once (0: no cap beyond the
	// controller's global limit).
	// +optional
	// +kubebuilder:validation:Minimum=0
	Parallelism int32 `json:"parallelism,omitempty"`
	// timeout bounds the whole run; it fails when the time is up.
	// +optional
	Timeout *metav1.Duration `json:"timeout,omitempty"`
	// executor is pod (one Pod per task attempt) or local (subprocesses
	// of the controller, images ignored).
	// +optional
	// +kubebuilder:default=pod
	Executor Executor `json:"executor,omitempty"`
	// cancel stops the run: running task pods are deleted and exit
	// handlers run.
	// +optional
	Cancel bool `json:"cancel,omitempty"`
}

// SecretKeyRef names one key of a Secret in the run's namespace.
type SecretKeyRef struct {
	// name is the Secret's name.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`
	// key is the key in the Secret's data.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Key string `json:"key"`
}

// TaskFailure names the task that failed a run.
type TaskFailure struct {
	// task is the task's path in the run, e.g. "for-loop-1[2]/train".
	Task string `json:"task"`
	// message is the error.
	Message string `json:"message,omitempty"`
	// logTail is the end of the task's output.
	// +optional
	LogTail string `json:"logTail,omitempty"`
}

// MaxRunMetrics bounds status.metrics, so that a loop of thousands of
// evaluations cannot grow a run's status without bound.
const MaxRunMetrics = 100

// TaskMetrics is one metrics artifact of a task.
type TaskMetrics struct {
	// task is the task's path in the run, e.g. "for-loop-1[2]/evaluate".
	Task string `json:"task"`
	// output is the task's output artifact name.
	Output string `json:"output"`
	// type is the artifact's schema: system.Metrics (values are scalars by
	// name, e.g. {"accuracy": 0.97}), system.ClassificationMetrics
	// (confusionMatrix {annotationSpecs, rows}, confidenceMetrics) or
	// system.SlicedClassificationMetrics (evaluationSlices).
	Type string `json:"type"`
	// uri is where the artifact is stored; it holds the same values as JSON.
	// +optional
	URI string `json:"uri,omitempty"`
	// values are the artifact's metadata, as the component logged it.
	// +optional
	// +kubebuilder:pruning:PreserveUnknownFields
	// +kubebuilder:validation:Schemaless
	// +kubebuilder:validation:Type=object
	Values *runtime.RawExtension `json:"values,omitempty"`
}

// PipelineRunStatus is the run's progress.
type PipelineRunStatus struct {
	// observedGeneration is the generation the status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// phase is Pending, Running, Succeeded, Failed or Cancelled.
	// +optional
	Phase RunPhase `json:"phase,omitempty"`
	// message explains the phase.
	// +optional
	Message string `json:"message,omitempty"`
	// pipelineVersion is the version the run executes.
	// +optional
	PipelineVersion int32 `json:"pipelineVersion,omitempty"`
	// contentHash is that version's content hash.
	// +optional
	ContentHash string `json:"contentHash,omitempty"`
	// versionConfigMap names the ConfigMap holding that version's content,
	// which the run executes to its end even when the version is dropped or
	// the pipeline deleted meanwhile.
	// +optional
	VersionConfigMap string `json:"versionConfigMap,omitempty"`
	// serviceAccountName is the service account the run's task pods run
	// as, resolved when the run started: spec.serviceAccountName, or the
	// namespace's default (a profile's pipeline runner).
	// +optional
	ServiceAccountName string `json:"serviceAccountName,omitempty"`
	// startTime is when the run started.
	// +optional
	StartTime *metav1.Time `json:"startTime,omitempty"`
	// completionTime is when it finished.
	// +optional
	CompletionTime *metav1.Time `json:"completionTime,omitempty"`
	// tasks counts tasks by phase ("Succeeded": 3; "Ready": waiting for a
	// slot under the run's or the controller's limit).
	// +optional
	Tasks map[string]int32 `json:"tasks,omitempty"`
	// cachedTasks counts the succeeded tasks whose result came from the
	// cache (an earlier task with the same component and inputs) instead of
	// a run of their own; status.state marks which.
	// +optional
	CachedTasks int32 `json:"cachedTasks,omitempty"`
	// failure names the task that failed the run.
	// +optional
	Failure *TaskFailure `json:"failure,omitempty"`
	// outputs are the run's output parameters, JSON-encoded.
	// +optional
	Outputs map[string]string `json:"outputs,omitempty"`
	// metrics are the metrics artifacts the run's tasks produced
	// (system.Metrics, system.ClassificationMetrics,
	// system.SlicedClassificationMetrics) with their values, in task order:
	// what the UI shows and experiment comparison reads. At most
	// MaxRunMetrics entries; metricsOmitted counts the rest.
	// +optional
	// +listType=atomic
	Metrics []TaskMetrics `json:"metrics,omitempty"`
	// metricsOmitted counts metrics artifacts beyond MaxRunMetrics, which
	// only status.state holds.
	// +optional
	MetricsOmitted int32 `json:"metricsOmitted,omitempty"`
	// state is the engine's compact per-task state: for each node its
	// phase, attempts, times, cache hit and outputs (pod names follow from
	// it: <run>-<first 8 hex digits of the run's UID>-<node>-<attempt>).
	// Kept small: a 5,000-task run stays far under 256 KiB.
	// +optional
	// +kubebuilder:pruning:PreserveUnknownFields
	// +kubebuilder:validation:Schemaless
	// +kubebuilder:validation:Type=object
	State *runtime.RawExtension `json:"state,omitempty"`
	// conditions are Succeeded (Unknown while running) and PipelineResolved.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// PipelineRun is one execution of a pipeline version.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=kfrun
// +kubebuilder:printcolumn:name="Pipeline",type=string,JSONPath=`.spec.pipeline`
// +kubebuilder:printcolumn:name="Experiment",type=string,JSONPath=`.spec.experiment`,priority=1
// +kubebuilder:printcolumn:name="Version",type=integer,JSONPath=`.status.pipelineVersion`
// +kubebuilder:printcolumn:name="Phase",type=string,JSONPath=`.status.phase`
// +kubebuilder:printcolumn:name="Started",type=date,JSONPath=`.status.startTime`
// +kubebuilder:printcolumn:name="Finished",type=date,JSONPath=`.status.completionTime`
// +kubebuilder:selectablefield:JSONPath=`.spec.pipeline`
// +kubebuilder:selectablefield:JSONPath=`.status.phase`
// +kubebuilder:selectablefield:JSONPath=`.status.versionConfigMap`
type PipelineRun struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is what to run.
	Spec PipelineRunSpec `json:"spec"`
	// status is the run's progress.
	// +optional
	Status PipelineRunStatus `json:"status,omitempty"`
}

// PipelineRunList is a list of PipelineRuns.
//
// +kubebuilder:object:root=true
type PipelineRunList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	// items are the runs.
	Items []PipelineRun `json:"items"`
}
