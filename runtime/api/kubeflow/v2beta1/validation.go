package v2beta1

import (
	"fmt"
	"path"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// MaxNameLength is the longest name an MPIJob can have: its launcher's
// hostname, <name>-launcher, must fit a DNS label.
const MaxNameLength = validation.DNS1123LabelMaxLength - len(LauncherSuffix)

// Validate reports what makes job impossible to run, each problem at its
// field: the rules of the CRD's schema and CEL (which the API server
// applies first), checked again here for the provider's plan and for jobs
// stored before they applied. job is not defaulted first.
func Validate(job *MPIJob) field.ErrorList {
	errs := validateName(job)
	return append(errs, validateSpec(&job.Spec, field.NewPath("spec"))...)
}

func validateName(job *MPIJob) field.ErrorList {
	p := field.NewPath("metadata", "name")
	var errs field.ErrorList
	if msgs := validation.IsDNS1035Label(job.Name); len(msgs) > 0 {
		errs = append(errs, field.Invalid(p, job.Name, "must be a DNS-1035 label, as it names the job's headless Service: "+strings.Join(msgs, "; ")))
		return errs
	}
	if len(job.Name) > MaxNameLength {
		errs = append(errs, field.TooLong(p, job.Name, MaxNameLength))
		return errs
	}
	if n := job.WorkerReplicas(); n > 0 {
		last := WorkerName(job.Name, int(n-1))
		if len(last) > validation.DNS1123LabelMaxLength {
			errs = append(errs, field.Invalid(p, job.Name, fmt.Sprintf("is too long for %d workers: the last worker's hostname %q is longer than %d characters", n, last, validation.DNS1123LabelMaxLength)))
		}
	}
	return errs
}

func validateSpec(spec *MPIJobSpec, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if spec.SlotsPerWorker != nil && *spec.SlotsPerWorker < 1 {
		errs = append(errs, field.Invalid(p.Child("slotsPerWorker"), *spec.SlotsPerWorker, "must be at least 1"))
	}
	if m := spec.SSHAuthMountPath; m != "" && (!strings.HasPrefix(m, "/") || path.Clean(m) != m && path.Clean(m)+"/" != m) {
		errs = append(errs, field.Invalid(p.Child("sshAuthMountPath"), m, "must be an absolute, clean path such as /home/mpiuser/.ssh"))
	}
	switch spec.MPIImplementation {
	case "", MPIImplementationOpenMPI, MPIImplementationIntel, MPIImplementationMPICH:
	default:
		errs = append(errs, field.NotSupported(p.Child("mpiImplementation"), spec.MPIImplementation, []string{string(MPIImplementationOpenMPI), string(MPIImplementationIntel), string(MPIImplementationMPICH)}))
	}
	switch spec.LauncherCreationPolicy {
	case "", LauncherCreationPolicyAtStartup, LauncherCreationPolicyWaitForWorkersReady:
	default:
		errs = append(errs, field.NotSupported(p.Child("launcherCreationPolicy"), spec.LauncherCreationPolicy, []string{string(LauncherCreationPolicyAtStartup), string(LauncherCreationPolicyWaitForWorkersReady)}))
	}
	errs = append(errs, validateRunPolicy(&spec.RunPolicy, p.Child("runPolicy"))...)
	errs = append(errs, validateReplicaSpecs(spec, p.Child("mpiReplicaSpecs"))...)
	return errs
}

func validateRunPolicy(rp *RunPolicy, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if c := rp.CleanPodPolicy; c != nil {
		switch *c {
		case CleanPodPolicyNone, CleanPodPolicyRunning, CleanPodPolicyAll:
		default:
			errs = append(errs, field.NotSupported(p.Child("cleanPodPolicy"), *c, []string{string(CleanPodPolicyNone), string(CleanPodPolicyRunning), string(CleanPodPolicyAll)}))
		}
	}
	if t := rp.TTLSecondsAfterFinished; t != nil && *t < 0 {
		errs = append(errs, field.Invalid(p.Child("ttlSecondsAfterFinished"), *t, "must not be negative"))
	}
	if d := rp.ActiveDeadlineSeconds; d != nil && *d < 1 {
		errs = append(errs, field.Invalid(p.Child("activeDeadlineSeconds"), *d, "must be at least 1"))
	}
	if b := rp.BackoffLimit; b != nil && *b < 0 {
		errs = append(errs, field.Invalid(p.Child("backoffLimit"), *b, "must not be negative"))
	}
	if m := rp.ManagedBy; m != nil && *m != KubeflowJobController && *m != MultiKueueController {
		errs = append(errs, field.NotSupported(p.Child("managedBy"), *m, []string{KubeflowJobController, MultiKueueController}))
	}
	if sp := rp.SchedulingPolicy; sp != nil {
		if sp.MinAvailable != nil && *sp.MinAvailable < 0 {
			errs = append(errs, field.Invalid(p.Child("schedulingPolicy", "minAvailable"), *sp.MinAvailable, "must not be negative"))
		}
		if sp.ScheduleTimeoutSeconds != nil && *sp.ScheduleTimeoutSeconds < 0 {
			errs = append(errs, field.Invalid(p.Child("schedulingPolicy", "scheduleTimeoutSeconds"), *sp.ScheduleTimeoutSeconds, "must not be negative"))
		}
	}
	return errs
}

func validateReplicaSpecs(spec *MPIJobSpec, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	for t := range spec.MPIReplicaSpecs {
		if t != MPIReplicaTypeLauncher && t != MPIReplicaTypeWorker {
			errs = append(errs, field.NotSupported(p.Key(string(t)), string(t), []string{string(MPIReplicaTypeLauncher), string(MPIReplicaTypeWorker)}))
		}
	}
	asWorker := spec.RunLauncherAsWorker != nil && *spec.RunLauncherAsWorker
	launcher := spec.MPIReplicaSpecs[MPIReplicaTypeLauncher]
	lp := p.Key(string(MPIReplicaTypeLauncher))
	if launcher == nil {
		errs = append(errs, field.Required(lp, "a Launcher replica spec is required"))
	} else {
		errs = append(errs, validateReplicaSpec(launcher, lp)...)
		if launcher.Replicas != nil && *launcher.Replicas != 1 {
			errs = append(errs, field.Invalid(lp.Child("replicas"), *launcher.Replicas, "must be 1"))
		}
		if launcher.RestartPolicy == RestartPolicyAlways {
			errs = append(errs, field.NotSupported(lp.Child("restartPolicy"), launcher.RestartPolicy, []string{string(RestartPolicyNever), string(RestartPolicyOnFailure), string(RestartPolicyExitCode)}))
		}
	}
	worker := spec.MPIReplicaSpecs[MPIReplicaTypeWorker]
	wp := p.Key(string(MPIReplicaTypeWorker))
	workers := int32(0)
	switch {
	case worker == nil && !asWorker:
		errs = append(errs, field.Required(wp, "a Worker replica spec is required unless runLauncherAsWorker is true"))
	case worker != nil:
		errs = append(errs, validateReplicaSpec(worker, wp)...)
		if worker.Replicas != nil {
			workers = *worker.Replicas
		}
		if workers < 1 && !asWorker && (worker.Replicas == nil || *worker.Replicas >= 0) {
			errs = append(errs, field.Invalid(wp.Child("replicas"), workers, "must be at least 1 (0 only with runLauncherAsWorker)"))
		}
	}
	if spec.LauncherCreationPolicy == LauncherCreationPolicyWaitForWorkersReady && workers < 1 {
		errs = append(errs, field.Invalid(field.NewPath("spec", "launcherCreationPolicy"), spec.LauncherCreationPolicy, "needs at least one worker to wait for"))
	}
	if sp := spec.RunPolicy.SchedulingPolicy; sp != nil && sp.MinAvailable != nil && *sp.MinAvailable > 1+workers {
		errs = append(errs, field.Invalid(field.NewPath("spec", "runPolicy", "schedulingPolicy", "minAvailable"), *sp.MinAvailable, fmt.Sprintf("is more than the launcher and workers together (%d): the gang could never be scheduled", 1+workers)))
	}
	return errs
}

func validateReplicaSpec(rs *ReplicaSpec, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if rs.Replicas != nil && *rs.Replicas < 0 {
		errs = append(errs, field.Invalid(p.Child("replicas"), *rs.Replicas, "must not be negative"))
	}
	switch rs.RestartPolicy {
	case "", RestartPolicyAlways, RestartPolicyOnFailure, RestartPolicyNever, RestartPolicyExitCode:
	default:
		errs = append(errs, field.NotSupported(p.Child("restartPolicy"), rs.RestartPolicy, []string{string(RestartPolicyAlways), string(RestartPolicyOnFailure), string(RestartPolicyNever), string(RestartPolicyExitCode)}))
	}
	if len(rs.Template.Spec.Containers) == 0 {
		errs = append(errs, field.Required(p.Child("template", "spec", "containers"), "at least one container is required"))
	}
	for i, c := range rs.Template.Spec.Containers {
		if c.Image == "" {
			errs = append(errs, field.Required(p.Child("template", "spec", "containers").Index(i).Child("image"), "an image is required"))
		}
	}
	return errs
}

// ValidateUpdate reports the changes from old to job that the controller
// cannot follow: the fields that shape the job's objects (implementation,
// slots, SSH mount path, launcher as worker, launcher creation policy,
// managedBy) never change; the pods' templates change only while the job
// is suspended (when Kueue writes the node selectors, tolerations, labels
// and annotations of the flavor it admitted the job to) or before it
// started, and worker replicas may change at any time (elastic jobs).
func ValidateUpdate(old, job *MPIJob) field.ErrorList {
	errs := Validate(job)
	p := field.NewPath("spec")
	immutable := func(name string, a, b any) {
		if !equality.Semantic.DeepEqual(a, b) {
			errs = append(errs, field.Forbidden(p.Child(name), "is immutable"))
		}
	}
	o, n := old.DeepCopy(), job.DeepCopy()
	SetDefaults(o)
	SetDefaults(n)
	immutable("mpiImplementation", o.Spec.MPIImplementation, n.Spec.MPIImplementation)
	immutable("slotsPerWorker", o.Spec.SlotsPerWorker, n.Spec.SlotsPerWorker)
	immutable("sshAuthMountPath", o.Spec.SSHAuthMountPath, n.Spec.SSHAuthMountPath)
	immutable("runLauncherAsWorker", o.Spec.RunLauncherAsWorker, n.Spec.RunLauncherAsWorker)
	immutable("launcherCreationPolicy", o.Spec.LauncherCreationPolicy, n.Spec.LauncherCreationPolicy)
	if !equality.Semantic.DeepEqual(o.Spec.RunPolicy.ManagedBy, n.Spec.RunPolicy.ManagedBy) {
		errs = append(errs, field.Forbidden(p.Child("runPolicy", "managedBy"), "is immutable"))
	}
	started := old.Status.StartTime != nil && !old.Suspended()
	if !started || job.Suspended() {
		return errs
	}
	for _, t := range []MPIReplicaType{MPIReplicaTypeLauncher, MPIReplicaTypeWorker} {
		a, b := o.Spec.MPIReplicaSpecs[t], n.Spec.MPIReplicaSpecs[t]
		if a == nil || b == nil {
			if (a == nil) != (b == nil) {
				errs = append(errs, field.Forbidden(p.Child("mpiReplicaSpecs").Key(string(t)), "cannot be added or removed while the job runs"))
			}
			continue
		}
		if !equality.Semantic.DeepEqual(podSpecWithoutScheduling(a.Template.Spec), podSpecWithoutScheduling(b.Template.Spec)) || a.RestartPolicy != b.RestartPolicy {
			errs = append(errs, field.Forbidden(p.Child("mpiReplicaSpecs").Key(string(t)).Child("template"), "cannot change while the job runs (suspend it first)"))
		}
	}
	return errs
}

// podSpecWithoutScheduling is spec without what Kueue may set on a
// suspended job's templates.
func podSpecWithoutScheduling(spec corev1.PodSpec) corev1.PodSpec {
	spec.NodeSelector, spec.Tolerations, spec.SchedulingGates = nil, nil, nil
	return spec
}
