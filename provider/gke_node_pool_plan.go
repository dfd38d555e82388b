package provider

import (
	"context"
	"fmt"
	"maps"
	"strings"

	container "cloud.google.com/go/container/apiv1"
	"cloud.google.com/go/container/apiv1/containerpb"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"
	"google.golang.org/protobuf/encoding/prototext"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kfstack/terraform-provider-kubeflow/internal/gkemachine"
)

// poolUpdate is one in-place change: a GKE call.
type poolUpdate struct {
	what string
	call func(context.Context, *container.ClusterManagerClient) (*containerpb.Operation, error)
}

func isSet(v attr.Value) bool { return !v.IsNull() && !v.IsUnknown() }

// changed reports a configured value that differs from the state.
func changed(plan, state attr.Value) bool { return !plan.IsUnknown() && !plan.Equal(state) }

// poolUpdates lists the calls that bring the pool from state to plan.
func poolUpdates(ctx context.Context, plan, state *gkeNodePoolModel, name string) []poolUpdate {
	var out []poolUpdate
	update := func(what string, fill func(*containerpb.UpdateNodePoolRequest)) {
		req := &containerpb.UpdateNodePoolRequest{Name: name}
		fill(req)
		out = append(out, poolUpdate{what: what, call: func(ctx context.Context, c *container.ClusterManagerClient) (*containerpb.Operation, error) {
			return c.UpdateNodePool(ctx, req)
		}})
	}
	if plan.Autoscaling.proto().String() != state.Autoscaling.proto().String() {
		a := plan.Autoscaling.proto()
		if a == nil {
			a = &containerpb.NodePoolAutoscaling{Enabled: false}
		}
		out = append(out, poolUpdate{what: "autoscaling", call: func(ctx context.Context, c *container.ClusterManagerClient) (*containerpb.Operation, error) {
			return c.SetNodePoolAutoscaling(ctx, &containerpb.SetNodePoolAutoscalingRequest{Name: name, Autoscaling: a})
		}})
	}
	if plan.Autoscaling == nil && isSet(plan.NodeCount) && changed(plan.NodeCount, state.NodeCount) {
		n := int32(plan.NodeCount.ValueInt64())
		out = append(out, poolUpdate{what: fmt.Sprintf("resizing to %d nodes per zone", n), call: func(ctx context.Context, c *container.ClusterManagerClient) (*containerpb.Operation, error) {
			return c.SetNodePoolSize(ctx, &containerpb.SetNodePoolSizeRequest{Name: name, NodeCount: n})
		}})
	}
	if p, s := plan.Management, state.Management; p != nil && (s == nil || changed(p.AutoRepair, s.AutoRepair) || changed(p.AutoUpgrade, s.AutoUpgrade)) {
		m := &containerpb.NodeManagement{AutoRepair: orTrue(p.AutoRepair), AutoUpgrade: orTrue(p.AutoUpgrade)}
		out = append(out, poolUpdate{what: "management", call: func(ctx context.Context, c *container.ClusterManagerClient) (*containerpb.Operation, error) {
			return c.SetNodePoolManagement(ctx, &containerpb.SetNodePoolManagementRequest{Name: name, Management: m})
		}})
	}
	if isSet(plan.Version) && changed(plan.Version, state.Version) {
		v := plan.Version.ValueString()
		update("node version "+v, func(r *containerpb.UpdateNodePoolRequest) { r.NodeVersion = v })
	}
	if isSet(plan.NodeLocations) && changed(plan.NodeLocations, state.NodeLocations) {
		zones := stringSet(ctx, plan.NodeLocations)
		update("node locations", func(r *containerpb.UpdateNodePoolRequest) { r.Locations = zones })
	}
	if p, s := plan.UpgradeSettings, state.UpgradeSettings; p != nil && (s == nil || p.proto().String() != s.proto().String()) {
		u := p.proto()
		update("upgrade settings", func(r *containerpb.UpdateNodePoolRequest) { r.UpgradeSettings = u })
	}
	pc, sc := plan.NodeConfig, state.NodeConfig
	if pc == nil {
		return out
	}
	if sc == nil {
		sc = &nodeConfigModel{}
	}
	if changed(pc.MachineType, sc.MachineType) || changed(pc.DiskType, sc.DiskType) || changed(pc.DiskSizeGB, sc.DiskSizeGB) {
		update("machine type and disk", func(r *containerpb.UpdateNodePoolRequest) {
			if changed(pc.MachineType, sc.MachineType) {
				r.MachineType = pc.MachineType.ValueString()
			}
			if changed(pc.DiskType, sc.DiskType) {
				r.DiskType = pc.DiskType.ValueString()
			}
			if changed(pc.DiskSizeGB, sc.DiskSizeGB) {
				r.DiskSizeGb = pc.DiskSizeGB.ValueInt64()
			}
		})
	}
	if isSet(pc.ImageType) && changed(pc.ImageType, sc.ImageType) {
		it := pc.ImageType.ValueString()
		update("image type "+it, func(r *containerpb.UpdateNodePoolRequest) { r.ImageType = it })
	}
	if !pc.Labels.IsUnknown() && !mapsEqual(ctx, pc.Labels, sc.Labels) {
		labels, _ := stringMap(ctx, pc.Labels)
		update("labels", func(r *containerpb.UpdateNodePoolRequest) { r.Labels = &containerpb.NodeLabels{Labels: labels} })
	}
	if !pc.ResourceLabels.IsUnknown() && !mapsEqual(ctx, pc.ResourceLabels, sc.ResourceLabels) {
		labels, _ := stringMap(ctx, pc.ResourceLabels)
		update("resource labels", func(r *containerpb.UpdateNodePoolRequest) {
			r.ResourceLabels = &containerpb.ResourceLabels{Labels: labels}
		})
	}
	if taintKey(pc.Taint) != taintKey(sc.Taint) {
		taints := taintsProto(pc.Taint)
		update("taints", func(r *containerpb.UpdateNodePoolRequest) { r.Taints = &containerpb.NodeTaints{Taints: taints} })
	}
	if w := pc.WorkloadMetadataConfig; w != nil && (sc.WorkloadMetadataConfig == nil || changed(w.Mode, sc.WorkloadMetadataConfig.Mode)) {
		mode := enumValue[containerpb.WorkloadMetadataConfig_Mode](containerpb.WorkloadMetadataConfig_Mode_value, w.Mode.ValueString())
		update("workload metadata", func(r *containerpb.UpdateNodePoolRequest) {
			r.WorkloadMetadataConfig = &containerpb.WorkloadMetadataConfig{Mode: mode}
		})
	}
	if len(pc.GuestAccelerator) > 0 && acceleratorKey(pc.GuestAccelerator) != acceleratorKey(sc.GuestAccelerator) {
		accs := acceleratorsProto(pc.GuestAccelerator)
		update("GPU driver and sharing", func(r *containerpb.UpdateNodePoolRequest) { r.Accelerators = accs })
	}
	return out
}

func mapsEqual(ctx context.Context, a, b types.Map) bool {
	ma, _ := stringMap(ctx, a)
	mb, _ := stringMap(ctx, b)
	return maps.Equal(ma, mb)
}

func taintKey(taints []taintModel) string {
	var parts []string
	for _, t := range taints {
		parts = append(parts, t.Key.ValueString()+"="+t.Value.ValueString()+":"+t.Effect.ValueString())
	}
	return strings.Join(parts, ",")
}

func acceleratorKey(accs []guestAcceleratorModel) string {
	var parts []string
	for _, a := range acceleratorsProto(accs) {
		parts = append(parts, prototext.Format(a))
	}
	return strings.Join(parts, ";")
}

// replacement is an attribute GKE cannot change in place, and why.
type replacement struct {
	at  path.Path
	why string
}

// ModifyPlan replaces the pool when an attribute GKE sets only at creation
// changes, and says which one and why in a warning, so that the plan
// explains itself.
func (r *gkeNodePoolResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if req.Plan.Raw.IsNull() || req.State.Raw.IsNull() || blocksUnknown(ctx, req.Plan) {
		return
	}
	var plan, state gkeNodePoolModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	// A change of the autoscaler's limits may move the size into them.
	if plan.Autoscaling.proto().String() != state.Autoscaling.proto().String() {
		resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("node_count"), types.Int64Unknown())...)
	}
	var reasons []replacement
	check := func(at path.Path, p, s attr.Value, why string) {
		if !p.IsUnknown() && !p.IsNull() && !p.Equal(s) {
			reasons = append(reasons, replacement{at, fmt.Sprintf("%s changes from %s to %s: %s", pathString(at), s, p, why)})
		}
	}
	check(path.Root("project"), plan.Project, state.Project, "a node pool belongs to one project")
	check(path.Root("location"), plan.Location, state.Location, "a node pool belongs to one location")
	if isSet(plan.Cluster) && plan.Cluster.ValueString() != state.Cluster.ValueString() && !sameCluster(plan.Cluster.ValueString(), state) {
		reasons = append(reasons, replacement{path.Root("cluster"), fmt.Sprintf("cluster changes from %s to %s: a node pool belongs to one cluster", state.Cluster, plan.Cluster)})
	}
	check(path.Root("name"), plan.Name, state.Name, "GKE cannot rename a node pool")
	check(path.Root("name_prefix"), plan.NamePrefix, state.NamePrefix, "the name is derived from it")
	check(path.Root("initial_node_count"), plan.InitialNodeCount, state.InitialNodeCount, "it is the size at creation (node_count resizes in place)")
	if pc, sc := plan.NodeConfig, state.NodeConfig; pc != nil && sc != nil {
		nc := path.Root("node_config")
		check(nc.AtName("spot"), pc.Spot, sc.Spot, "GKE sets spot VMs when it creates the pool")
		check(nc.AtName("service_account"), pc.ServiceAccount, sc.ServiceAccount, "GKE sets the nodes' service account when it creates the pool")
		if isSet(pc.OAuthScopes) && !sameStrings(stringSet(ctx, pc.OAuthScopes), stringSet(ctx, sc.OAuthScopes)) {
			reasons = append(reasons, replacement{nc.AtName("oauth_scopes"), "node_config.oauth_scopes change: GKE sets the nodes' scopes when it creates the pool"})
		}
		reasons = append(reasons, machineReplacement(pc, sc)...)
		reasons = append(reasons, acceleratorReplacements(pc, sc)...)
		if (pc.ReservationAffinity == nil) != (sc.ReservationAffinity == nil) || (pc.ReservationAffinity != nil && (changed(pc.ReservationAffinity.ConsumeReservationType, sc.ReservationAffinity.ConsumeReservationType) || changed(pc.ReservationAffinity.Key, sc.ReservationAffinity.Key) || changed(pc.ReservationAffinity.Values, sc.ReservationAffinity.Values))) {
			reasons = append(reasons, replacement{nc.AtName("reservation_affinity"), "node_config.reservation_affinity changes: GKE sets it when it creates the pool"})
		}
	}
	if pp, sp := plan.PlacementPolicy, state.PlacementPolicy; (pp == nil) != (sp == nil) {
		reasons = append(reasons, replacement{path.Root("placement_policy"), "placement_policy is added or removed: GKE places a pool's nodes when it creates the pool"})
	} else if pp != nil {
		pl := path.Root("placement_policy")
		check(pl.AtName("type"), pp.Type, sp.Type, "GKE places a pool's nodes when it creates the pool")
		check(pl.AtName("tpu_topology"), pp.TPUTopology, sp.TPUTopology, "a TPU slice's topology is set when the pool is created")
		check(pl.AtName("policy_name"), pp.PolicyName, sp.PolicyName, "GKE places a pool's nodes when it creates the pool")
	}
	// Adding the block with enabled = false changes nothing.
	if pq, sq := plan.QueuedProvisioning, state.QueuedProvisioning; pq != nil && (sq == nil || changed(pq.Enabled, sq.Enabled)) && (sq != nil || pq.Enabled.ValueBool()) {
		reasons = append(reasons, replacement{path.Root("queued_provisioning").AtName("enabled"), "queued_provisioning changes: GKE sets it when it creates the pool"})
	}
	if len(reasons) == 0 {
		return
	}
	var lines []string
	for _, r := range reasons {
		resp.RequiresReplace = append(resp.RequiresReplace, r.at)
		lines = append(lines, "- "+r.why)
	}
	// Terraform plans the new pool as a create, with no prior state: a
	// name derived from name_prefix (or generated) is then unknown, so the
	// new pool gets a new name.
	hint := ""
	var configuredName types.String
	resp.Diagnostics.Append(req.Config.GetAttribute(ctx, path.Root("name"), &configuredName)...)
	if configuredName.IsNull() {
		hint = "\n\nThe new pool gets a new name, so create_before_destroy can create it before the old one is deleted."
	} else {
		hint = "\n\nThe new pool has the same name: it is created after the old one is deleted (use name_prefix for create_before_destroy)."
	}
	resp.Diagnostics.AddWarning(fmt.Sprintf("Node pool %s will be replaced", state.Name.ValueString()),
		"GKE cannot change these in place:\n"+strings.Join(lines, "\n")+hint)
}

// sameCluster reports whether a cluster reference names the cluster of
// the state (a name and an id of the same cluster).
func sameCluster(ref string, state gkeNodePoolModel) bool {
	id, err := parseClusterRef(ref, state.Project.ValueString(), state.Location.ValueString())
	return err == nil && id.Name == clusterName(state.Cluster.ValueString()) && id.Project == state.Project.ValueString() && id.Location == state.Location.ValueString()
}

func clusterName(ref string) string {
	return ref[strings.LastIndex(ref, "/")+1:]
}

func pathString(p path.Path) string {
	return strings.NewReplacer("[", ".", "]", "").Replace(p.String())
}

// machineReplacement: GKE changes machine types in place only between
// machines of the same accelerators.
func machineReplacement(pc, sc *nodeConfigModel) []replacement {
	if !isSet(pc.MachineType) || !changed(pc.MachineType, sc.MachineType) {
		return nil
	}
	from, err1 := gkemachine.Lookup(sc.MachineType.ValueString())
	to, err2 := gkemachine.Lookup(pc.MachineType.ValueString())
	if err1 != nil || err2 != nil {
		return nil
	}
	at := path.Root("node_config").AtName("machine_type")
	switch {
	case from.TPU != nil || to.TPU != nil:
		return []replacement{{at, fmt.Sprintf("node_config.machine_type changes from %s to %s: a TPU pool's machine type is set when the pool is created", from.Name, to.Name)}}
	case from.GPU != to.GPU || from.GPUCount != to.GPUCount:
		return []replacement{{at, fmt.Sprintf("node_config.machine_type changes from %s to %s: the attached GPUs change (%d %s to %d %s)", from.Name, to.Name, from.GPUCount, orNone(from.GPU), to.GPUCount, orNone(to.GPU))}}
	}
	return nil
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

func acceleratorReplacements(pc, sc *nodeConfigModel) []replacement {
	base := path.Root("node_config").AtName("guest_accelerator")
	if len(pc.GuestAccelerator) == 0 {
		return nil
	}
	if len(pc.GuestAccelerator) != len(sc.GuestAccelerator) {
		return []replacement{{base, fmt.Sprintf("node_config.guest_accelerator goes from %d to %d entries: GKE attaches GPUs when it creates the pool", len(sc.GuestAccelerator), len(pc.GuestAccelerator))}}
	}
	var out []replacement
	for i := range pc.GuestAccelerator {
		p, s := pc.GuestAccelerator[i], sc.GuestAccelerator[i]
		at := base.AtListIndex(i)
		for _, f := range []struct {
			name string
			p, s attr.Value
		}{{"type", p.Type, s.Type}, {"count", p.Count, s.Count}, {"gpu_partition_size", p.GPUPartitionSize, s.GPUPartitionSize}} {
			if !f.p.IsUnknown() && !f.p.Equal(f.s) {
				out = append(out, replacement{at.AtName(f.name), fmt.Sprintf("node_config.guest_accelerator.%d.%s changes from %s to %s: GKE attaches GPUs when it creates the pool (the driver version and sharing change in place)", i, f.name, f.s, f.p)})
			}
		}
	}
	return out
}

// nodesPerZone counts the pool's nodes in the cluster, per zone: GKE's
// API holds the size only in the pool's instance groups, while the
// cluster's Node objects carry the cloud.google.com/gke-nodepool label. It
// reads them with the provider's Google token; -1 (with a log line) when
// the cluster cannot be reached, such as a private endpoint from outside.
func (r *gkeNodePoolResource) nodesPerZone(ctx context.Context, id gkeClusterID, np *containerpb.NodePool) int64 {
	zones := len(np.GetLocations())
	if zones == 0 {
		return -1
	}
	kube, err := r.conn.google.kubeClient(ctx, id)
	if err == nil {
		var nodes *metav1.PartialObjectMetadataList
		nodes, err = listNodeMetadata(ctx, kube, "cloud.google.com/gke-nodepool="+np.GetName())
		if err == nil {
			count := 0
			for _, n := range nodes.Items {
				if n.DeletionTimestamp == nil {
					count++
				}
			}
			return int64(count / zones)
		}
	}
	tflog.Warn(ctx, "cannot count the node pool's nodes in the cluster; node_count keeps its last value", map[string]any{"pool": np.GetName(), "error": err.Error()})
	return -1
}
