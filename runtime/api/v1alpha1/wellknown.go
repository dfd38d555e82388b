package v1alpha1

// Names that the controller, the admission webhooks, the installer
// (bootstrap/runtime) and the provider share. They live beside the types so
// that no client of the API imports the controller.

// Condition types and reasons of a Pipeline.
const (
	// ConditionReady is True when the current content is valid and is the
	// latest version.
	ConditionReady = "Ready"

	ReasonVersionAdded   = "VersionAdded"
	ReasonUpToDate       = "UpToDate"
	ReasonInvalidContent = "InvalidContent"
	// ReasonContentNotStored: the content is valid but its ConfigMap
	// could not be made (a quota on ConfigMaps, say); retried.
	ReasonContentNotStored = "ContentNotStored"
)

// Condition types and reasons of a PipelineRun.
const (
	// ConditionSucceeded is True when the run succeeded, False when it
	// failed or was cancelled, Unknown while it runs.
	ConditionSucceeded = "Succeeded"
	// ConditionPipelineResolved is True once the run's version is known.
	ConditionPipelineResolved = "PipelineResolved"
	// ConditionArtifactStoreAvailable is False while the run's artifact
	// store does not answer (the controller retries), True once it does
	// again; absent on runs that never lost it.
	ConditionArtifactStoreAvailable = "ArtifactStoreAvailable"
	// ConditionTaskPodsStarted is False while a task pod of the running
	// run waits and says why (not scheduled: no node fits; a container
	// waiting: a missing Secret or ConfigMap, an image that cannot be
	// pulled), True once none waits; absent on runs whose pods never
	// waited.
	ConditionTaskPodsStarted = "TaskPodsStarted"

	ReasonRunning           = "Running"
	ReasonSucceeded         = "Succeeded"
	ReasonTaskFailed        = "TaskFailed"
	ReasonCancelled         = "Cancelled"
	ReasonTimedOut          = "TimedOut"
	ReasonInvalid           = "Invalid"
	ReasonResolved          = "Resolved"
	ReasonPipelineNotFound  = "PipelineNotFound"
	ReasonVersionNotFound   = "VersionNotFound"
	ReasonImagesIgnored     = "ImagesIgnored"
	ReasonPodNotControlled  = "PodNotControlled"
	ReasonCreatingPodFailed = "CreatingPodFailed"
	// ReasonExecutorNotAllowed fails a run whose executor the controller
	// does not run (local, without --allow-local-executor).
	ReasonExecutorNotAllowed = "ExecutorNotAllowed"
	// ReasonStoreUnavailable and ReasonStoreAvailable are the reasons of
	// ConditionArtifactStoreAvailable.
	ReasonStoreUnavailable = "StoreUnavailable"
	ReasonStoreAvailable   = "StoreAvailable"
	// ReasonTaskPodsWaiting and ReasonTaskPodsStarted are the reasons of
	// ConditionTaskPodsStarted; ReasonTaskPodsWaiting is also the event
	// of a run whose pods begin to wait.
	ReasonTaskPodsWaiting = "TaskPodsWaiting"
	ReasonTaskPodsStarted = "TaskPodsStarted"
	// ReasonCacheEntryRefused is the event of a cache entry that exists
	// but is not trusted (planted, altered, another namespace's): the task
	// runs instead.
	ReasonCacheEntryRefused = "CacheEntryRefused"
)

// Labels and annotations on task pods. The node and attempt labels tie a
// pod to the engine's node, so that a restarted controller adopts it
// instead of starting the attempt again. LabelRunUID is the watch
// contract: the controller's pod informer selects pods that carry it (the
// UID of the custom resource that owns the pod), and no other pod.
const (
	LabelRun       = "pipelines.kfstack.dev/run"
	LabelRunUID    = "pipelines.kfstack.dev/run-uid"
	LabelNode      = "pipelines.kfstack.dev/node"
	LabelAttempt   = "pipelines.kfstack.dev/attempt"
	AnnotationTask = "pipelines.kfstack.dev/task"
	// AnnotationOutputs marks pods whose task declares outputs, which must
	// report them through the termination message.
	AnnotationOutputs = "pipelines.kfstack.dev/outputs"
)

// AnnotationLocalExecutor is set on the PipelineRun CRD to say that a
// controller serving it allows the local executor (--allow-local-executor),
// and which one: the controller sets it while it runs and removes it when
// it stops, so that kubeflow_run can refuse executor local at plan time
// where no controller allows it. A controller in the cluster never sets
// it. It is advisory: the controller and its admission webhook decide.
const AnnotationLocalExecutor = "pipelines.kfstack.dev/local-executor"

// PipelineRunCRDName is the name of the PipelineRun CRD.
const PipelineRunCRDName = "pipelineruns.pipelines.kfstack.dev"

// Paths of the validating admission webhooks on the controller's webhook
// server; the ValidatingWebhookConfiguration that bootstrap/runtime
// installs points at them.
const (
	PipelineWebhookPath    = "/validate-pipelines-kfstack-dev-v1alpha1-pipeline"
	PipelineRunWebhookPath = "/validate-pipelines-kfstack-dev-v1alpha1-pipelinerun"
	ScheduleWebhookPath    = "/validate-pipelines-kfstack-dev-v1alpha1-schedule"
)

// RuntimeBinaryPath is where the runtime image (make image, internal/image)
// holds kfstack-runtime: the controller's entrypoint, and what the init
// container of every task pod copies into the pod.
const RuntimeBinaryPath = "/usr/local/bin/kfstack-runtime"

// Labels and annotations on the runs a schedule makes.
const (
	// LabelSchedule names the schedule that made a run.
	LabelSchedule = "pipelines.kfstack.dev/schedule"
	// LabelExperiment names the run's experiment.
	LabelExperiment = "pipelines.kfstack.dev/experiment"
	// AnnotationScheduledTime is the fire time a run is for (RFC 3339).
	AnnotationScheduledTime = "pipelines.kfstack.dev/scheduled-time"
	// AnnotationRunIndex is the run's [[Index]].
	AnnotationRunIndex = "pipelines.kfstack.dev/run-index"
)
