package provider

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"cloud.google.com/go/container/apiv1/containerpb"
	"github.com/hashicorp/terraform-plugin-framework-timeouts/resource/timeouts"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/kfstack/terraform-provider-kubeflow/internal/gkemachine"
)

// gkeNodePoolModel is a kubeflow_gke_node_pool, with the attribute names
// of terraform-provider-google's google_container_node_pool.
type gkeNodePoolModel struct {
	ID                 types.String             `tfsdk:"id"`
	Project            types.String             `tfsdk:"project"`
	Location           types.String             `tfsdk:"location"`
	Cluster            types.String             `tfsdk:"cluster"`
	Name               types.String             `tfsdk:"name"`
	NamePrefix         types.String             `tfsdk:"name_prefix"`
	NodeCount          types.Int64              `tfsdk:"node_count"`
	InitialNodeCount   types.Int64              `tfsdk:"initial_node_count"`
	NodeLocations      types.Set                `tfsdk:"node_locations"`
	Version            types.String             `tfsdk:"version"`
	InstanceGroupURLs  types.List               `tfsdk:"instance_group_urls"`
	Autoscaling        *poolAutoscalingModel    `tfsdk:"autoscaling"`
	Management         *poolManagementModel     `tfsdk:"management"`
	UpgradeSettings    *poolUpgradeModel        `tfsdk:"upgrade_settings"`
	NodeConfig         *nodeConfigModel         `tfsdk:"node_config"`
	PlacementPolicy    *placementPolicyModel    `tfsdk:"placement_policy"`
	QueuedProvisioning *queuedProvisioningModel `tfsdk:"queued_provisioning"`
	Timeouts           timeouts.Value           `tfsdk:"timeouts"`
}

type poolAutoscalingModel struct {
	MinNodeCount      types.Int64  `tfsdk:"min_node_count"`
	MaxNodeCount      types.Int64  `tfsdk:"max_node_count"`
	TotalMinNodeCount types.Int64  `tfsdk:"total_min_node_count"`
	TotalMaxNodeCount types.Int64  `tfsdk:"total_max_node_count"`
	LocationPolicy    types.String `tfsdk:"location_policy"`
}

type poolManagementModel struct {
	AutoRepair  types.Bool `tfsdk:"auto_repair"`
	AutoUpgrade types.Bool `tfsdk:"auto_upgrade"`
}

type poolUpgradeModel struct {
	MaxSurge       types.Int64  `tfsdk:"max_surge"`
	MaxUnavailable types.Int64  `tfsdk:"max_unavailable"`
	Strategy       types.String `tfsdk:"strategy"`
}

type nodeConfigModel struct {
	MachineType            types.String              `tfsdk:"machine_type"`
	DiskSizeGB             types.Int64               `tfsdk:"disk_size_gb"`
	DiskType               types.String              `tfsdk:"disk_type"`
	ImageType              types.String              `tfsdk:"image_type"`
	Spot                   types.Bool                `tfsdk:"spot"`
	Labels                 types.Map                 `tfsdk:"labels"`
	ResourceLabels         types.Map                 `tfsdk:"resource_labels"`
	ServiceAccount         types.String              `tfsdk:"service_account"`
	OAuthScopes            types.Set                 `tfsdk:"oauth_scopes"`
	Taint                  []taintModel              `tfsdk:"taint"`
	WorkloadMetadataConfig *workloadMetadataModel    `tfsdk:"workload_metadata_config"`
	GuestAccelerator       []guestAcceleratorModel   `tfsdk:"guest_accelerator"`
	ReservationAffinity    *reservationAffinityModel `tfsdk:"reservation_affinity"`
}

type taintModel struct {
	Key    types.String `tfsdk:"key"`
	Value  types.String `tfsdk:"value"`
	Effect types.String `tfsdk:"effect"`
}

type workloadMetadataModel struct {
	Mode types.String `tfsdk:"mode"`
}

type guestAcceleratorModel struct {
	Type                        types.String     `tfsdk:"type"`
	Count                       types.Int64      `tfsdk:"count"`
	GPUPartitionSize            types.String     `tfsdk:"gpu_partition_size"`
	GPUDriverInstallationConfig *gpuDriverModel  `tfsdk:"gpu_driver_installation_config"`
	GPUSharingConfig            *gpuSharingModel `tfsdk:"gpu_sharing_config"`
}

type gpuDriverModel struct {
	GPUDriverVersion types.String `tfsdk:"gpu_driver_version"`
}

type gpuSharingModel struct {
	GPUSharingStrategy     types.String `tfsdk:"gpu_sharing_strategy"`
	MaxSharedClientsPerGPU types.Int64  `tfsdk:"max_shared_clients_per_gpu"`
}

type reservationAffinityModel struct {
	ConsumeReservationType types.String `tfsdk:"consume_reservation_type"`
	Key                    types.String `tfsdk:"key"`
	Values                 types.Set    `tfsdk:"values"`
}

type placementPolicyModel struct {
	Type        types.String `tfsdk:"type"`
	TPUTopology types.String `tfsdk:"tpu_topology"`
	PolicyName  types.String `tfsdk:"policy_name"`
}

type queuedProvisioningModel struct {
	Enabled types.Bool `tfsdk:"enabled"`
}

// Values GKE takes, checked at plan time.
var (
	taintEffects      = []string{"NO_SCHEDULE", "PREFER_NO_SCHEDULE", "NO_EXECUTE"}
	imageTypes        = []string{"COS_CONTAINERD", "UBUNTU_CONTAINERD"}
	diskTypes         = []string{"pd-standard", "pd-balanced", "pd-ssd", "pd-extreme", "hyperdisk-balanced"}
	locationPolicies  = []string{"BALANCED", "ANY"}
	metadataModes     = []string{"GCE_METADATA", "GKE_METADATA", "MODE_UNSPECIFIED"}
	placementTypes    = []string{"COMPACT", "TYPE_UNSPECIFIED"}
	reservationTypes  = []string{"NO_RESERVATION", "ANY_RESERVATION", "SPECIFIC_RESERVATION"}
	upgradeStrategies = []string{"SURGE", "BLUE_GREEN"}
	releaseChannels   = []string{"UNSPECIFIED", "RAPID", "REGULAR", "STABLE", "EXTENDED"}
)

// shape is the part of the configuration GKE's shape rules look at;
// ok is false while a value it needs is unknown.
func (m *gkeNodePoolModel) shape() (gkemachine.PoolShape, bool) {
	s := gkemachine.PoolShape{MachineType: "e2-medium"}
	known := func(vs ...attr.Value) bool {
		for _, v := range vs {
			if v.IsUnknown() {
				return false
			}
		}
		return true
	}
	if c := m.NodeConfig; c != nil {
		if !known(c.MachineType) {
			return s, false
		}
		if !c.MachineType.IsNull() {
			s.MachineType = c.MachineType.ValueString()
		}
		machine, _ := gkemachine.Lookup(s.MachineType)
		for _, a := range c.GuestAccelerator {
			if !known(a.Type, a.Count, a.GPUPartitionSize) {
				return s, false
			}
			acc := gkemachine.Accelerator{Type: a.Type.ValueString(), Count: a.Count.ValueInt64(), PartitionSize: a.GPUPartitionSize.ValueString()}
			if a.Type.IsNull() {
				acc.Type = machine.GPU
			}
			if a.Count.IsNull() {
				acc.Count = machine.GPUCount
			}
			if d := a.GPUDriverInstallationConfig; d != nil {
				acc.DriverVersion = d.GPUDriverVersion.ValueString()
			}
			if sh := a.GPUSharingConfig; sh != nil {
				acc.SharingStrategy, acc.MaxSharedClients = sh.GPUSharingStrategy.ValueString(), sh.MaxSharedClientsPerGPU.ValueInt64()
			}
			s.Accelerators = append(s.Accelerators, acc)
		}
	}
	if p := m.PlacementPolicy; p != nil {
		if !known(p.TPUTopology) {
			return s, false
		}
		s.TPUTopology = p.TPUTopology.ValueString()
	}
	if a := m.Autoscaling; a != nil {
		if !known(a.MinNodeCount, a.MaxNodeCount, a.TotalMinNodeCount, a.TotalMaxNodeCount) {
			return s, false
		}
		s.Autoscaling = &gkemachine.Autoscaling{Min: a.MinNodeCount.ValueInt64(), Max: a.MaxNodeCount.ValueInt64(),
			TotalMin: a.TotalMinNodeCount.ValueInt64(), TotalMax: a.TotalMaxNodeCount.ValueInt64()}
	} else if !m.NodeCount.IsNull() || !m.InitialNodeCount.IsNull() {
		if !known(m.NodeCount, m.InitialNodeCount) {
			return s, false
		}
		n := m.NodeCount.ValueInt64()
		if m.NodeCount.IsNull() {
			n = m.InitialNodeCount.ValueInt64()
		}
		s.NodeCount = &n
	}
	if !m.NodeLocations.IsUnknown() && !m.NodeLocations.IsNull() {
		s.Zones = len(m.NodeLocations.Elements())
	}
	return s, true
}

func stringSet(ctx context.Context, s types.Set) []string {
	var out []string
	if !s.IsNull() && !s.IsUnknown() {
		_ = s.ElementsAs(ctx, &out, false)
	}
	slices.Sort(out)
	return out
}

func setOf(values []string) types.Set {
	elems := make([]attr.Value, len(values))
	for i, v := range values {
		elems[i] = types.StringValue(v)
	}
	return types.SetValueMust(types.StringType, elems)
}

func mapOf(m map[string]string) types.Map {
	elems := map[string]attr.Value{}
	for k, v := range m {
		elems[k] = types.StringValue(v)
	}
	return types.MapValueMust(types.StringType, elems)
}

func enumValue[E interface{ ~int32 }](names map[string]int32, s string) E {
	return E(names[strings.ToUpper(s)])
}

// request is the node pool GKE is asked to create.
func (m *gkeNodePoolModel) request(ctx context.Context, name string) (*containerpb.NodePool, diag.Diagnostics) {
	var diags diag.Diagnostics
	np := &containerpb.NodePool{Name: name, Locations: stringSet(ctx, m.NodeLocations), Version: m.Version.ValueString()}
	switch {
	case !m.InitialNodeCount.IsNull() && !m.InitialNodeCount.IsUnknown():
		np.InitialNodeCount = int32(m.InitialNodeCount.ValueInt64())
	case !m.NodeCount.IsNull() && !m.NodeCount.IsUnknown():
		np.InitialNodeCount = int32(m.NodeCount.ValueInt64())
	case m.Autoscaling != nil:
		np.InitialNodeCount = int32(max(m.Autoscaling.MinNodeCount.ValueInt64(), 0))
	default:
		np.InitialNodeCount = 1
	}
	np.Autoscaling = m.Autoscaling.proto()
	if mg := m.Management; mg != nil {
		np.Management = &containerpb.NodeManagement{AutoRepair: orTrue(mg.AutoRepair), AutoUpgrade: orTrue(mg.AutoUpgrade)}
	}
	np.UpgradeSettings = m.UpgradeSettings.proto()
	if c := m.NodeConfig; c != nil {
		cfg, d := c.proto(ctx)
		diags.Append(d...)
		// Accelerators left to the machine type take its GPUs.
		if machine, err := gkemachine.Lookup(cfg.MachineType); err == nil && machine.GPU != "" {
			for _, a := range cfg.Accelerators {
				if a.AcceleratorType == "" {
					a.AcceleratorType = machine.GPU
				}
				if a.AcceleratorCount == 0 {
					a.AcceleratorCount = machine.GPUCount
				}
			}
		}
		np.Config = cfg
	}
	if p := m.PlacementPolicy; p != nil {
		np.PlacementPolicy = &containerpb.NodePool_PlacementPolicy{
			Type:        enumValue[containerpb.NodePool_PlacementPolicy_Type](containerpb.NodePool_PlacementPolicy_Type_value, p.Type.ValueString()),
			TpuTopology: p.TPUTopology.ValueString(),
			PolicyName:  p.PolicyName.ValueString(),
		}
	}
	if q := m.QueuedProvisioning; q != nil {
		np.QueuedProvisioning = &containerpb.NodePool_QueuedProvisioning{Enabled: q.Enabled.ValueBool()}
	}
	return np, diags
}

// orTrue is a configured bool, true when unset (GKE's default for
// auto-repair and auto-upgrade).
func orTrue(v types.Bool) bool {
	if v.IsNull() || v.IsUnknown() {
		return true
	}
	return v.ValueBool()
}

func (a *poolAutoscalingModel) proto() *containerpb.NodePoolAutoscaling {
	if a == nil {
		return nil
	}
	return &containerpb.NodePoolAutoscaling{
		Enabled:           true,
		MinNodeCount:      int32(a.MinNodeCount.ValueInt64()),
		MaxNodeCount:      int32(a.MaxNodeCount.ValueInt64()),
		TotalMinNodeCount: int32(a.TotalMinNodeCount.ValueInt64()),
		TotalMaxNodeCount: int32(a.TotalMaxNodeCount.ValueInt64()),
		LocationPolicy:    enumValue[containerpb.NodePoolAutoscaling_LocationPolicy](containerpb.NodePoolAutoscaling_LocationPolicy_value, a.LocationPolicy.ValueString()),
	}
}

func (u *poolUpgradeModel) proto() *containerpb.NodePool_UpgradeSettings {
	if u == nil {
		return nil
	}
	out := &containerpb.NodePool_UpgradeSettings{MaxSurge: int32(u.MaxSurge.ValueInt64()), MaxUnavailable: int32(u.MaxUnavailable.ValueInt64())}
	if s := u.Strategy.ValueString(); s != "" {
		st := enumValue[containerpb.NodePoolUpdateStrategy](containerpb.NodePoolUpdateStrategy_value, s)
		out.Strategy = &st
	}
	return out
}

func (c *nodeConfigModel) proto(ctx context.Context) (*containerpb.NodeConfig, diag.Diagnostics) {
	var diags diag.Diagnostics
	labels, d := stringMap(ctx, c.Labels)
	diags.Append(d...)
	resourceLabels, d := stringMap(ctx, c.ResourceLabels)
	diags.Append(d...)
	cfg := &containerpb.NodeConfig{
		MachineType:    c.MachineType.ValueString(),
		DiskSizeGb:     int32(c.DiskSizeGB.ValueInt64()),
		DiskType:       c.DiskType.ValueString(),
		ImageType:      c.ImageType.ValueString(),
		Spot:           c.Spot.ValueBool(),
		Labels:         labels,
		ResourceLabels: resourceLabels,
		ServiceAccount: c.ServiceAccount.ValueString(),
		OauthScopes:    stringSet(ctx, c.OAuthScopes),
		Taints:         taintsProto(c.Taint),
		Accelerators:   acceleratorsProto(c.GuestAccelerator),
	}
	if w := c.WorkloadMetadataConfig; w != nil {
		cfg.WorkloadMetadataConfig = &containerpb.WorkloadMetadataConfig{Mode: enumValue[containerpb.WorkloadMetadataConfig_Mode](containerpb.WorkloadMetadataConfig_Mode_value, w.Mode.ValueString())}
	}
	if r := c.ReservationAffinity; r != nil {
		cfg.ReservationAffinity = &containerpb.ReservationAffinity{
			ConsumeReservationType: enumValue[containerpb.ReservationAffinity_Type](containerpb.ReservationAffinity_Type_value, r.ConsumeReservationType.ValueString()),
			Key:                    r.Key.ValueString(),
			Values:                 stringSet(ctx, r.Values),
		}
	}
	return cfg, diags
}

func taintsProto(taints []taintModel) []*containerpb.NodeTaint {
	out := []*containerpb.NodeTaint{}
	for _, t := range taints {
		out = append(out, &containerpb.NodeTaint{Key: t.Key.ValueString(), Value: t.Value.ValueString(),
			Effect: enumValue[containerpb.NodeTaint_Effect](containerpb.NodeTaint_Effect_value, t.Effect.ValueString())})
	}
	return out
}

func acceleratorsProto(accs []guestAcceleratorModel) []*containerpb.AcceleratorConfig {
	var out []*containerpb.AcceleratorConfig
	for _, a := range accs {
		ac := &containerpb.AcceleratorConfig{AcceleratorType: a.Type.ValueString(), AcceleratorCount: a.Count.ValueInt64(), GpuPartitionSize: a.GPUPartitionSize.ValueString()}
		if d := a.GPUDriverInstallationConfig; d != nil && !d.GPUDriverVersion.IsNull() {
			ac.GpuDriverInstallationConfig = &containerpb.GPUDriverInstallationConfig{}
			v := enumValue[containerpb.GPUDriverInstallationConfig_GPUDriverVersion](containerpb.GPUDriverInstallationConfig_GPUDriverVersion_value, d.GPUDriverVersion.ValueString())
			ac.GpuDriverInstallationConfig.GpuDriverVersion = &v
		}
		if s := a.GPUSharingConfig; s != nil {
			st := enumValue[containerpb.GPUSharingConfig_GPUSharingStrategy](containerpb.GPUSharingConfig_GPUSharingStrategy_value, s.GPUSharingStrategy.ValueString())
			ac.GpuSharingConfig = &containerpb.GPUSharingConfig{GpuSharingStrategy: &st, MaxSharedClientsPerGpu: s.MaxSharedClientsPerGPU.ValueInt64()}
		}
		out = append(out, ac)
	}
	return out
}

// applyLive sets the model from the pool GKE holds. Blocks the
// configuration leaves out stay out; within a block, every attribute
// follows the live pool, so edits made out of band show in the plan.
// nodesPerZone is the size the cluster's nodes show, -1 when unknown.
func (m *gkeNodePoolModel) applyLive(id gkeClusterID, np *containerpb.NodePool, nodesPerZone int64) {
	m.ID = types.StringValue(id.pool(np.GetName()))
	m.Project, m.Location = types.StringValue(id.Project), types.StringValue(id.Location)
	if m.Cluster.IsNull() || m.Cluster.IsUnknown() {
		m.Cluster = types.StringValue(id.Name)
	}
	m.Name = types.StringValue(np.GetName())
	if m.InitialNodeCount.IsNull() || m.InitialNodeCount.IsUnknown() {
		m.InitialNodeCount = types.Int64Value(int64(np.GetInitialNodeCount()))
	}
	if nodesPerZone >= 0 {
		m.NodeCount = types.Int64Value(nodesPerZone)
	} else if m.NodeCount.IsUnknown() || m.NodeCount.IsNull() {
		m.NodeCount = types.Int64Value(int64(np.GetInitialNodeCount()))
	}
	m.NodeLocations = setOf(slices.Sorted(slices.Values(np.GetLocations())))
	if !m.Version.IsNull() && !m.Version.IsUnknown() && strings.HasPrefix(np.GetVersion(), m.Version.ValueString()) {
		// A prefix (1.37) stays as configured while the pool runs a version of it.
	} else {
		m.Version = types.StringValue(np.GetVersion())
	}
	m.InstanceGroupURLs = listOf(np.GetInstanceGroupUrls())
	if a := np.GetAutoscaling(); a.GetEnabled() {
		m.Autoscaling = &poolAutoscalingModel{
			MinNodeCount: types.Int64Value(int64(a.GetMinNodeCount())), MaxNodeCount: types.Int64Value(int64(a.GetMaxNodeCount())),
			TotalMinNodeCount: types.Int64Value(int64(a.GetTotalMinNodeCount())), TotalMaxNodeCount: types.Int64Value(int64(a.GetTotalMaxNodeCount())),
			LocationPolicy: types.StringValue(a.GetLocationPolicy().String()),
		}
		if a.GetLocationPolicy() == containerpb.NodePoolAutoscaling_LOCATION_POLICY_UNSPECIFIED {
			m.Autoscaling.LocationPolicy = types.StringValue("BALANCED")
		}
	} else {
		m.Autoscaling = nil
	}
	if m.Management != nil {
		m.Management = &poolManagementModel{AutoRepair: types.BoolValue(np.GetManagement().GetAutoRepair()), AutoUpgrade: types.BoolValue(np.GetManagement().GetAutoUpgrade())}
	}
	if m.UpgradeSettings != nil {
		u := np.GetUpgradeSettings()
		m.UpgradeSettings = &poolUpgradeModel{MaxSurge: types.Int64Value(int64(u.GetMaxSurge())), MaxUnavailable: types.Int64Value(int64(u.GetMaxUnavailable())), Strategy: types.StringValue("SURGE")}
		if u.Strategy != nil {
			m.UpgradeSettings.Strategy = types.StringValue(u.GetStrategy().String())
		}
	}
	if m.NodeConfig != nil {
		m.NodeConfig.applyLive(np.GetConfig())
	}
	if m.PlacementPolicy != nil {
		p := np.GetPlacementPolicy()
		m.PlacementPolicy = &placementPolicyModel{Type: types.StringValue(p.GetType().String()), TPUTopology: gkeOptional(p.GetTpuTopology()), PolicyName: gkeOptional(p.GetPolicyName())}
	}
	if m.QueuedProvisioning != nil {
		m.QueuedProvisioning = &queuedProvisioningModel{Enabled: types.BoolValue(np.GetQueuedProvisioning().GetEnabled())}
	}
}

func gkeOptional(s string) types.String {
	if s == "" {
		return types.StringNull()
	}
	return types.StringValue(s)
}

func listOf(values []string) types.List {
	elems := make([]attr.Value, len(values))
	for i, v := range values {
		elems[i] = types.StringValue(v)
	}
	return types.ListValueMust(types.StringType, elems)
}

func (c *nodeConfigModel) applyLive(cfg *containerpb.NodeConfig) {
	c.MachineType = types.StringValue(cfg.GetMachineType())
	c.DiskSizeGB = types.Int64Value(int64(cfg.GetDiskSizeGb()))
	c.DiskType = types.StringValue(cfg.GetDiskType())
	c.ImageType = types.StringValue(strings.ToUpper(cfg.GetImageType()))
	c.Spot = types.BoolValue(cfg.GetSpot())
	// Labels of the configuration are compared whole: the pool's labels are
	// the configuration's alone (GKE adds its own to nodes, not here).
	if !c.Labels.IsNull() || len(cfg.GetLabels()) > 0 {
		c.Labels = mapOf(cfg.GetLabels())
	}
	if !c.ResourceLabels.IsNull() || len(cfg.GetResourceLabels()) > 0 {
		c.ResourceLabels = mapOf(cfg.GetResourceLabels())
	}
	c.ServiceAccount = types.StringValue(cfg.GetServiceAccount())
	c.OAuthScopes = setOf(cfg.GetOauthScopes())
	c.Taint = []taintModel{}
	for _, t := range cfg.GetTaints() {
		c.Taint = append(c.Taint, taintModel{Key: types.StringValue(t.GetKey()), Value: types.StringValue(t.GetValue()), Effect: types.StringValue(t.GetEffect().String())})
	}
	if w := cfg.GetWorkloadMetadataConfig(); c.WorkloadMetadataConfig != nil {
		c.WorkloadMetadataConfig = &workloadMetadataModel{Mode: types.StringValue(w.GetMode().String())}
	}
	// Accelerators a GPU machine type brings along are listed only when
	// configured.
	if len(c.GuestAccelerator) > 0 || !attachedOnly(cfg) {
		prior := c.GuestAccelerator
		c.GuestAccelerator = []guestAcceleratorModel{}
		for i, a := range cfg.GetAccelerators() {
			g := guestAcceleratorModel{Type: types.StringValue(a.GetAcceleratorType()), Count: types.Int64Value(a.GetAcceleratorCount()), GPUPartitionSize: gkeOptional(a.GetGpuPartitionSize())}
			var was *guestAcceleratorModel
			if i < len(prior) {
				was = &prior[i]
			}
			if d := a.GetGpuDriverInstallationConfig(); d != nil || (was != nil && was.GPUDriverInstallationConfig != nil) {
				g.GPUDriverInstallationConfig = &gpuDriverModel{GPUDriverVersion: types.StringValue(d.GetGpuDriverVersion().String())}
			}
			if s := a.GetGpuSharingConfig(); s != nil || (was != nil && was.GPUSharingConfig != nil) {
				g.GPUSharingConfig = &gpuSharingModel{GPUSharingStrategy: types.StringValue(s.GetGpuSharingStrategy().String()), MaxSharedClientsPerGPU: types.Int64Value(s.GetMaxSharedClientsPerGpu())}
			}
			c.GuestAccelerator = append(c.GuestAccelerator, g)
		}
	}
	if r := cfg.GetReservationAffinity(); c.ReservationAffinity != nil {
		c.ReservationAffinity = &reservationAffinityModel{ConsumeReservationType: types.StringValue(r.GetConsumeReservationType().String()), Key: gkeOptional(r.GetKey()), Values: setOf(r.GetValues())}
		if len(r.GetValues()) == 0 {
			c.ReservationAffinity.Values = types.SetNull(types.StringType)
		}
	}
}

// attachedOnly reports whether the pool's only accelerators are those its
// machine type comes with.
func attachedOnly(cfg *containerpb.NodeConfig) bool {
	m, err := gkemachine.Lookup(cfg.GetMachineType())
	accs := cfg.GetAccelerators()
	return err == nil && m.GPU != "" && len(accs) == 1 && accs[0].GetAcceleratorType() == m.GPU &&
		accs[0].GetGpuDriverInstallationConfig() == nil && accs[0].GetGpuSharingConfig() == nil && accs[0].GetGpuPartitionSize() == ""
}

func describePool(id gkeClusterID, name string) string {
	return fmt.Sprintf("node pool %s of cluster %s", name, id.Name)
}
