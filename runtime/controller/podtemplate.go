package controller

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"

	"github.com/kfstack/terraform-provider-kubeflow/internal/imagerewrite"
)

// TaskPodDefaults are what the cluster's operator adds to every task pod,
// beside what each task asks for: where task pods may run, volumes every
// task needs (such as the filesystem behind a file:// pipeline root), and
// how images are pulled.
type TaskPodDefaults struct {
	// NodeSelector is merged into each pod's node selector; a task's own
	// selector (its accelerator) wins on a conflicting key.
	NodeSelector map[string]string `json:"nodeSelector,omitempty"`
	// Tolerations are added to each pod's tolerations.
	Tolerations []corev1.Toleration `json:"tolerations,omitempty"`
	// Volumes are added to each pod.
	Volumes []corev1.Volume `json:"volumes,omitempty"`
	// VolumeMounts are added to the user's container.
	VolumeMounts []corev1.VolumeMount `json:"volumeMounts,omitempty"`
	// ImagePullPolicy of the user's and the init container; the
	// Kubernetes default when empty.
	ImagePullPolicy corev1.PullPolicy `json:"imagePullPolicy,omitempty"`
	// Labels and Annotations are added to each pod; the controller's own
	// keys win.
	Labels      map[string]string `json:"labels,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
	// Requests are the requests of a container that sets none of a
	// resource, where otherwise its limit would be its request: small
	// nodes (the local cluster's real node) can then run pods whose
	// limits add up to more than they have.
	Requests corev1.ResourceList `json:"requests,omitempty"`
}

// ApplyRequests sets the default requests on the containers that request
// nothing of a resource.
func (d TaskPodDefaults) ApplyRequests(spec *corev1.PodSpec) {
	for name, q := range d.Requests {
		for _, cs := range [][]corev1.Container{spec.InitContainers, spec.Containers} {
			for i := range cs {
				if _, set := cs[i].Resources.Requests[name]; set {
					continue
				}
				if cs[i].Resources.Requests == nil {
					cs[i].Resources.Requests = corev1.ResourceList{}
				}
				r := q.DeepCopy()
				if l, ok := cs[i].Resources.Limits[name]; ok && l.Cmp(r) < 0 {
					r = l.DeepCopy()
				}
				cs[i].Resources.Requests[name] = r
			}
		}
	}
}

// validate reports defaults that no pod could be created with.
func (d TaskPodDefaults) validate() error {
	switch d.ImagePullPolicy {
	case "", corev1.PullAlways, corev1.PullIfNotPresent, corev1.PullNever:
	default:
		return fmt.Errorf("task pod defaults: imagePullPolicy %q is not Always, IfNotPresent or Never", d.ImagePullPolicy)
	}
	volumes := map[string]bool{binVolume: true}
	for _, v := range d.Volumes {
		if v.Name == "" {
			return fmt.Errorf("task pod defaults: a volume has no name")
		}
		if volumes[v.Name] {
			return fmt.Errorf("task pod defaults: volume %q is defined twice (or uses the controller's name %q)", v.Name, binVolume)
		}
		volumes[v.Name] = true
	}
	for _, m := range d.VolumeMounts {
		if !volumes[m.Name] || m.Name == binVolume {
			return fmt.Errorf("task pod defaults: volume mount %q names no volume of the defaults", m.Name)
		}
		if m.MountPath == "" || m.MountPath == binDir {
			return fmt.Errorf("task pod defaults: volume mount %q needs a mount path other than %s", m.Name, binDir)
		}
	}
	return nil
}

// apply adds the defaults to a task pod built by buildPod, and rewrites
// its images with rules.
func (d TaskPodDefaults) apply(pod *corev1.Pod, rules imagerewrite.Rules) error {
	spec := &pod.Spec
	for k, v := range d.NodeSelector {
		if spec.NodeSelector == nil {
			spec.NodeSelector = map[string]string{}
		}
		if _, set := spec.NodeSelector[k]; !set {
			spec.NodeSelector[k] = v
		}
	}
	spec.Tolerations = append(spec.Tolerations, d.Tolerations...)
	spec.Volumes = append(spec.Volumes, d.Volumes...)
	for i := range spec.Containers {
		if spec.Containers[i].Name == mainContainer {
			spec.Containers[i].VolumeMounts = append(spec.Containers[i].VolumeMounts, d.VolumeMounts...)
		}
	}
	if d.ImagePullPolicy != "" {
		for _, cs := range [][]corev1.Container{spec.InitContainers, spec.Containers} {
			for i := range cs {
				cs[i].ImagePullPolicy = d.ImagePullPolicy
			}
		}
	}
	d.ApplyRequests(spec)
	pod.Labels = mergeMissing(pod.Labels, d.Labels)
	pod.Annotations = mergeMissing(pod.Annotations, d.Annotations)
	if err := rules.RewritePodSpec(spec); err != nil {
		return fmt.Errorf("rewriting images: %w", err)
	}
	return nil
}

// mergeMissing adds to m the keys of add it does not have.
func mergeMissing(m, add map[string]string) map[string]string {
	for k, v := range add {
		if m == nil {
			m = map[string]string{}
		}
		if _, set := m[k]; !set {
			m[k] = v
		}
	}
	return m
}
