package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ConcurrencyPolicy says what a fire does while earlier runs of the
// schedule still run.
//
// +kubebuilder:validation:Enum=Allow;Forbid;Replace
type ConcurrencyPolicy string

// Concurrency policies.
const (
	// ConcurrencyAllow runs up to maxConcurrency runs at once; a fire
	// beyond that is missed (and caught up as catchup says).
	ConcurrencyAllow ConcurrencyPolicy = "Allow"
	// ConcurrencyForbid runs one run at a time; a fire while one runs is
	// missed (and caught up as catchup says).
	ConcurrencyForbid ConcurrencyPolicy = "Forbid"
	// ConcurrencyReplace cancels the runs in flight (through their
	// spec.cancel, so exit handlers run) and starts the new one.
	ConcurrencyReplace ConcurrencyPolicy = "Replace"
)

// CatchupPolicy says which missed fires run late.
//
// +kubebuilder:validation:Enum=None;Latest;All
type CatchupPolicy string

// Catch-up policies.
const (
	// CatchupNone skips missed fires.
	CatchupNone CatchupPolicy = "None"
	// CatchupLatest makes one run, for the latest missed fire.
	CatchupLatest CatchupPolicy = "Latest"
	// CatchupAll makes a run for every missed fire, oldest first, paced
	// by the concurrency policy and bounded by maxCatchup.
	CatchupAll CatchupPolicy = "All"
)

// Defaults and bounds of a ScheduleSpec. The CRD applies the defaults it
// can express; the controller applies them all, for objects that predate
// them.
const (
	DefaultScheduleTimeZone      = "UTC"
	DefaultConcurrencyPolicy     = ConcurrencyAllow
	DefaultMaxConcurrency        = 1
	DefaultCatchupPolicy         = CatchupLatest
	DefaultMaxCatchup            = 100
	DefaultRunsHistoryLimit      = 10
	MaxCronExpressions           = 20
	MaxCronExpressionLength      = 200
	MaxScheduleMaxConcurrency    = 100
	MaxCatchupLimit              = 1000
	MaxScheduleHistoryLimit      = 1000
	MaxScheduleStopAfterFailures = 1000
	// NextScheduleTimesShown is how many upcoming fire times the status
	// lists.
	NextScheduleTimesShown = 3
)

// ScheduleSpec says when a schedule fires and what each fire runs.
// Changes apply in place from the next fire; runs in flight keep going.
//
// +kubebuilder:validation:XValidation:rule="(has(self.cron) && size(self.cron) > 0) != has(self.interval)",message="exactly one of cron and interval must be set"
// +kubebuilder:validation:XValidation:rule="!has(self.startTime) || !has(self.endTime) || self.endTime > self.startTime",message="endTime must be after startTime"
type ScheduleSpec struct {
	// cron lists cron expressions; the schedule fires whenever one of them
	// matches, in timeZone. Five fields: minute hour day-of-month month
	// day-of-week ("0 0 * * *" is daily at midnight), or six with seconds
	// first when cronSeconds is set; or a descriptor: @yearly, @monthly,
	// @weekly, @daily, @hourly, @every <duration> (counted from startTime,
	// or from the schedule's creation).
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=20
	// +kubebuilder:validation:items:MaxLength=200
	Cron []string `json:"cron,omitempty"`
	// cronSeconds makes the cron expressions six fields, seconds first,
	// as Kubeflow Pipelines writes them ("0 0 * * * *" is hourly).
	// +optional
	CronSeconds bool `json:"cronSeconds,omitempty"`
	// interval fires every interval (at least 1s, whole seconds), counted
	// from startTime, or from the schedule's creation.
	// +optional
	Interval *metav1.Duration `json:"interval,omitempty"`
	// timeZone is the IANA time zone of the cron expressions (default
	// UTC, whatever the controller's zone). When clocks go forward, a
	// fixed time they skip fires once at the first instant after the
	// change; when they go back, a fixed time fires once, in the first
	// pass; expressions that match every hour follow the clock.
	// +optional
	// +kubebuilder:default=UTC
	TimeZone string `json:"timeZone,omitempty"`
	// startTime is when the schedule starts firing (default: at once);
	// intervals count from it.
	// +optional
	StartTime *metav1.Time `json:"startTime,omitempty"`
	// endTime is when it stops; after it the schedule is Completed.
	// +optional
	EndTime *metav1.Time `json:"endTime,omitempty"`
	// suspend stops the fires. Resuming does not run what was missed
	// while suspended, unless catchup is All and catchupFromSuspended is
	// set.
	// +optional
	Suspend bool `json:"suspend,omitempty"`
	// concurrencyPolicy is Allow (up to maxConcurrency runs at once),
	// Forbid (one at a time) or Replace (cancel the running one and start
	// the new one). A fire that would exceed the limit is missed.
	// +optional
	// +kubebuilder:default=Allow
	ConcurrencyPolicy ConcurrencyPolicy `json:"concurrencyPolicy,omitempty"`
	// maxConcurrency is how many runs Allow lets run at once (default 1).
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=100
	MaxConcurrency int32 `json:"maxConcurrency,omitempty"`
	// catchup says which missed fires (the controller was down, the
	// schedule suspended, or the concurrency policy held them back) run
	// late: None, Latest (one run for the latest, the default) or All
	// (every one, oldest first, at most maxCatchup).
	// +optional
	// +kubebuilder:default=Latest
	Catchup CatchupPolicy `json:"catchup,omitempty"`
	// maxCatchup bounds the missed fires All runs; older ones are skipped
	// (default 100).
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=1000
	MaxCatchup int32 `json:"maxCatchup,omitempty"`
	// catchupFromSuspended makes a resumed schedule with catchup All run
	// the fires it missed while suspended.
	// +optional
	CatchupFromSuspended bool `json:"catchupFromSuspended,omitempty"`
	// startingDeadline: a fire that cannot start within this time of its
	// scheduled time is missed, not run.
	// +optional
	StartingDeadline *metav1.Duration `json:"startingDeadline,omitempty"`
	// stopAfterFailures suspends the schedule after this many runs failed
	// in a row (0: never). Resuming starts the count again.
	// +optional
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=1000
	StopAfterFailures int32 `json:"stopAfterFailures,omitempty"`
	// successfulRunsHistoryLimit is how many succeeded runs are kept; older
	// ones are deleted (default 10).
	// +optional
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=1000
	// +kubebuilder:default=10
	SuccessfulRunsHistoryLimit *int32 `json:"successfulRunsHistoryLimit,omitempty"`
	// failedRunsHistoryLimit is how many failed or cancelled runs are
	// kept (default 10).
	// +optional
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=1000
	// +kubebuilder:default=10
	FailedRunsHistoryLimit *int32 `json:"failedRunsHistoryLimit,omitempty"`
	// run is what each fire runs.
	Run ScheduleRunTemplate `json:"run"`
}

// ScheduleRunTemplate is the PipelineRun each fire creates.
type ScheduleRunTemplate struct {
	// pipeline names the Pipeline in the schedule's namespace.
	// +kubebuilder:validation:MinLength=1
	Pipeline string `json:"pipeline"`
	// pipelineVersion pins a version; 0 (unset) takes the latest one at
	// each fire.
	// +optional
	// +kubebuilder:validation:Minimum=0
	PipelineVersion int32 `json:"pipelineVersion,omitempty"`
	// parameters are the run parameters. Values may use the macros
	// [[ScheduledTime]] and [[CurrentTime]] (20060102150405 in timeZone),
	// [[ScheduledTime.<Go time layout>]], [[CurrentTime.<layout>]] and
	// [[Index]] (the run's number, from 1).
	// +optional
	Parameters map[string]string `json:"parameters,omitempty"`
	// pipelineRoot is where the runs' artifacts go (the controller's
	// default when empty).
	// +optional
	PipelineRoot string `json:"pipelineRoot,omitempty"`
	// serviceAccountName runs the task pods.
	// +optional
	ServiceAccountName string `json:"serviceAccountName,omitempty"`
	// parallelism caps the tasks of one run running at once (0: no cap of
	// the run's own).
	// +optional
	// +kubebuilder:validation:Minimum=0
	Parallelism int32 `json:"parallelism,omitempty"`
	// timeout bounds each run.
	// +optional
	Timeout *metav1.Duration `json:"timeout,omitempty"`
	// executor is pod or local.
	// +optional
	// +kubebuilder:default=pod
	Executor Executor `json:"executor,omitempty"`
	// experiment is the Experiment of the namespace the runs belong to
	// (their spec.experiment; "default" when unset); runs also carry it as
	// the label pipelines.kfstack.dev/experiment. A fire while the
	// experiment is archived fails (the PipelineRun webhook refuses new runs
	// in it) and is counted as a failed fire with the reason in lastError.
	// +optional
	// +kubebuilder:validation:MaxLength=63
	Experiment string `json:"experiment,omitempty"`
}

// ScheduleStatus is what the schedule did and will do.
type ScheduleStatus struct {
	// observedGeneration is the generation the status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// lastScheduleTime is the scheduled time of the newest run made.
	// +optional
	LastScheduleTime *metav1.Time `json:"lastScheduleTime,omitempty"`
	// nextScheduleTimes are the next fire times (up to 3; none while
	// suspended, completed or invalid).
	// +optional
	// +listType=atomic
	NextScheduleTimes []metav1.Time `json:"nextScheduleTimes,omitempty"`
	// active names the schedule's runs that have not finished.
	// +optional
	// +listType=set
	Active []string `json:"active,omitempty"`
	// succeededRuns and failedRuns count the schedule's finished runs
	// (cancelled runs count as neither).
	// +optional
	SucceededRuns int64 `json:"succeededRuns,omitempty"`
	// +optional
	FailedRuns int64 `json:"failedRuns,omitempty"`
	// consecutiveFailures counts the runs that failed since the last one
	// that succeeded (or since the schedule was resumed).
	// +optional
	ConsecutiveFailures int32 `json:"consecutiveFailures,omitempty"`
	// lastRunIndex is the [[Index]] of the newest run.
	// +optional
	LastRunIndex int64 `json:"lastRunIndex,omitempty"`
	// skippedThrough: fires up to this time that made no run were missed
	// (skipped by catchup, while suspended, or past startingDeadline).
	// +optional
	SkippedThrough *metav1.Time `json:"skippedThrough,omitempty"`
	// lastError is the latest problem: a fire that could not make its run,
	// an invalid spec.
	// +optional
	LastError string `json:"lastError,omitempty"`
	// triggerHash identifies the fire times the status was computed for
	// (cron, interval, time zone, start): when they change, fires due
	// before the change are not run.
	// +optional
	TriggerHash string `json:"triggerHash,omitempty"`
	// conditions are Ready (the spec is valid and fires are made),
	// Suspended and Completed (past endTime).
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// Schedule makes PipelineRuns on a cron schedule or an interval.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=kfsched
// +kubebuilder:validation:XValidation:rule="self.metadata.name.size() <= 52",message="metadata.name must be at most 52 characters: runs are named <schedule>-<unix seconds> and must fit in 63"
// +kubebuilder:printcolumn:name="Pipeline",type=string,JSONPath=`.spec.run.pipeline`
// +kubebuilder:printcolumn:name="Cron",type=string,JSONPath=`.spec.cron`
// +kubebuilder:printcolumn:name="Interval",type=string,JSONPath=`.spec.interval`
// +kubebuilder:printcolumn:name="TimeZone",type=string,JSONPath=`.spec.timeZone`
// +kubebuilder:printcolumn:name="Suspend",type=boolean,JSONPath=`.spec.suspend`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Last",type=date,JSONPath=`.status.lastScheduleTime`
// +kubebuilder:printcolumn:name="Next",type=string,JSONPath=`.status.nextScheduleTimes[0]`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type Schedule struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec says when to fire and what to run.
	Spec ScheduleSpec `json:"spec"`
	// status is what the schedule did and will do.
	// +optional
	Status ScheduleStatus `json:"status,omitempty"`
}

// ScheduleList is a list of Schedules.
//
// +kubebuilder:object:root=true
type ScheduleList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	// items are the schedules.
	Items []Schedule `json:"items"`
}

// Condition types and reasons of a Schedule.
const (
	// ScheduleConditionReady is True while the spec is valid and fires
	// make their runs.
	ScheduleConditionReady = "Ready"
	// ScheduleConditionSuspended is True while spec.suspend is set.
	ScheduleConditionSuspended = "Suspended"
	// ScheduleConditionCompleted is True once endTime has passed and no
	// fire is left.
	ScheduleConditionCompleted = "Completed"

	ScheduleReasonScheduling       = "Scheduling"
	ScheduleReasonInvalid          = "Invalid"
	ScheduleReasonPipelineNotFound = "PipelineNotFound"
	ScheduleReasonFireFailed       = "FireFailed"
	ScheduleReasonSuspended        = "Suspended"
	ScheduleReasonTooManyFailures  = "TooManyFailures"
	ScheduleReasonResumed          = "Resumed"
	ScheduleReasonEnded            = "Ended"
	ScheduleReasonActive           = "Active"
	ScheduleReasonMissed           = "Missed"
	ScheduleReasonReplaced         = "Replaced"
)
