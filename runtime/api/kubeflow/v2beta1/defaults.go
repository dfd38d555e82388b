package v2beta1

// Defaults mpi-operator applies in its controller, not in the CRD: a
// stored MPIJob keeps what its author wrote, and every reader defaults
// the same way.
const (
	// DefaultLauncherRestartPolicy is the launcher's restart policy when
	// unset.
	DefaultLauncherRestartPolicy = RestartPolicyOnFailure
	// DefaultWorkerRestartPolicy is the workers' restart policy when
	// unset.
	DefaultWorkerRestartPolicy = RestartPolicyNever
)

// SetDefaults fills what mpi-operator defaults: cleanPodPolicy None,
// one slot per worker, /root/.ssh, OpenMPI, AtStartup, one launcher
// restarted OnFailure, workers never restarted (0 of them when the count
// is unset). It changes job in place.
func SetDefaults(job *MPIJob) {
	spec := &job.Spec
	if spec.RunPolicy.CleanPodPolicy == nil {
		p := CleanPodPolicyNone
		spec.RunPolicy.CleanPodPolicy = &p
	}
	if spec.SlotsPerWorker == nil {
		one := int32(1)
		spec.SlotsPerWorker = &one
	}
	if spec.RunLauncherAsWorker == nil {
		no := false
		spec.RunLauncherAsWorker = &no
	}
	if spec.SSHAuthMountPath == "" {
		spec.SSHAuthMountPath = DefaultSSHAuthMountPath
	}
	if spec.MPIImplementation == "" {
		spec.MPIImplementation = MPIImplementationOpenMPI
	}
	if spec.LauncherCreationPolicy == "" {
		spec.LauncherCreationPolicy = LauncherCreationPolicyAtStartup
	}
	if l := spec.MPIReplicaSpecs[MPIReplicaTypeLauncher]; l != nil {
		if l.RestartPolicy == "" {
			l.RestartPolicy = DefaultLauncherRestartPolicy
		}
		if l.Replicas == nil {
			one := int32(1)
			l.Replicas = &one
		}
	}
	if w := spec.MPIReplicaSpecs[MPIReplicaTypeWorker]; w != nil {
		if w.RestartPolicy == "" {
			w.RestartPolicy = DefaultWorkerRestartPolicy
		}
		if w.Replicas == nil {
			zero := int32(0)
			w.Replicas = &zero
		}
	}
}

// Suspended reports whether runPolicy.suspend is true.
func (j *MPIJob) Suspended() bool {
	return j.Spec.RunPolicy.Suspend != nil && *j.Spec.RunPolicy.Suspend
}

// WorkerReplicas is the number of workers (0 without a Worker spec).
func (j *MPIJob) WorkerReplicas() int32 {
	if w := j.Spec.MPIReplicaSpecs[MPIReplicaTypeWorker]; w != nil && w.Replicas != nil {
		return *w.Replicas
	}
	return 0
}

// LauncherRunsAsWorker reports whether runLauncherAsWorker is true.
func (j *MPIJob) LauncherRunsAsWorker() bool {
	return j.Spec.RunLauncherAsWorker != nil && *j.Spec.RunLauncherAsWorker
}

// ManagedElsewhere reports whether runPolicy.managedBy names a controller
// other than mpi-operator's (Kueue's MultiKueue): this cluster's
// controller must then leave the job alone.
func (j *MPIJob) ManagedElsewhere() bool {
	m := j.Spec.RunPolicy.ManagedBy
	return m != nil && *m != "" && *m != KubeflowJobController
}

// Condition returns the condition of type t, nil when there is none.
func (s *JobStatus) Condition(t JobConditionType) *JobCondition {
	for i := range s.Conditions {
		if s.Conditions[i].Type == t {
			return &s.Conditions[i]
		}
	}
	return nil
}

// IsTrue reports whether the condition of type t is True.
func (s *JobStatus) IsTrue(t JobConditionType) bool {
	c := s.Condition(t)
	return c != nil && c.Status == "True"
}

// Finished reports whether the job Succeeded or Failed.
func (s *JobStatus) Finished() bool {
	return s.IsTrue(JobSucceeded) || s.IsTrue(JobFailed)
}
