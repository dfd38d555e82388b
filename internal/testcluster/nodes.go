package testcluster

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// KWOKNodeAnnotation marks the nodes KWOK simulates; a real kubelet node
// does not carry it.
const KWOKNodeAnnotation = "kwok.x-k8s.io/node"

// NodePool is a group of identical simulated nodes.
type NodePool struct {
	// Name is the pool's name, used in node names and the
	// cloud.google.com/gke-nodepool label.
	Name   string
	Count  int
	CPU    string
	Memory string
	// Accelerators are extended resources, such as nvidia.com/gpu.
	Accelerators map[corev1.ResourceName]string
	Labels       map[string]string
	Taints       []corev1.Taint
}

// DefaultNodePools are what GKE gives an ML platform: CPU nodes, NVIDIA GPU
// nodes and a TPU slice, labelled and tainted as GKE labels and taints them.
func DefaultNodePools() []NodePool {
	return []NodePool{
		{Name: "cpu", Count: 2, CPU: "16", Memory: "64Gi"},
		{
			Name: "gpu", Count: 2, CPU: "16", Memory: "64Gi",
			Accelerators: map[corev1.ResourceName]string{"nvidia.com/gpu": "4"},
			Labels:       map[string]string{"cloud.google.com/gke-accelerator": "nvidia-l4"},
			Taints:       []corev1.Taint{{Key: "nvidia.com/gpu", Value: "present", Effect: corev1.TaintEffectNoSchedule}},
		},
		{
			Name: "tpu", Count: 1, CPU: "24", Memory: "48Gi",
			Accelerators: map[corev1.ResourceName]string{"google.com/tpu": "4"},
			Labels: map[string]string{
				"cloud.google.com/gke-tpu-accelerator": "tpu-v5-lite-podslice",
				"cloud.google.com/gke-tpu-topology":    "2x2",
			},
			Taints: []corev1.Taint{{Key: "google.com/tpu", Value: "present", Effect: corev1.TaintEffectNoSchedule}},
		},
	}
}

// nodes returns the Node objects of the pool, for KWOK to manage.
func (p NodePool) nodes() ([]*corev1.Node, error) {
	capacity := corev1.ResourceList{corev1.ResourcePods: resource.MustParse("110")}
	for name, value := range map[corev1.ResourceName]string{corev1.ResourceCPU: p.CPU, corev1.ResourceMemory: p.Memory} {
		q, err := resource.ParseQuantity(value)
		if err != nil {
			return nil, fmt.Errorf("node pool %s: %s: %w", p.Name, name, err)
		}
		capacity[name] = q
	}
	for name, value := range p.Accelerators {
		q, err := resource.ParseQuantity(value)
		if err != nil {
			return nil, fmt.Errorf("node pool %s: %s: %w", p.Name, name, err)
		}
		capacity[name] = q
	}
	var out []*corev1.Node
	for i := range p.Count {
		name := fmt.Sprintf("kwok-%s-%d", p.Name, i)
		labels := map[string]string{
			"type":                          "kwok",
			"kubernetes.io/hostname":        name,
			"kubernetes.io/os":              "linux",
			"kubernetes.io/arch":            "amd64",
			"cloud.google.com/gke-nodepool": p.Name,
		}
		for k, v := range p.Labels {
			labels[k] = v
		}
		out = append(out, &corev1.Node{
			ObjectMeta: metav1.ObjectMeta{
				Name:        name,
				Labels:      labels,
				Annotations: map[string]string{KWOKNodeAnnotation: "fake", "node.alpha.kubernetes.io/ttl": "0"},
			},
			Spec: corev1.NodeSpec{Taints: p.Taints},
			Status: corev1.NodeStatus{
				Capacity:    capacity,
				Allocatable: capacity,
				NodeInfo:    corev1.NodeSystemInfo{Architecture: "amd64", OperatingSystem: "linux", KubeletVersion: "fake"},
			},
		})
	}
	return out, nil
}
