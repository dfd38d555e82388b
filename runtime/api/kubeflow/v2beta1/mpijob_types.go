package v2beta1

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// MPIJob runs an MPI program: a launcher that starts it with mpirun over
// SSH (or Hydra) on a set of worker pods.
//
// The rules below refuse at admission what mpi-operator's controller would
// only report in an event: names too long for the objects derived from
// them (the launcher's and workers' hostnames are DNS labels), replica
// counts and specs the controller cannot run.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:validation:XValidation:rule="self.metadata.name.matches('^[a-z]([-a-z0-9]*[a-z0-9])?$')",message="metadata.name must be a DNS-1035 label (lowercase letters, digits and '-', starting with a letter): it names the job's headless Service"
// +kubebuilder:validation:XValidation:rule="size(self.metadata.name) <= 54",message="metadata.name must be at most 54 characters: the launcher's hostname <name>-launcher must fit a DNS label (63)"
// +kubebuilder:validation:XValidation:rule="!has(self.spec) || !('Worker' in self.spec.mpiReplicaSpecs) || !has(self.spec.mpiReplicaSpecs['Worker'].replicas) || size(self.metadata.name) + 8 + size(string(self.spec.mpiReplicaSpecs['Worker'].replicas - 1)) <= 63",message="metadata.name is too long for the number of workers: the last worker's hostname <name>-worker-<replicas-1> must fit a DNS label (63)"
type MPIJob struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	// spec is the job.
	Spec MPIJobSpec `json:"spec,omitempty"`
	// status is the job's progress, as mpi-operator reports it.
	Status JobStatus `json:"status,omitempty"`
}

// MPIJobList is a list of MPIJobs.
//
// +kubebuilder:object:root=true
type MPIJobList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata"`
	// items are the jobs.
	Items []MPIJob `json:"items"`
}

// CleanPodPolicy describes how to deal with pods when the job is finished.
//
// +kubebuilder:validation:Enum=None;Running;All
type CleanPodPolicy string

// Clean pod policies.
const (
	// CleanPodPolicyUndefined is the unset policy (None applies).
	CleanPodPolicyUndefined CleanPodPolicy = ""
	// CleanPodPolicyAll deletes every worker pod when the job finishes.
	CleanPodPolicyAll CleanPodPolicy = "All"
	// CleanPodPolicyRunning deletes the worker pods still running or
	// pending when the job finishes.
	CleanPodPolicyRunning CleanPodPolicy = "Running"
	// CleanPodPolicyNone keeps every pod.
	CleanPodPolicyNone CleanPodPolicy = "None"
)

// SchedulingPolicy encapsulates various scheduling policies of the distributed training
// job, for example `minAvailable` for gang-scheduling.
// Now, it supports only for volcano and scheduler-plugins.
type SchedulingPolicy struct {
	// MinAvailable defines the minimal number of member to run the PodGroup.
	// If the gang-scheduling isn't empty, input is passed to `.spec.minMember` in PodGroup.
	// Note that, when using this field,
	// you need to make sure the application supports resizing (e.g., Elastic Horovod).
	//
	// If not set, it defaults to the number of workers.
	// +optional
	// +kubebuilder:validation:Minimum=0
	MinAvailable *int32 `json:"minAvailable,omitempty"`

	// Queue defines the queue name to allocate resource for PodGroup.
	// If the gang-scheduling is set to the volcano,
	// input is passed to `.spec.queue` in PodGroup for the volcano,
	// and if it is set to the scheduler-plugins,
	// input isn't passed to PodGroup.
	// +optional
	Queue string `json:"queue,omitempty"`

	// MinResources defines the minimal resources of members to run the PodGroup.
	// If the gang-scheduling isn't empty,
	// input is passed to `.spec.minResources` in PodGroup for scheduler-plugins.
	// +optional
	MinResources *corev1.ResourceList `json:"minResources,omitempty"`

	// PriorityClass defines the PodGroup's PriorityClass.
	// If the gang-scheduling is set to the volcano,
	// input is passed to `.spec.priorityClassName` in PodGroup for volcano,
	// and if it is set to the scheduler-plugins,
	// input isn't passed to PodGroup for scheduler-plugins.
	// +optional
	PriorityClass string `json:"priorityClass,omitempty"`

	// SchedulerTimeoutSeconds defines the maximal time of members to wait before run the PodGroup.
	// If the gang-scheduling is set to the scheduler-plugins,
	// input is passed to `.spec.scheduleTimeoutSeconds` in PodGroup for the scheduler-plugins,
	// and if it is set to the volcano, input isn't passed to PodGroup.
	// +optional
	// +kubebuilder:validation:Minimum=0
	ScheduleTimeoutSeconds *int32 `json:"scheduleTimeoutSeconds,omitempty"`
}

// The values of runPolicy.managedBy.
const (
	// KubeflowJobController is the value of runPolicy.managedBy of jobs
	// that mpi-operator (or this runtime, in its place) reconciles, as
	// does an unset one.
	KubeflowJobController = "kubeflow.org/mpi-operator"
	// MultiKueueController is the value of runPolicy.managedBy of jobs
	// that Kueue's MultiKueue dispatches to another cluster: this
	// cluster's controller leaves them alone.
	MultiKueueController = "kueue.x-k8s.io/multikueue"
)

// RunPolicy encapsulates various runtime policies of the distributed training
// job, for example how to clean up resources and how long the job can stay
// active.
type RunPolicy struct {
	// CleanPodPolicy defines the policy to kill pods after the job completes.
	// Default to Running.
	CleanPodPolicy *CleanPodPolicy `json:"cleanPodPolicy,omitempty"`

	// TTLSecondsAfterFinished is the TTL to clean up jobs.
	// It may take extra ReconcilePeriod seconds for the cleanup, since
	// reconcile gets called periodically.
	// Default to infinite.
	// +kubebuilder:validation:Minimum=0
	TTLSecondsAfterFinished *int32 `json:"ttlSecondsAfterFinished,omitempty"`

	// Specifies the duration in seconds relative to the startTime that the job may be active
	// before the system tries to terminate it; value must be positive integer.
	// +optional
	// +kubebuilder:validation:Minimum=1
	ActiveDeadlineSeconds *int64 `json:"activeDeadlineSeconds,omitempty"`

	// Optional number of retries before marking this job failed.
	// +optional
	// +kubebuilder:validation:Minimum=0
	BackoffLimit *int32 `json:"backoffLimit,omitempty"`

	// SchedulingPolicy defines the policy related to scheduling, e.g. gang-scheduling
	// +optional
	SchedulingPolicy *SchedulingPolicy `json:"schedulingPolicy,omitempty"`

	// suspend specifies whether the MPIJob controller should create Pods or not.
	// If a MPIJob is created with suspend set to true, no Pods are created by
	// the MPIJob controller. If a MPIJob is suspended after creation (i.e. the
	// flag goes from false to true), the MPIJob controller will delete all
	// active Pods and PodGroups associated with this MPIJob. Also, it will suspend the
	// Launcher Job. Users must design their workload to gracefully handle this.
	// Suspending a Job will reset the StartTime field of the MPIJob.
	//
	// Defaults to false.
	// +kubebuilder:default:=false
	Suspend *bool `json:"suspend,omitempty"`

	// ManagedBy is used to indicate the controller or entity that manages a MPIJob.
	// The value must be either empty, 'kubeflow.org/mpi-operator' or
	// 'kueue.x-k8s.io/multikueue'.
	// The mpi-operator reconciles a MPIJob which doesn't have this
	// field at all or the field value is the reserved string
	// 'kubeflow.org/mpi-operator', but delegates reconciling the MPIJob
	// with 'kueue.x-k8s.io/multikueue' to the Kueue.
	// The field is immutable.
	// +optional
	// +kubebuilder:validation:XValidation:rule="self in ['kubeflow.org/mpi-operator', 'kueue.x-k8s.io/multikueue']",message="must be kubeflow.org/mpi-operator or kueue.x-k8s.io/multikueue (or unset)"
	ManagedBy *string `json:"managedBy,omitempty"`
}

// LauncherCreationPolicy says when the launcher starts.
//
// +kubebuilder:validation:Enum=AtStartup;WaitForWorkersReady
type LauncherCreationPolicy string

// Launcher creation policies.
const (
	// LauncherCreationPolicyAtStartup starts the launcher with the
	// workers.
	LauncherCreationPolicyAtStartup LauncherCreationPolicy = "AtStartup"
	// LauncherCreationPolicyWaitForWorkersReady starts the launcher once
	// every worker is Ready and its SSH server answers, so that the
	// launcher does not fail trying to reach them.
	LauncherCreationPolicyWaitForWorkersReady LauncherCreationPolicy = "WaitForWorkersReady"
)

// MPIJobSpec is the job.
//
// +kubebuilder:validation:XValidation:rule="('Worker' in self.mpiReplicaSpecs) || (has(self.runLauncherAsWorker) && self.runLauncherAsWorker)",message="a Worker replica spec is required unless runLauncherAsWorker is true",fieldPath=".mpiReplicaSpecs"
// +kubebuilder:validation:XValidation:rule="!('Worker' in self.mpiReplicaSpecs) || (has(self.runLauncherAsWorker) && self.runLauncherAsWorker) || (has(self.mpiReplicaSpecs['Worker'].replicas) && self.mpiReplicaSpecs['Worker'].replicas >= 1)",message="mpiReplicaSpecs[Worker].replicas must be at least 1 (0 only with runLauncherAsWorker)",fieldPath=".mpiReplicaSpecs"
// +kubebuilder:validation:XValidation:rule="!has(self.launcherCreationPolicy) || self.launcherCreationPolicy != 'WaitForWorkersReady' || ('Worker' in self.mpiReplicaSpecs && has(self.mpiReplicaSpecs['Worker'].replicas) && self.mpiReplicaSpecs['Worker'].replicas >= 1)",message="WaitForWorkersReady needs at least one worker to wait for",fieldPath=".launcherCreationPolicy"
// +kubebuilder:validation:XValidation:rule="!has(self.runPolicy) || !has(self.runPolicy.schedulingPolicy) || !has(self.runPolicy.schedulingPolicy.minAvailable) || self.runPolicy.schedulingPolicy.minAvailable <= 1 + ('Worker' in self.mpiReplicaSpecs && has(self.mpiReplicaSpecs['Worker'].replicas) ? self.mpiReplicaSpecs['Worker'].replicas : 0)",message="runPolicy.schedulingPolicy.minAvailable is more than the launcher and workers together: the gang could never be scheduled",fieldPath=".runPolicy"
// +kubebuilder:validation:XValidation:rule="(has(self.runPolicy) && has(self.runPolicy.managedBy)) == (has(oldSelf.runPolicy) && has(oldSelf.runPolicy.managedBy)) && (!has(self.runPolicy) || !has(self.runPolicy.managedBy) || self.runPolicy.managedBy == oldSelf.runPolicy.managedBy)",message="runPolicy.managedBy is immutable",fieldPath=".runPolicy"
type MPIJobSpec struct {
	// Specifies the number of slots per worker used in hostfile.
	// Defaults to 1.
	// +optional
	// +kubebuilder:default:=1
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="is immutable"
	SlotsPerWorker *int32 `json:"slotsPerWorker,omitempty"`

	// RunLauncherAsWorker indicates whether to run worker process in launcher
	// Defaults to false.
	// +optional
	// +kubebuilder:default:=false
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="is immutable"
	RunLauncherAsWorker *bool `json:"runLauncherAsWorker,omitempty"`

	// RunPolicy encapsulates various runtime policies of the job.
	RunPolicy RunPolicy `json:"runPolicy,omitempty"`

	// MPIReplicaSpecs contains maps from `MPIReplicaType` to `ReplicaSpec` that
	// specify the MPI replicas to run.
	// +kubebuilder:validation:XValidation:rule="self.all(k, k == 'Launcher' || k == 'Worker')",message="the replica types are Launcher and Worker"
	// +kubebuilder:validation:XValidation:rule="'Launcher' in self",message="a Launcher replica spec is required"
	// +kubebuilder:validation:XValidation:rule="!('Launcher' in self) || !has(self['Launcher'].replicas) || self['Launcher'].replicas == 1",message="Launcher.replicas must be 1"
	// +kubebuilder:validation:XValidation:rule="!('Launcher' in self) || !has(self['Launcher'].restartPolicy) || self['Launcher'].restartPolicy != 'Always'",message="Launcher.restartPolicy cannot be Always: the launcher runs as a Job (Never, OnFailure or ExitCode)"
	MPIReplicaSpecs map[MPIReplicaType]*ReplicaSpec `json:"mpiReplicaSpecs"`

	// SSHAuthMountPath is the directory where SSH keys are mounted.
	// Defaults to "/root/.ssh".
	// +kubebuilder:default:="/root/.ssh"
	// +kubebuilder:validation:Pattern=`^/`
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="is immutable"
	SSHAuthMountPath string `json:"sshAuthMountPath,omitempty"`

	// launcherCreationPolicy if WaitForWorkersReady, the launcher is created only after all workers are in Ready state. Defaults to AtStartup.
	// +kubebuilder:default:=AtStartup
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="is immutable"
	LauncherCreationPolicy LauncherCreationPolicy `json:"launcherCreationPolicy,omitempty"`

	// MPIImplementation is the MPI implementation.
	// Options are "OpenMPI" (default), "Intel" and "MPICH".
	// +kubebuilder:validation:Enum:=OpenMPI;Intel;MPICH
	// +kubebuilder:default:=OpenMPI
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="is immutable"
	MPIImplementation MPIImplementation `json:"mpiImplementation,omitempty"`
}

// MPIReplicaType is the type for MPIReplica.
type MPIReplicaType string

// Replica types.
const (
	// MPIReplicaTypeLauncher is the type for launcher replica.
	MPIReplicaTypeLauncher MPIReplicaType = "Launcher"
	// MPIReplicaTypeWorker is the type for worker replicas.
	MPIReplicaTypeWorker MPIReplicaType = "Worker"
)

// MPIImplementation is an MPI implementation.
type MPIImplementation string

// MPI implementations.
const (
	// MPIImplementationOpenMPI is Open MPI: mpirun reads the hostfile
	// ("host slots=N") and starts ranks over SSH.
	MPIImplementationOpenMPI MPIImplementation = "OpenMPI"
	// MPIImplementationIntel is Intel MPI (Hydra, "host:N").
	MPIImplementationIntel MPIImplementation = "Intel"
	// MPIImplementationMPICH is MPICH (Hydra, "host:N").
	MPIImplementationMPICH MPIImplementation = "MPICH"
)

// JobStatus represents the current observed state of the training Job.
type JobStatus struct {
	// conditions is a list of current observed job conditions.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []JobCondition `json:"conditions,omitempty"`

	// replicaStatuses is map of ReplicaType and ReplicaStatus,
	// specifies the status of each replica.
	// +optional
	ReplicaStatuses map[MPIReplicaType]*ReplicaStatus `json:"replicaStatuses,omitempty"`

	// Represents time when the job was acknowledged by the job controller.
	// It is not guaranteed to be set in happens-before order across separate operations.
	// It is represented in RFC3339 form and is in UTC.
	// +optional
	StartTime *metav1.Time `json:"startTime,omitempty"`

	// Represents time when the job was completed. It is not guaranteed to
	// be set in happens-before order across separate operations.
	// It is represented in RFC3339 form and is in UTC.
	// +optional
	CompletionTime *metav1.Time `json:"completionTime,omitempty"`

	// Represents last time when the job was reconciled. It is not guaranteed to
	// be set in happens-before order across separate operations.
	// It is represented in RFC3339 form and is in UTC.
	// +optional
	LastReconcileTime *metav1.Time `json:"lastReconcileTime,omitempty"`
}

// ReplicaStatus represents the current observed state of the replica.
type ReplicaStatus struct {
	// The number of actively running pods.
	// +optional
	Active int32 `json:"active,omitempty"`

	// The number of pods which reached phase succeeded.
	// +optional
	Succeeded int32 `json:"succeeded,omitempty"`

	// The number of pods which reached phase failed.
	// +optional
	Failed int32 `json:"failed,omitempty"`

	// Deprecated: Use selector instead
	// +optional
	LabelSelector *metav1.LabelSelector `json:"labelSelector,omitempty"`

	// A selector is a label query over a set of resources. The result of matchLabels and
	// matchExpressions are ANDed. An empty selector matches all objects. A null
	// selector matches no objects.
	// +optional
	Selector string `json:"selector,omitempty"`
}

// JobCondition describes the state of the job at a certain point.
type JobCondition struct {
	// type of job condition.
	Type JobConditionType `json:"type"`

	// status of the condition, one of True, False, Unknown.
	// +kubebuilder:validation:Enum:=True;False;Unknown
	Status corev1.ConditionStatus `json:"status"`

	// The reason for the condition's last transition.
	// +optional
	Reason string `json:"reason,omitempty"`

	// A human-readable message indicating details about the transition.
	// +optional
	Message string `json:"message,omitempty"`

	// The last time this condition was updated.
	// +optional
	LastUpdateTime metav1.Time `json:"lastUpdateTime,omitempty"`

	// Last time the condition transitioned from one status to another.
	// +optional
	LastTransitionTime metav1.Time `json:"lastTransitionTime,omitempty"`
}

// JobConditionType defines all kinds of types of JobStatus.
type JobConditionType string

// Condition types.
const (
	// JobCreated means the job has been accepted by the system,
	// but one or more of the pods/services has not been started.
	// This includes time before pods being scheduled and launched.
	JobCreated JobConditionType = "Created"

	// JobRunning means all sub-resources (e.g. services/pods) of this job
	// have been successfully scheduled and launched.
	// The training is running without error.
	JobRunning JobConditionType = "Running"

	// JobRestarting means one or more sub-resources (e.g. services/pods) of this job
	// reached phase failed but maybe restarted according to it's restart policy
	// which specified by user in v1.PodTemplateSpec.
	// The training is freezing/pending.
	JobRestarting JobConditionType = "Restarting"

	// JobSucceeded means all sub-resources (e.g. services/pods) of this job
	// reached phase have terminated in success.
	// The training is complete without error.
	JobSucceeded JobConditionType = "Succeeded"

	// JobSuspended means the job has been suspended.
	JobSuspended JobConditionType = "Suspended"

	// JobFailed means one or more sub-resources (e.g. services/pods) of this job
	// reached phase failed with no restarting.
	// The training has failed its execution.
	JobFailed JobConditionType = "Failed"
)

// ReplicaSpec is a description of the replica
//
// +kubebuilder:validation:XValidation:rule="has(self.template) && has(self.template.spec) && size(self.template.spec.containers) > 0",message="template.spec.containers: at least one container is required"
type ReplicaSpec struct {
	// Replicas is the desired number of replicas of the given template.
	// If unspecified, defaults to 1.
	// +kubebuilder:validation:Minimum=0
	Replicas *int32 `json:"replicas,omitempty"`

	// Template is the object that describes the pod that
	// will be created for this replica. RestartPolicy in PodTemplateSpec
	// will be overide by RestartPolicy in ReplicaSpec
	Template corev1.PodTemplateSpec `json:"template,omitempty"`

	// Restart policy for all replicas within the job.
	// One of Always, OnFailure, Never and ExitCode.
	// Default to Never.
	RestartPolicy RestartPolicy `json:"restartPolicy,omitempty"`
}

// RestartPolicy describes how the replicas should be restarted.
// Only one of the following restart policies may be specified.
// If none of the following policies is specified, the default one
// is RestartPolicyAlways.
//
// +kubebuilder:validation:Enum=Always;OnFailure;Never;ExitCode
type RestartPolicy string

// Restart policies.
const (
	// RestartPolicyAlways restarts the container whenever it exits.
	RestartPolicyAlways RestartPolicy = "Always"
	// RestartPolicyOnFailure restarts the container when it fails.
	RestartPolicyOnFailure RestartPolicy = "OnFailure"
	// RestartPolicyNever never restarts.
	RestartPolicyNever RestartPolicy = "Never"
	// RestartPolicyExitCode policy means that user should add exit code by themselves,
	// The job operator will check these exit codes to
	// determine the behavior when an error occurs:
	// - 1-127: permanent error, do not restart.
	// - 128-255: retryable error, will restart the pod.
	RestartPolicyExitCode RestartPolicy = "ExitCode"
)
