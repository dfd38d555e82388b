package fakegke

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"cloud.google.com/go/container/apiv1/containerpb"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"

	"github.com/kfstack/terraform-provider-kubeflow/internal/gkemachine"
	"github.com/kfstack/terraform-provider-kubeflow/internal/testcluster"
)

// Labels and annotations of the nodes the fake makes, beside GKE's own.
const (
	// ClusterLabel names the fake cluster a node belongs to: every fake
	// cluster is the same control plane, so its nodes tell them apart.
	ClusterLabel = "fakegke.kfstack.dev/cluster"
	// userLabelsAnnotation lists the keys of node_config.labels on the
	// node, so that a label the pool drops is removed.
	userLabelsAnnotation = "fakegke.kfstack.dev/user-labels"
	// machineAnnotation is a hash of what makes a node's machine: a
	// change recreates the node, as GKE's surge upgrade does.
	machineAnnotation = "fakegke.kfstack.dev/machine"

	NodePoolLabel       = "cloud.google.com/gke-nodepool"
	AcceleratorLabel    = "cloud.google.com/gke-accelerator"
	TPUAcceleratorLabel = "cloud.google.com/gke-tpu-accelerator"
	TPUTopologyLabel    = "cloud.google.com/gke-tpu-topology"
	GPUResource         = "nvidia.com/gpu"
	TPUResource         = "google.com/tpu"
)

// nodeManager makes the KWOK nodes of node pools.
type nodeManager struct {
	client kubernetes.Interface
}

// nodeName is GKE's node naming, shortened to stay a valid hostname label:
// gke-<cluster>-<pool>-<hash>-<zone letter><index>.
func nodeName(cluster, pool, zone string, i int) string {
	sum := sha256.Sum256([]byte(cluster + "/" + pool))
	trim := func(s string, n int) string { return strings.TrimRight(s[:min(len(s), n)], "-") }
	return fmt.Sprintf("gke-%s-%s-%s-%s%d", trim(cluster, 14), trim(pool, 18), hex.EncodeToString(sum[:])[:6], zone[len(zone)-1:], i)
}

// desiredNode is a node of a pool as GKE would register it.
func desiredNode(cluster, location string, p *containerpb.NodePool, zone string, i int) (*corev1.Node, error) {
	cfg := p.GetConfig()
	m, err := gkemachine.Lookup(cfg.GetMachineType())
	if err != nil {
		return nil, err
	}
	name := nodeName(cluster, p.GetName(), zone, i)
	labels := map[string]string{
		"type":                                 "kwok",
		"kubernetes.io/hostname":               name,
		"kubernetes.io/os":                     "linux",
		"kubernetes.io/arch":                   "amd64",
		"node.kubernetes.io/instance-type":     m.Name,
		"topology.kubernetes.io/zone":          zone,
		"topology.kubernetes.io/region":        region(location),
		NodePoolLabel:                          p.GetName(),
		"cloud.google.com/machine-family":      m.Family,
		"cloud.google.com/gke-boot-disk":       cfg.GetDiskType(),
		"cloud.google.com/gke-os-distribution": osDistribution(cfg.GetImageType()),
		ClusterLabel:                           cluster,
	}
	if cfg.GetSpot() {
		labels["cloud.google.com/gke-spot"] = "true"
	}
	if cfg.GetPreemptible() {
		labels["cloud.google.com/gke-preemptible"] = "true"
	}
	if cfg.GetWorkloadMetadataConfig().GetMode() == containerpb.WorkloadMetadataConfig_GKE_METADATA {
		labels["iam.gke.io/gke-metadata-server-enabled"] = "true"
	}
	capacity := corev1.ResourceList{
		corev1.ResourcePods:             resource.MustParse("110"),
		corev1.ResourceCPU:              *resource.NewQuantity(int64(m.CPU), resource.DecimalSI),
		corev1.ResourceMemory:           *resource.NewQuantity(m.MemoryMB*1024*1024, resource.BinarySI),
		corev1.ResourceEphemeralStorage: *resource.NewQuantity(int64(cfg.GetDiskSizeGb())*1000*1000*1000, resource.DecimalSI),
	}
	var taints []corev1.Taint
	for _, a := range cfg.GetAccelerators() {
		count := a.GetAcceleratorCount()
		labels[AcceleratorLabel] = a.GetAcceleratorType()
		labels["cloud.google.com/gke-gpu"] = "true"
		if v := a.GetGpuDriverInstallationConfig().GetGpuDriverVersion(); v == containerpb.GPUDriverInstallationConfig_DEFAULT || v == containerpb.GPUDriverInstallationConfig_LATEST {
			labels["cloud.google.com/gke-gpu-driver-version"] = strings.ToLower(v.String())
		}
		if ps := a.GetGpuPartitionSize(); ps != "" {
			labels["cloud.google.com/gke-gpu-partition-size"] = ps
		}
		if sh := a.GetGpuSharingConfig(); sh != nil && sh.GetMaxSharedClientsPerGpu() > 1 {
			labels["cloud.google.com/gke-gpu-sharing-strategy"] = strings.ReplaceAll(strings.ToLower(sh.GetGpuSharingStrategy().String()), "_", "-")
			labels["cloud.google.com/gke-max-shared-clients-per-gpu"] = strconv.FormatInt(sh.GetMaxSharedClientsPerGpu(), 10)
			count *= sh.GetMaxSharedClientsPerGpu()
		}
		capacity[GPUResource] = *resource.NewQuantity(count, resource.DecimalSI)
		taints = append(taints, corev1.Taint{Key: GPUResource, Value: "present", Effect: corev1.TaintEffectNoSchedule})
	}
	if m.TPU != nil {
		topology := p.GetPlacementPolicy().GetTpuTopology()
		if topology == "" {
			topology = m.TPU.SingleHost[0]
		}
		labels[TPUAcceleratorLabel] = m.TPU.Accelerator
		labels[TPUTopologyLabel] = topology
		labels["cloud.google.com/gke-accelerator-count"] = strconv.Itoa(m.TPU.Chips)
		capacity[TPUResource] = *resource.NewQuantity(int64(m.TPU.Chips), resource.DecimalSI)
		taints = append(taints, corev1.Taint{Key: TPUResource, Value: "present", Effect: corev1.TaintEffectNoSchedule})
	}
	userLabels := cfg.GetLabels()
	maps.Copy(labels, userLabels)
	for _, t := range cfg.GetTaints() {
		taints = append(taints, corev1.Taint{Key: t.GetKey(), Value: t.GetValue(), Effect: taintEffect(t.GetEffect())})
	}
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{
			Name:   name,
			Labels: labels,
			Annotations: map[string]string{
				testcluster.KWOKNodeAnnotation: "fake",
				"node.alpha.kubernetes.io/ttl": "0",
				userLabelsAnnotation:           strings.Join(slices.Sorted(maps.Keys(userLabels)), ","),
				machineAnnotation:              machineHash(p),
			},
		},
		Spec: corev1.NodeSpec{Taints: taints, ProviderID: fmt.Sprintf("gce://fake/%s/%s", zone, name)},
		Status: corev1.NodeStatus{
			Capacity:    capacity,
			Allocatable: capacity,
			NodeInfo:    corev1.NodeSystemInfo{Architecture: "amd64", OperatingSystem: "linux", KubeletVersion: "v" + strings.SplitN(p.GetVersion(), "-", 2)[0], OSImage: "Container-Optimized OS from Google"},
		},
	}, nil
}

func osDistribution(imageType string) string {
	if strings.HasPrefix(strings.ToUpper(imageType), "UBUNTU") {
		return "ubuntu"
	}
	return "cos"
}

func taintEffect(e containerpb.NodeTaint_Effect) corev1.TaintEffect {
	switch e {
	case containerpb.NodeTaint_PREFER_NO_SCHEDULE:
		return corev1.TaintEffectPreferNoSchedule
	case containerpb.NodeTaint_NO_EXECUTE:
		return corev1.TaintEffectNoExecute
	default:
		return corev1.TaintEffectNoSchedule
	}
}

// machineHash covers what a node is made of: a change means a new node.
func machineHash(p *containerpb.NodePool) string {
	cfg := p.GetConfig()
	var accs []string
	for _, a := range cfg.GetAccelerators() {
		accs = append(accs, fmt.Sprintf("%s/%d/%s", a.GetAcceleratorType(), a.GetAcceleratorCount(), a.GetGpuSharingConfig().String()))
	}
	sum := sha256.Sum256([]byte(fmt.Sprintf("%s|%s|%d|%s|%v|%s|%s", cfg.GetMachineType(), cfg.GetDiskType(), cfg.GetDiskSizeGb(), cfg.GetImageType(), accs, p.GetPlacementPolicy().GetTpuTopology(), p.GetVersion())))
	return hex.EncodeToString(sum[:])[:12]
}

func (n *nodeManager) list(ctx context.Context, selector string) ([]corev1.Node, error) {
	list, err := n.client.CoreV1().Nodes().List(ctx, metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		return nil, err
	}
	return list.Items, nil
}

// reconcile makes the nodes of a pool in a zone: size nodes of the
// pool's current configuration. Extra nodes are drained and deleted, nodes
// of another machine recreated, and labels and taints updated in place.
func (n *nodeManager) reconcile(ctx context.Context, cluster, location string, p *containerpb.NodePool, zone string, size int) error {
	live, err := n.list(ctx, fmt.Sprintf("%s=%s,%s=%s,topology.kubernetes.io/zone=%s", ClusterLabel, cluster, NodePoolLabel, p.GetName(), zone))
	if err != nil {
		return err
	}
	byName := map[string]*corev1.Node{}
	for i := range live {
		byName[live[i].Name] = &live[i]
	}
	for i := range size {
		want, err := desiredNode(cluster, location, p, zone, i)
		if err != nil {
			return err
		}
		have := byName[want.Name]
		delete(byName, want.Name)
		switch {
		case have == nil:
		case have.Annotations[machineAnnotation] != want.Annotations[machineAnnotation]:
			if err := n.drainAndDelete(ctx, have.Name); err != nil {
				return err
			}
		default:
			if err := n.relabel(ctx, want); err != nil {
				return err
			}
			continue
		}
		if err := n.create(ctx, want); err != nil {
			return err
		}
	}
	for _, name := range slices.Sorted(maps.Keys(byName)) {
		if err := n.drainAndDelete(ctx, name); err != nil {
			return err
		}
	}
	return nil
}

func (n *nodeManager) create(ctx context.Context, node *corev1.Node) error {
	// A node deleted a moment ago may still be finalizing.
	for {
		err := testcluster.CreateNode(ctx, n.client, node)
		if !apierrors.IsAlreadyExists(err) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// relabel sets a node's labels and taints to the pool's, removing user
// labels the pool no longer has and taints it no longer sets (taints
// Kubernetes sets, node.kubernetes.io/*, stay).
func (n *nodeManager) relabel(ctx context.Context, want *corev1.Node) error {
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		node, err := n.client.CoreV1().Nodes().Get(ctx, want.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		changed := false
		for _, k := range strings.Split(node.Annotations[userLabelsAnnotation], ",") {
			if _, keep := want.Labels[k]; k != "" && !keep {
				delete(node.Labels, k)
				changed = true
			}
		}
		for k, v := range want.Labels {
			if node.Labels[k] != v {
				node.Labels[k] = v
				changed = true
			}
		}
		if node.Annotations[userLabelsAnnotation] != want.Annotations[userLabelsAnnotation] {
			node.Annotations[userLabelsAnnotation] = want.Annotations[userLabelsAnnotation]
			changed = true
		}
		taints := slices.DeleteFunc(slices.Clone(node.Spec.Taints), func(t corev1.Taint) bool { return !strings.HasPrefix(t.Key, "node.kubernetes.io/") })
		taints = append(taints, want.Spec.Taints...)
		if !slices.EqualFunc(taints, node.Spec.Taints, func(a, b corev1.Taint) bool { return a.MatchTaint(&b) && a.Value == b.Value }) {
			node.Spec.Taints = taints
			changed = true
		}
		if !changed {
			return nil
		}
		_, err = n.client.CoreV1().Nodes().Update(ctx, node, metav1.UpdateOptions{})
		return err
	})
}

// drainAndDelete cordons a node, deletes its pods and then the node, as
// GKE drains a node it removes.
func (n *nodeManager) drainAndDelete(ctx context.Context, name string) error {
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		node, err := n.client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		node.Spec.Unschedulable = true
		_, err = n.client.CoreV1().Nodes().Update(ctx, node, metav1.UpdateOptions{})
		return err
	})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("cordoning node %s: %w", name, err)
	}
	pods, err := n.client.CoreV1().Pods("").List(ctx, metav1.ListOptions{FieldSelector: "spec.nodeName=" + name})
	if err != nil {
		return err
	}
	for _, pod := range pods.Items {
		if err := n.client.CoreV1().Pods(pod.Namespace).Delete(ctx, pod.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("draining node %s: %w", name, err)
		}
	}
	if err := n.client.CoreV1().Nodes().Delete(ctx, name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("deleting node %s: %w", name, err)
	}
	return nil
}

func (n *nodeManager) deleteBySelector(ctx context.Context, selector string) error {
	nodes, err := n.list(ctx, selector)
	if err != nil {
		return err
	}
	for _, node := range nodes {
		if err := n.drainAndDelete(ctx, node.Name); err != nil {
			return err
		}
	}
	return nil
}

func (n *nodeManager) deletePool(ctx context.Context, cluster, pool string) error {
	return n.deleteBySelector(ctx, fmt.Sprintf("%s=%s,%s=%s", ClusterLabel, cluster, NodePoolLabel, pool))
}

func (n *nodeManager) deleteCluster(ctx context.Context, cluster string) error {
	return n.deleteBySelector(ctx, ClusterLabel+"="+cluster)
}

// waitReady waits until every node of a pool is Ready and schedulable.
func (n *nodeManager) waitReady(ctx context.Context, cluster, pool string) error {
	for {
		nodes, err := n.list(ctx, fmt.Sprintf("%s=%s,%s=%s", ClusterLabel, cluster, NodePoolLabel, pool))
		if err != nil {
			return err
		}
		waiting := ""
		for i := range nodes {
			if !testcluster.NodeSchedulable(&nodes[i]) && !nodes[i].Spec.Unschedulable {
				waiting = nodes[i].Name
			}
		}
		if waiting == "" {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("node %s did not become Ready: %w", waiting, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}
