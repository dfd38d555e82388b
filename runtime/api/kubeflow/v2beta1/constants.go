package v2beta1

import "strconv"

// Names, labels and environment of the objects an MPIJob makes, as
// mpi-operator's v2 controller makes them, so that images and tools built
// for mpi-operator (entrypoints that read K_MPI_JOB_ROLE and
// /etc/mpi/hostfile, dashboards that select by these labels) keep working.
const (
	// OperatorName is the value of OperatorNameLabel.
	OperatorName = "mpi-operator"
	// OperatorNameLabel, JobNameLabel, JobRoleLabel and ReplicaIndexLabel
	// label the launcher and worker pods; the headless Service selects
	// OperatorNameLabel and JobNameLabel.
	OperatorNameLabel = "training.kubeflow.org/operator-name"
	JobNameLabel      = "training.kubeflow.org/job-name"
	JobRoleLabel      = "training.kubeflow.org/job-role"
	ReplicaIndexLabel = "training.kubeflow.org/replica-index"
	// AppLabel labels the Service, ConfigMap, Secret and launcher Job with
	// the job's name.
	AppLabel = "app"

	// RoleLauncher and RoleWorker are the values of JobRoleLabel and of
	// RoleEnv.
	RoleLauncher = "launcher"
	RoleWorker   = "worker"
	// RoleEnv tells the main container its role.
	RoleEnv = "K_MPI_JOB_ROLE"

	// LauncherSuffix, WorkerSuffix, ConfigSuffix and SSHAuthSecretSuffix
	// follow the job's name in the names of what it makes: the launcher
	// Job (and its pod's hostname), the worker pods (<name>-worker-<i>),
	// the ConfigMap and the SSH Secret. The headless Service and the
	// PodGroup take the job's name.
	LauncherSuffix      = "-launcher"
	WorkerSuffix        = "-worker"
	ConfigSuffix        = "-config"
	SSHAuthSecretSuffix = "-ssh"

	// ConfigMountPath holds HostfileName and DiscoverHostsScriptName in
	// the launcher.
	ConfigMountPath         = "/etc/mpi"
	HostfileName            = "hostfile"
	DiscoverHostsScriptName = "discover_hosts.sh"
	ConfigVolumeName        = "mpi-job-config"
	SSHAuthVolumeName       = "ssh-auth"
	// DefaultSSHAuthMountPath is where SSH keys go unless
	// sshAuthMountPath says otherwise.
	DefaultSSHAuthMountPath = "/root/.ssh"

	// SSHPublicKey is the Secret's key of the public key (the private key
	// is corev1.SSHAuthPrivateKey, "ssh-privatekey").
	SSHPublicKey = "ssh-publickey"
)

// Reasons of the job's conditions and events, as mpi-operator sets them.
const (
	ReasonCreated   = "MPIJobCreated"
	ReasonRunning   = "MPIJobRunning"
	ReasonSucceeded = "MPIJobSucceeded"
	ReasonFailed    = "MPIJobFailed"
	ReasonSuspended = "MPIJobSuspended"
	ReasonResumed   = "MPIJobResumed"
	ReasonEvicted   = "MPIJobEvicted"
	// ReasonWorkerFailed and ReasonWorkerRestarting are this runtime's:
	// a worker that failed fails the job (restart policy Never, or an
	// exit code 1-127 under ExitCode) or is started again.
	ReasonWorkerFailed     = "WorkerFailed"
	ReasonWorkerRestarting = "WorkerRestarting"
	// ReasonInvalid marks a job whose spec the controller cannot run
	// (created before the CRD's validation, or past it).
	ReasonInvalid = "ValidationError"
)

// WorkerName is the name (and hostname) of worker i of job.
func WorkerName(job string, i int) string {
	return job + WorkerSuffix + "-" + strconv.Itoa(i)
}

// WebhookPath is where the runtime's webhook server validates MPIJobs
// (runtime/mpijob.Validator).
const WebhookPath = "/validate-kubeflow-org-v2beta1-mpijob"
