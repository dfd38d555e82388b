package mpijob

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	kubeflow "github.com/kfstack/terraform-provider-kubeflow/runtime/api/kubeflow/v2beta1"
)

// Gang scheduling: with a gang scheduler named (--mpi-gang-scheduler, as
// mpi-operator's --gang-scheduling), each job gets a PodGroup of its name
// and its pods name the scheduler, so that the launcher and every worker
// are scheduled together or not at all. "volcano" makes Volcano's
// PodGroup (scheduling.volcano.sh/v1beta1); any other name is the
// scheduler of scheduler-plugins' coscheduling (scheduling.x-k8s.io/v1alpha1).
// PodGroups are built unstructured: neither project's Go module is needed.

// VolcanoScheduler is the scheduler name that selects Volcano.
const VolcanoScheduler = "volcano"

// Volcano's and scheduler-plugins' PodGroup kinds.
var (
	VolcanoPodGroup        = schema.GroupVersionKind{Group: "scheduling.volcano.sh", Version: "v1beta1", Kind: "PodGroup"}
	SchedulerPluginsGroup  = schema.GroupVersionKind{Group: "scheduling.x-k8s.io", Version: "v1alpha1", Kind: "PodGroup"}
	volcanoGroupAnnotation = "scheduling.k8s.io/group-name"
	pluginsGroupLabel      = "scheduling.x-k8s.io/pod-group"
	volcanoQueueAnnotation = "scheduling.volcano.sh/queue-name"
)

// gang is the configured gang scheduler; the zero value is none.
type gang struct{ scheduler string }

func (g gang) enabled() bool { return g.scheduler != "" }

func (g gang) kind() schema.GroupVersionKind {
	if g.scheduler == VolcanoScheduler {
		return VolcanoPodGroup
	}
	return SchedulerPluginsGroup
}

// decorate makes a pod template name the gang scheduler and the job's
// PodGroup.
func (g gang) decorate(tmpl *corev1.PodTemplateSpec, job string) {
	if !g.enabled() {
		return
	}
	tmpl.Spec.SchedulerName = g.scheduler
	if g.scheduler == VolcanoScheduler {
		if tmpl.Annotations == nil {
			tmpl.Annotations = map[string]string{}
		}
		tmpl.Annotations[volcanoGroupAnnotation] = job
		return
	}
	if tmpl.Labels == nil {
		tmpl.Labels = map[string]string{}
	}
	tmpl.Labels[pluginsGroupLabel] = job
}

// minMember is schedulingPolicy.minAvailable, else the launcher and every
// worker.
func minMember(job *kubeflow.MPIJob) int32 {
	if sp := job.Spec.RunPolicy.SchedulingPolicy; sp != nil && sp.MinAvailable != nil {
		return *sp.MinAvailable
	}
	return job.WorkerReplicas() + 1
}

// minResources is schedulingPolicy.minResources, else what the first
// minMember pods request (the launcher, then workers).
func minResources(job *kubeflow.MPIJob, members int32) corev1.ResourceList {
	if sp := job.Spec.RunPolicy.SchedulingPolicy; sp != nil && sp.MinResources != nil {
		return *sp.MinResources
	}
	total := corev1.ResourceList{}
	add := func(rs *kubeflow.ReplicaSpec, n int32) {
		for range n {
			for _, c := range rs.Template.Spec.Containers {
				for name, q := range requestsOf(c) {
					sum := total[name]
					sum.Add(q)
					total[name] = sum
				}
			}
		}
	}
	left := members
	if l := job.Spec.MPIReplicaSpecs[kubeflow.MPIReplicaTypeLauncher]; l != nil && left > 0 {
		add(l, 1)
		left--
	}
	if w := job.Spec.MPIReplicaSpecs[kubeflow.MPIReplicaTypeWorker]; w != nil && left > 0 {
		add(w, min(left, job.WorkerReplicas()))
	}
	if len(total) == 0 {
		return nil
	}
	return total
}

// requestsOf is a container's requests, its limits where it requests
// nothing (as the API server defaults them).
func requestsOf(c corev1.Container) corev1.ResourceList {
	out := corev1.ResourceList{}
	for name, q := range c.Resources.Limits {
		out[name] = q
	}
	for name, q := range c.Resources.Requests {
		out[name] = q
	}
	return out
}

// newPodGroup is the job's PodGroup for the configured scheduler.
func (g gang) newPodGroup(job *kubeflow.MPIJob) *unstructured.Unstructured {
	pg := &unstructured.Unstructured{Object: map[string]any{}}
	pg.SetGroupVersionKind(g.kind())
	pg.SetName(job.Name)
	pg.SetNamespace(job.Namespace)
	pg.SetLabels(objectLabels(job))
	pg.SetOwnerReferences([]metav1.OwnerReference{controllerRef(job)})
	members := minMember(job)
	spec := map[string]any{"minMember": int64(members)}
	if res := minResources(job, members); res != nil {
		spec["minResources"] = quantities(res)
	}
	sp := job.Spec.RunPolicy.SchedulingPolicy
	if g.scheduler == VolcanoScheduler {
		queue := job.Annotations[volcanoQueueAnnotation]
		if sp != nil && sp.Queue != "" {
			queue = sp.Queue
		}
		if queue != "" {
			spec["queue"] = queue
		}
		pc := ""
		if sp != nil && sp.PriorityClass != "" {
			pc = sp.PriorityClass
		} else if l := job.Spec.MPIReplicaSpecs[kubeflow.MPIReplicaTypeLauncher]; l != nil {
			pc = l.Template.Spec.PriorityClassName
		}
		if pc != "" {
			spec["priorityClassName"] = pc
		}
	} else {
		timeout := int64(0)
		if sp != nil && sp.ScheduleTimeoutSeconds != nil {
			timeout = int64(*sp.ScheduleTimeoutSeconds)
		}
		spec["scheduleTimeoutSeconds"] = timeout
	}
	pg.Object["spec"] = spec
	return pg
}

func quantities(l corev1.ResourceList) map[string]any {
	out := make(map[string]any, len(l))
	for name, q := range l {
		out[string(name)] = q.String()
	}
	return out
}
