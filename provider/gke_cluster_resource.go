package provider

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"time"

	container "cloud.google.com/go/container/apiv1"
	"cloud.google.com/go/container/apiv1/containerpb"
	"github.com/hashicorp/terraform-plugin-framework-timeouts/resource/timeouts"
	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/mapvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/booldefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/int64default"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/setplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

var (
	_ resource.ResourceWithConfigure      = (*gkeClusterResource)(nil)
	_ resource.ResourceWithImportState    = (*gkeClusterResource)(nil)
	_ resource.ResourceWithValidateConfig = (*gkeClusterResource)(nil)
	_ resource.ResourceWithModifyPlan     = (*gkeClusterResource)(nil)
)

// NewGKEClusterResource returns the kubeflow_gke_cluster resource.
func NewGKEClusterResource() resource.Resource {
	return &gkeClusterResource{}
}

type gkeClusterResource struct {
	conn *connection
}

// gkeClusterModel is a kubeflow_gke_cluster, with the attribute names of
// terraform-provider-google's google_container_cluster.
type gkeClusterModel struct {
	ID                     types.String           `tfsdk:"id"`
	Project                types.String           `tfsdk:"project"`
	Location               types.String           `tfsdk:"location"`
	Name                   types.String           `tfsdk:"name"`
	Description            types.String           `tfsdk:"description"`
	MinMasterVersion       types.String           `tfsdk:"min_master_version"`
	Network                types.String           `tfsdk:"network"`
	Subnetwork             types.String           `tfsdk:"subnetwork"`
	NodeLocations          types.Set              `tfsdk:"node_locations"`
	ResourceLabels         types.Map              `tfsdk:"resource_labels"`
	DeletionProtection     types.Bool             `tfsdk:"deletion_protection"`
	RemoveDefaultNodePool  types.Bool             `tfsdk:"remove_default_node_pool"`
	InitialNodeCount       types.Int64            `tfsdk:"initial_node_count"`
	Endpoint               types.String           `tfsdk:"endpoint"`
	CACertificate          types.String           `tfsdk:"ca_certificate"`
	MasterVersion          types.String           `tfsdk:"master_version"`
	SelfLink               types.String           `tfsdk:"self_link"`
	ReleaseChannel         *releaseChannelModel   `tfsdk:"release_channel"`
	PrivateClusterConfig   *privateClusterModel   `tfsdk:"private_cluster_config"`
	WorkloadIdentityConfig *workloadIdentityModel `tfsdk:"workload_identity_config"`
	AddonsConfig           *addonsModel           `tfsdk:"addons_config"`
	Timeouts               timeouts.Value         `tfsdk:"timeouts"`
}

type releaseChannelModel struct {
	Channel types.String `tfsdk:"channel"`
}

type privateClusterModel struct {
	EnablePrivateNodes    types.Bool   `tfsdk:"enable_private_nodes"`
	EnablePrivateEndpoint types.Bool   `tfsdk:"enable_private_endpoint"`
	MasterIPv4CIDRBlock   types.String `tfsdk:"master_ipv4_cidr_block"`
	PrivateEndpoint       types.String `tfsdk:"private_endpoint"`
	PublicEndpoint        types.String `tfsdk:"public_endpoint"`
}

type workloadIdentityModel struct {
	WorkloadPool types.String `tfsdk:"workload_pool"`
}

type addonsModel struct {
	GcsFuseCSIDriver      *addonEnabledModel  `tfsdk:"gcs_fuse_csi_driver_config"`
	GcePDCSIDriver        *addonEnabledModel  `tfsdk:"gce_persistent_disk_csi_driver_config"`
	HTTPLoadBalancing     *addonDisabledModel `tfsdk:"http_load_balancing"`
	HorizontalPodAutoscal *addonDisabledModel `tfsdk:"horizontal_pod_autoscaling"`
}

type addonEnabledModel struct {
	Enabled types.Bool `tfsdk:"enabled"`
}

type addonDisabledModel struct {
	Disabled types.Bool `tfsdk:"disabled"`
}

const (
	defaultClusterCreateTimeout = 40 * time.Minute
	defaultClusterUpdateTimeout = 60 * time.Minute
	defaultClusterDeleteTimeout = 40 * time.Minute
	defaultPoolName             = "default-pool"
)

var (
	locationPattern     = regexp.MustCompile(`^[a-z]+-[a-z]+[0-9]+(-[a-z])?$`)
	workloadPoolPattern = regexp.MustCompile(`^[a-z][-a-z0-9]{4,28}[a-z0-9]\.svc\.id\.goog$`)
	gceLabelKey         = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,62}$`)
	gceLabelValue       = regexp.MustCompile(`^[a-z0-9_-]{0,63}$`)
)

func (r *gkeClusterResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_gke_cluster"
}

func (r *gkeClusterResource) Schema(ctx context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	computed := func(description string) schema.StringAttribute {
		return schema.StringAttribute{Computed: true, MarkdownDescription: description, PlanModifiers: useState()}
	}
	replaces := " Changing it replaces the cluster."
	resp.Schema = schema.Schema{
		MarkdownDescription: "A GKE cluster. Its node pools are separate `kubeflow_gke_node_pool` resources: the default pool GKE " +
			"creates with the cluster is removed (`remove_default_node_pool`, default true). The attributes are those of " +
			"terraform-provider-google's `google_container_cluster`.\n\n" +
			"Release channel, version, workload identity, add-ons, node locations, private endpoint and resource labels change " +
			"in place. `deletion_protection` (default true) refuses destroy until it is set to false. The provider's `gke` " +
			"block connects a second provider configuration to the cluster, so the platform can be built on it in the same apply.",
		Attributes: map[string]schema.Attribute{
			"id": computed("`projects/{project}/locations/{location}/clusters/{name}`."),
			"project": schema.StringAttribute{Optional: true, Computed: true, PlanModifiers: useState(),
				MarkdownDescription: "The project; the provider's `google.project` when unset." + replaces},
			"location": schema.StringAttribute{Required: true,
				MarkdownDescription: "A region (regional cluster, nodes in three zones) or a zone, such as `us-central1` or `us-central1-a`." + replaces,
				Validators:          []validator.String{stringvalidator.RegexMatches(locationPattern, "must be a region such as us-central1 or a zone such as us-central1-a")}},
			"name": schema.StringAttribute{Required: true,
				MarkdownDescription: "The cluster's name: lower-case letters, digits and hyphens, at most 40." + replaces,
				Validators:          []validator.String{stringvalidator.RegexMatches(poolNamePattern, "must be lower-case letters, digits and hyphens, start with a letter and end with a letter or digit, at most 40 characters")}},
			"description":        schema.StringAttribute{Optional: true, MarkdownDescription: "A description." + replaces},
			"min_master_version": schema.StringAttribute{Optional: true, MarkdownDescription: "Lowest Kubernetes version of the control plane, such as `1.37` (`latest` for the newest). Changed in place (an upgrade)."},
			"network":            optionalComputedString("VPC network (`default` when unset)." + replaces),
			"subnetwork":         optionalComputedString("Subnetwork of the nodes." + replaces),
			"node_locations": schema.SetAttribute{ElementType: types.StringType, Optional: true, Computed: true,
				PlanModifiers:       []planmodifier.Set{setplanmodifier.UseStateForUnknown()},
				MarkdownDescription: "Zones of the nodes; of a region, three zones by default. Changed in place."},
			"resource_labels": schema.MapAttribute{ElementType: types.StringType, Optional: true,
				MarkdownDescription: "Google Cloud labels of the cluster. Changed in place.",
				Validators:          []validator.Map{mapvalidator.KeysAre(stringvalidator.RegexMatches(gceLabelKey, "must start with a lower-case letter and have at most 63 lower-case letters, digits, '_' and '-'")), mapvalidator.ValueStringsAre(stringvalidator.RegexMatches(gceLabelValue, "must have at most 63 lower-case letters, digits, '_' and '-'"))}},
			"deletion_protection": schema.BoolAttribute{Optional: true, Computed: true, Default: booldefault.StaticBool(true),
				MarkdownDescription: "Refuse to destroy the cluster (default true): set it to false and apply before `terraform destroy`."},
			"remove_default_node_pool": schema.BoolAttribute{Optional: true, Computed: true, Default: booldefault.StaticBool(true),
				MarkdownDescription: "Remove the node pool GKE creates with the cluster, so that every pool is a `kubeflow_gke_node_pool` (default true)."},
			"initial_node_count": schema.Int64Attribute{Optional: true, Computed: true, Default: int64default.StaticInt64(1),
				Validators:          []validator.Int64{int64validator.AtLeast(1)},
				MarkdownDescription: "Nodes per zone of the default pool while the cluster is created." + replaces},
			"endpoint":       computed("The API server's address (an IP address or host:port, without scheme)."),
			"ca_certificate": computed("Base64 PEM of the cluster's CA (as google's `master_auth[0].cluster_ca_certificate`)."),
			"master_version": schema.StringAttribute{Computed: true, MarkdownDescription: "The control plane's Kubernetes version."},
			"self_link":      computed("The cluster's URL in the GKE API."),
		},
		Blocks: map[string]schema.Block{
			"release_channel": schema.SingleNestedBlock{
				MarkdownDescription: "The release channel. Changed in place.",
				Attributes: map[string]schema.Attribute{
					"channel": schema.StringAttribute{Optional: true, MarkdownDescription: "`RAPID`, `REGULAR`, `STABLE`, `EXTENDED` or `UNSPECIFIED`.", Validators: []validator.String{oneOf(releaseChannels)}},
				},
			},
			"private_cluster_config": schema.SingleNestedBlock{
				MarkdownDescription: "Private nodes and endpoint.",
				Attributes: map[string]schema.Attribute{
					"enable_private_nodes":    schema.BoolAttribute{Optional: true, MarkdownDescription: "Nodes without public addresses." + replaces},
					"enable_private_endpoint": schema.BoolAttribute{Optional: true, MarkdownDescription: "Reach the control plane at its private address only. Changed in place."},
					"master_ipv4_cidr_block": schema.StringAttribute{Optional: true, MarkdownDescription: "The control plane's /28 range." + replaces,
						Validators: []validator.String{stringvalidator.RegexMatches(regexp.MustCompile(`^\d+\.\d+\.\d+\.\d+/28$`), "must be an IPv4 /28 range, such as 172.16.0.32/28")}},
					"private_endpoint": schema.StringAttribute{Computed: true, MarkdownDescription: "The control plane's private address.", PlanModifiers: useState()},
					"public_endpoint":  schema.StringAttribute{Computed: true, MarkdownDescription: "The control plane's public address.", PlanModifiers: useState()},
				},
			},
			"workload_identity_config": schema.SingleNestedBlock{
				MarkdownDescription: "Workload Identity: pods act as Google service accounts (what `kubeflow_profile.workload_identity_gsa` uses). Changed in place.",
				Attributes: map[string]schema.Attribute{
					"workload_pool": schema.StringAttribute{Optional: true, MarkdownDescription: "`PROJECT.svc.id.goog`.",
						Validators: []validator.String{stringvalidator.RegexMatches(workloadPoolPattern, "must be PROJECT_ID.svc.id.goog")}},
				},
			},
			"addons_config": schema.SingleNestedBlock{
				MarkdownDescription: "Add-ons the platform uses. Changed in place.",
				Blocks: map[string]schema.Block{
					"gcs_fuse_csi_driver_config":            enabledBlock("Cloud Storage FUSE CSI driver: mount buckets (datasets, pipeline roots) in pods."),
					"gce_persistent_disk_csi_driver_config": enabledBlock("Compute Engine persistent disk CSI driver."),
					"http_load_balancing":                   disabledBlock("HTTP load balancing (Ingress)."),
					"horizontal_pod_autoscaling":            disabledBlock("Horizontal pod autoscaling."),
				},
			},
			"timeouts": timeouts.Block(ctx, timeouts.Opts{Create: true, Update: true, Delete: true}),
		},
	}
}

func enabledBlock(description string) schema.SingleNestedBlock {
	return schema.SingleNestedBlock{MarkdownDescription: description, Attributes: map[string]schema.Attribute{
		"enabled": schema.BoolAttribute{Optional: true, MarkdownDescription: "Turn the add-on on."},
	}}
}

func disabledBlock(description string) schema.SingleNestedBlock {
	return schema.SingleNestedBlock{MarkdownDescription: description, Attributes: map[string]schema.Attribute{
		"disabled": schema.BoolAttribute{Optional: true, MarkdownDescription: "Turn the add-on off."},
	}}
}

func (r *gkeClusterResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.conn = providerConnection(req.ProviderData, &resp.Diagnostics)
}

func (r *gkeClusterResource) ValidateConfig(ctx context.Context, req resource.ValidateConfigRequest, resp *resource.ValidateConfigResponse) {
	var m gkeClusterModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if wi := m.WorkloadIdentityConfig; wi != nil && isSet(wi.WorkloadPool) && isSet(m.Project) && wi.WorkloadPool.ValueString() != m.Project.ValueString()+".svc.id.goog" {
		resp.Diagnostics.AddAttributeError(path.Root("workload_identity_config").AtName("workload_pool"), "Wrong workload pool",
			fmt.Sprintf("workload_identity_config.workload_pool: the workload pool of project %s is %s.svc.id.goog, not %s.", m.Project.ValueString(), m.Project.ValueString(), wi.WorkloadPool.ValueString()))
	}
	if pc := m.PrivateClusterConfig; pc != nil && pc.EnablePrivateEndpoint.ValueBool() && !pc.EnablePrivateNodes.ValueBool() {
		resp.Diagnostics.AddAttributeError(path.Root("private_cluster_config").AtName("enable_private_nodes"), "Private endpoint needs private nodes",
			"private_cluster_config.enable_private_nodes: enable_private_endpoint = true needs enable_private_nodes = true.")
	}
	if isSet(m.Location) && !m.NodeLocations.IsUnknown() {
		region := m.Location.ValueString()
		if strings.Count(region, "-") == 2 {
			region = region[:strings.LastIndex(region, "-")]
		}
		for _, z := range stringSet(ctx, m.NodeLocations) {
			if !strings.HasPrefix(z, region+"-") || strings.Count(z, "-") != 2 {
				resp.Diagnostics.AddAttributeError(path.Root("node_locations"), "Invalid node location",
					fmt.Sprintf("node_locations: %q is not a zone of %s (such as %s-a).", z, region, region))
			}
		}
	}
}

func (r *gkeClusterResource) clusterID(m *gkeClusterModel) (gkeClusterID, error) {
	project := m.Project.ValueString()
	if project == "" {
		project = r.conn.google.project()
	}
	return parseClusterRef(m.Name.ValueString(), project, m.Location.ValueString())
}

func (r *gkeClusterResource) client(ctx context.Context, m *gkeClusterModel) (*container.ClusterManagerClient, gkeClusterID, error) {
	id, err := r.clusterID(m)
	if err != nil {
		return nil, id, err
	}
	_, c, err := r.conn.google.get(ctx)
	return c, id, err
}

// ModifyPlan fills the id at plan time (so a gke block that references
// it is known), and says which attribute forces a replacement.
func (r *gkeClusterResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if req.Plan.Raw.IsNull() {
		return
	}
	var plan gkeClusterModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() || r.conn == nil {
		return
	}
	if plan.Project.IsUnknown() && r.conn.google.project() != "" {
		plan.Project = types.StringValue(r.conn.google.project())
		resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("project"), plan.Project)...)
	}
	if isSet(plan.Project) && isSet(plan.Location) && isSet(plan.Name) {
		id := gkeClusterID{Project: plan.Project.ValueString(), Location: plan.Location.ValueString(), Name: plan.Name.ValueString()}
		resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("id"), id.String())...)
	}
	if req.State.Raw.IsNull() {
		return
	}
	var state gkeClusterModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	var reasons []replacement
	check := func(at path.Path, p, s interface {
		IsUnknown() bool
		IsNull() bool
		String() string
	}, equal bool, why string) {
		if !p.IsUnknown() && !p.IsNull() && !equal {
			reasons = append(reasons, replacement{at, fmt.Sprintf("%s changes from %s to %s: %s", pathString(at), s, p, why)})
		}
	}
	check(path.Root("project"), plan.Project, state.Project, plan.Project.Equal(state.Project), "a cluster belongs to one project")
	check(path.Root("location"), plan.Location, state.Location, plan.Location.Equal(state.Location), "GKE cannot move a cluster")
	check(path.Root("name"), plan.Name, state.Name, plan.Name.Equal(state.Name), "GKE cannot rename a cluster")
	check(path.Root("description"), plan.Description, state.Description, plan.Description.Equal(state.Description), "GKE sets it when it creates the cluster")
	check(path.Root("network"), plan.Network, state.Network, plan.Network.Equal(state.Network), "a cluster stays in its network")
	check(path.Root("subnetwork"), plan.Subnetwork, state.Subnetwork, plan.Subnetwork.Equal(state.Subnetwork), "a cluster stays in its subnetwork")
	check(path.Root("initial_node_count"), plan.InitialNodeCount, state.InitialNodeCount, plan.InitialNodeCount.Equal(state.InitialNodeCount), "it is the default pool's size at creation")
	if pp, sp := plan.PrivateClusterConfig, state.PrivateClusterConfig; pp != nil || sp != nil {
		if pp == nil {
			pp = &privateClusterModel{}
		}
		if sp == nil {
			sp = &privateClusterModel{}
		}
		at := path.Root("private_cluster_config")
		if pp.EnablePrivateNodes.ValueBool() != sp.EnablePrivateNodes.ValueBool() && !pp.EnablePrivateNodes.IsUnknown() {
			reasons = append(reasons, replacement{at.AtName("enable_private_nodes"), fmt.Sprintf("private_cluster_config.enable_private_nodes changes to %t: GKE sets it when it creates the cluster", pp.EnablePrivateNodes.ValueBool())})
		}
		check(at.AtName("master_ipv4_cidr_block"), pp.MasterIPv4CIDRBlock, sp.MasterIPv4CIDRBlock, pp.MasterIPv4CIDRBlock.Equal(sp.MasterIPv4CIDRBlock), "the control plane's range is set when the cluster is created")
	}
	if len(reasons) == 0 {
		return
	}
	var lines []string
	for _, r := range reasons {
		resp.RequiresReplace = append(resp.RequiresReplace, r.at)
		lines = append(lines, "- "+r.why)
	}
	detail := "GKE cannot change these in place:\n" + strings.Join(lines, "\n")
	if state.DeletionProtection.ValueBool() {
		detail += "\n\ndeletion_protection is true, so the apply will refuse to delete the old cluster: set it to false first."
	}
	resp.Diagnostics.AddWarning(fmt.Sprintf("Cluster %s will be replaced", state.Name.ValueString()), detail)
}

func (m *gkeClusterModel) request(ctx context.Context) *containerpb.Cluster {
	labels, _ := stringMap(ctx, m.ResourceLabels)
	c := &containerpb.Cluster{
		Name:                  m.Name.ValueString(),
		Description:           m.Description.ValueString(),
		InitialClusterVersion: m.MinMasterVersion.ValueString(),
		Network:               m.Network.ValueString(),
		Subnetwork:            m.Subnetwork.ValueString(),
		Locations:             stringSet(ctx, m.NodeLocations),
		ResourceLabels:        labels,
		NodePools:             []*containerpb.NodePool{{Name: defaultPoolName, InitialNodeCount: int32(m.InitialNodeCount.ValueInt64())}},
		ReleaseChannel:        m.ReleaseChannel.proto(),
		WorkloadIdentityConfig: func() *containerpb.WorkloadIdentityConfig {
			if m.WorkloadIdentityConfig == nil {
				return nil
			}
			return &containerpb.WorkloadIdentityConfig{WorkloadPool: m.WorkloadIdentityConfig.WorkloadPool.ValueString()}
		}(),
		AddonsConfig: m.AddonsConfig.proto(),
	}
	if pc := m.PrivateClusterConfig; pc != nil {
		// google's private_cluster_config, still served by the API beside
		// the newer network and control plane endpoint configs.
		c.PrivateClusterConfig = &containerpb.PrivateClusterConfig{ //nolint:staticcheck // see above
			EnablePrivateNodes:    pc.EnablePrivateNodes.ValueBool(),    //nolint:staticcheck // see above
			EnablePrivateEndpoint: pc.EnablePrivateEndpoint.ValueBool(), //nolint:staticcheck // see above
			MasterIpv4CidrBlock:   pc.MasterIPv4CIDRBlock.ValueString(),
		}
	}
	return c
}

func (r *releaseChannelModel) proto() *containerpb.ReleaseChannel {
	if r == nil || r.Channel.IsNull() {
		return nil
	}
	return &containerpb.ReleaseChannel{Channel: enumValue[containerpb.ReleaseChannel_Channel](containerpb.ReleaseChannel_Channel_value, r.Channel.ValueString())}
}

func (a *addonsModel) proto() *containerpb.AddonsConfig {
	if a == nil {
		return nil
	}
	out := &containerpb.AddonsConfig{}
	if a.GcsFuseCSIDriver != nil {
		out.GcsFuseCsiDriverConfig = &containerpb.GcsFuseCsiDriverConfig{Enabled: a.GcsFuseCSIDriver.Enabled.ValueBool()}
	}
	if a.GcePDCSIDriver != nil {
		out.GcePersistentDiskCsiDriverConfig = &containerpb.GcePersistentDiskCsiDriverConfig{Enabled: a.GcePDCSIDriver.Enabled.ValueBool()}
	}
	if a.HTTPLoadBalancing != nil {
		out.HttpLoadBalancing = &containerpb.HttpLoadBalancing{Disabled: a.HTTPLoadBalancing.Disabled.ValueBool()}
	}
	if a.HorizontalPodAutoscal != nil {
		out.HorizontalPodAutoscaling = &containerpb.HorizontalPodAutoscaling{Disabled: a.HorizontalPodAutoscal.Disabled.ValueBool()}
	}
	return out
}

// applyLive sets the model from the cluster GKE holds. Blocks the
// configuration leaves out stay out.
func (m *gkeClusterModel) applyLive(id gkeClusterID, c *containerpb.Cluster) {
	m.ID = types.StringValue(id.String())
	m.Project, m.Location, m.Name = types.StringValue(id.Project), types.StringValue(id.Location), types.StringValue(c.GetName())
	if c.GetDescription() != "" || !m.Description.IsNull() {
		m.Description = types.StringValue(c.GetDescription())
	}
	m.Network, m.Subnetwork = types.StringValue(c.GetNetwork()), types.StringValue(c.GetSubnetwork())
	m.NodeLocations = setOf(c.GetLocations())
	if len(c.GetResourceLabels()) > 0 || !m.ResourceLabels.IsNull() {
		m.ResourceLabels = mapOf(c.GetResourceLabels())
	}
	m.Endpoint = types.StringValue(c.GetEndpoint())
	m.CACertificate = types.StringValue(c.GetMasterAuth().GetClusterCaCertificate())
	m.MasterVersion = types.StringValue(c.GetCurrentMasterVersion())
	m.SelfLink = types.StringValue(c.GetSelfLink())
	if m.ReleaseChannel != nil {
		m.ReleaseChannel = &releaseChannelModel{Channel: types.StringValue(c.GetReleaseChannel().GetChannel().String())}
	}
	if m.WorkloadIdentityConfig != nil {
		m.WorkloadIdentityConfig = &workloadIdentityModel{WorkloadPool: gkeOptional(c.GetWorkloadIdentityConfig().GetWorkloadPool())}
	}
	if pc := m.PrivateClusterConfig; pc != nil {
		live := c.GetPrivateClusterConfig()
		//nolint:staticcheck // google's private_cluster_config, still served by the API
		m.PrivateClusterConfig = &privateClusterModel{
			EnablePrivateNodes:    types.BoolValue(live.GetEnablePrivateNodes()),
			EnablePrivateEndpoint: types.BoolValue(live.GetEnablePrivateEndpoint()),
			MasterIPv4CIDRBlock:   gkeOptional(live.GetMasterIpv4CidrBlock()),
			PrivateEndpoint:       types.StringValue(live.GetPrivateEndpoint()),
			PublicEndpoint:        types.StringValue(live.GetPublicEndpoint()),
		}
		if pc.EnablePrivateNodes.IsNull() && !live.GetEnablePrivateNodes() { //nolint:staticcheck // as above
			m.PrivateClusterConfig.EnablePrivateNodes = types.BoolNull()
		}
		if pc.EnablePrivateEndpoint.IsNull() && !live.GetEnablePrivateEndpoint() { //nolint:staticcheck // as above
			m.PrivateClusterConfig.EnablePrivateEndpoint = types.BoolNull()
		}
	}
	if a := m.AddonsConfig; a != nil {
		live := c.GetAddonsConfig()
		if a.GcsFuseCSIDriver != nil {
			a.GcsFuseCSIDriver = &addonEnabledModel{Enabled: types.BoolValue(live.GetGcsFuseCsiDriverConfig().GetEnabled())}
		}
		if a.GcePDCSIDriver != nil {
			a.GcePDCSIDriver = &addonEnabledModel{Enabled: types.BoolValue(live.GetGcePersistentDiskCsiDriverConfig().GetEnabled())}
		}
		if a.HTTPLoadBalancing != nil {
			a.HTTPLoadBalancing = &addonDisabledModel{Disabled: types.BoolValue(live.GetHttpLoadBalancing().GetDisabled())}
		}
		if a.HorizontalPodAutoscal != nil {
			a.HorizontalPodAutoscal = &addonDisabledModel{Disabled: types.BoolValue(live.GetHorizontalPodAutoscaling().GetDisabled())}
		}
	}
}

func (r *gkeClusterResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var plan gkeClusterModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	timeout, diags := plan.Timeouts.Create(ctx, defaultClusterCreateTimeout)
	resp.Diagnostics.Append(diags...)
	if resp.Diagnostics.HasError() {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	summary := fmt.Sprintf("creating GKE cluster (%s)", plan.Name.ValueString())
	c, id, err := r.client(ctx, &plan)
	if err != nil {
		resp.Diagnostics.AddError(summary, err.Error())
		return
	}
	what := "creating cluster " + id.Name
	op, err := c.CreateCluster(ctx, &containerpb.CreateClusterRequest{Parent: id.parent(), Cluster: plan.request(ctx)})
	if status.Code(err) == codes.AlreadyExists {
		pending, listErr := pendingOperation(ctx, c, id, containerpb.Operation_CREATE_CLUSTER, id.String())
		if listErr == nil && pending != nil {
			tflog.Info(ctx, fmt.Sprintf("%s: found the pending operation %s of an earlier apply; waiting for it", what, pending.GetName()))
			op, err = pending, nil
		} else {
			resp.Diagnostics.AddError(summary, fmt.Sprintf("cluster %s already exists. To manage it here, import it: terraform import <address> %s", id.Name, id))
			return
		}
	}
	if err != nil {
		resp.Diagnostics.AddError(summary, explainGoogle(err))
		return
	}
	err = waitOperation(ctx, c, id, op, what)
	if err == nil && plan.RemoveDefaultNodePool.ValueBool() {
		err = r.removeDefaultPool(ctx, c, id)
	}
	// A cluster that exists goes into state even if its creation failed:
	// Terraform then marks it tainted and replaces it, never leaving it
	// unmanaged.
	live, getErr := c.GetCluster(context.WithoutCancel(ctx), &containerpb.GetClusterRequest{Name: id.String()})
	if getErr == nil {
		plan.applyLive(id, live)
		resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
	}
	if err != nil {
		resp.Diagnostics.AddError(summary, err.Error())
	} else if getErr != nil {
		resp.Diagnostics.AddError(summary, "reading the new cluster: "+explainGoogle(getErr))
	}
}

func (r *gkeClusterResource) removeDefaultPool(ctx context.Context, c *container.ClusterManagerClient, id gkeClusterID) error {
	what := "removing the default node pool of cluster " + id.Name
	op, err := startOperation(ctx, c, id, what, func(ctx context.Context) (*containerpb.Operation, error) {
		return c.DeleteNodePool(ctx, &containerpb.DeleteNodePoolRequest{Name: id.pool(defaultPoolName)})
	})
	if isNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("%s: %s", what, explainGoogle(err))
	}
	return waitOperation(ctx, c, id, op, what)
}

func (r *gkeClusterResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var state gkeClusterModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if r.conn.googleUnknown {
		tflog.Info(ctx, "skipping refresh of cluster: the provider's Google settings are not known yet")
		return
	}
	summary := fmt.Sprintf("reading GKE cluster (%s)", state.Name.ValueString())
	c, id, err := r.client(ctx, &state)
	if err != nil {
		resp.Diagnostics.AddError(summary, err.Error())
		return
	}
	live, err := c.GetCluster(ctx, &containerpb.GetClusterRequest{Name: id.String()})
	if isNotFound(err) {
		tflog.Warn(ctx, "cluster is gone; removing it from state", map[string]any{"cluster": id.String()})
		resp.State.RemoveResource(ctx)
		return
	}
	if err != nil {
		resp.Diagnostics.AddError(summary, explainGoogle(err))
		return
	}
	if imported, _ := req.Private.GetKey(ctx, importedKey); string(imported) == `true` {
		state.importBlocks(live)
		resp.Diagnostics.Append(resp.Private.SetKey(ctx, importedKey, nil)...)
	}
	state.applyLive(id, live)
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}

func (r *gkeClusterResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var plan, state gkeClusterModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	timeout, diags := plan.Timeouts.Update(ctx, defaultClusterUpdateTimeout)
	resp.Diagnostics.Append(diags...)
	if resp.Diagnostics.HasError() {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	summary := fmt.Sprintf("updating GKE cluster (%s)", state.Name.ValueString())
	c, id, err := r.client(ctx, &state)
	if err != nil {
		resp.Diagnostics.AddError(summary, err.Error())
		return
	}
	update := func(what string, u *containerpb.ClusterUpdate) bool {
		what = fmt.Sprintf("updating cluster %s (%s)", id.Name, what)
		op, err := startOperation(ctx, c, id, what, func(ctx context.Context) (*containerpb.Operation, error) {
			return c.UpdateCluster(ctx, &containerpb.UpdateClusterRequest{Name: id.String(), Update: u})
		})
		if err == nil {
			err = waitOperation(ctx, c, id, op, what)
		}
		if err != nil {
			resp.Diagnostics.AddError(summary, fmt.Sprintf("%s: %s", what, explainGoogle(err)))
			return false
		}
		return true
	}
	ok := true
	if isSet(plan.MinMasterVersion) && !plan.MinMasterVersion.Equal(state.MinMasterVersion) {
		ok = update("master version", &containerpb.ClusterUpdate{DesiredMasterVersion: plan.MinMasterVersion.ValueString()})
	}
	if ok && plan.ReleaseChannel != nil && (state.ReleaseChannel == nil || !plan.ReleaseChannel.Channel.Equal(state.ReleaseChannel.Channel)) {
		ok = update("release channel", &containerpb.ClusterUpdate{DesiredReleaseChannel: plan.ReleaseChannel.proto()})
	}
	if ok && workloadPool(plan.WorkloadIdentityConfig) != workloadPool(state.WorkloadIdentityConfig) {
		ok = update("workload identity", &containerpb.ClusterUpdate{DesiredWorkloadIdentityConfig: &containerpb.WorkloadIdentityConfig{WorkloadPool: workloadPool(plan.WorkloadIdentityConfig)}})
	}
	if ok && plan.AddonsConfig != nil && plan.AddonsConfig.proto().String() != state.AddonsConfig.proto().String() {
		ok = update("add-ons", &containerpb.ClusterUpdate{DesiredAddonsConfig: plan.AddonsConfig.proto()})
	}
	if ok && isSet(plan.NodeLocations) && !plan.NodeLocations.Equal(state.NodeLocations) {
		ok = update("node locations", &containerpb.ClusterUpdate{DesiredLocations: stringSet(ctx, plan.NodeLocations)})
	}
	if pp := plan.PrivateClusterConfig; ok && pp != nil && !pp.EnablePrivateEndpoint.IsNull() && (state.PrivateClusterConfig == nil || !pp.EnablePrivateEndpoint.Equal(state.PrivateClusterConfig.EnablePrivateEndpoint)) {
		v := pp.EnablePrivateEndpoint.ValueBool()
		ok = update("private endpoint", &containerpb.ClusterUpdate{DesiredEnablePrivateEndpoint: &v}) //nolint:staticcheck // google's private_cluster_config
	}
	if ok && !mapsEqual(ctx, plan.ResourceLabels, state.ResourceLabels) {
		ok = r.setLabels(ctx, c, id, plan.ResourceLabels, &resp.Diagnostics, summary)
	}
	live, err := c.GetCluster(context.WithoutCancel(ctx), &containerpb.GetClusterRequest{Name: id.String()})
	if err != nil {
		resp.Diagnostics.AddError(summary, "reading the cluster after the update: "+explainGoogle(err))
		return
	}
	if !ok {
		state.applyLive(id, live)
		resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
		return
	}
	plan.applyLive(id, live)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

func workloadPool(w *workloadIdentityModel) string {
	if w == nil {
		return ""
	}
	return w.WorkloadPool.ValueString()
}

func (r *gkeClusterResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var state gkeClusterModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	summary := fmt.Sprintf("deleting GKE cluster (%s)", state.Name.ValueString())
	if state.DeletionProtection.ValueBool() {
		resp.Diagnostics.AddError(summary, "deletion_protection is true: set it to false and apply, then destroy (or replace) the cluster.")
		return
	}
	timeout, diags := state.Timeouts.Delete(ctx, defaultClusterDeleteTimeout)
	resp.Diagnostics.Append(diags...)
	if resp.Diagnostics.HasError() {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	c, id, err := r.client(ctx, &state)
	if err != nil {
		resp.Diagnostics.AddError(summary, err.Error())
		return
	}
	what := "deleting cluster " + id.Name
	op, err := startOperation(ctx, c, id, what, func(ctx context.Context) (*containerpb.Operation, error) {
		return c.DeleteCluster(ctx, &containerpb.DeleteClusterRequest{Name: id.String()})
	})
	if isNotFound(err) {
		return
	}
	if err == nil {
		err = waitOperation(ctx, c, id, op, what)
	}
	if err != nil {
		resp.Diagnostics.AddError(summary, explainGoogle(err))
	}
}

// ImportState takes google's ids: projects/P/locations/L/clusters/C,
// P/L/C, or L/C with the provider's project.
func (r *gkeClusterResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	var id gkeClusterID
	if m := clusterIDPattern.FindStringSubmatch(req.ID); m != nil {
		id = gkeClusterID{Project: m[1], Location: m[2], Name: m[3]}
	} else {
		parts := strings.Split(req.ID, "/")
		switch len(parts) {
		case 3:
			id = gkeClusterID{Project: parts[0], Location: parts[1], Name: parts[2]}
		case 2:
			id = gkeClusterID{Project: r.conn.google.project(), Location: parts[0], Name: parts[1]}
		}
	}
	if id.Name == "" || id.Project == "" {
		resp.Diagnostics.AddError("importing GKE cluster", fmt.Sprintf("the import ID is projects/PROJECT/locations/LOCATION/clusters/NAME "+
			"(or PROJECT/LOCATION/NAME, or LOCATION/NAME with google.project set); got %q", req.ID))
		return
	}
	for attr, v := range map[string]string{"project": id.Project, "location": id.Location, "name": id.Name, "id": id.String()} {
		resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root(attr), v)...)
	}
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("deletion_protection"), true)...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("remove_default_node_pool"), true)...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("initial_node_count"), int64(1))...)
	resp.Diagnostics.Append(resp.Private.SetKey(ctx, importedKey, []byte(`true`))...)
}

// importBlocks starts the blocks an imported cluster has, for applyLive
// to fill: the release channel, workload identity and the add-ons that
// are on.
func (m *gkeClusterModel) importBlocks(c *containerpb.Cluster) {
	if c.GetReleaseChannel() != nil {
		m.ReleaseChannel = &releaseChannelModel{}
	}
	if c.GetWorkloadIdentityConfig().GetWorkloadPool() != "" {
		m.WorkloadIdentityConfig = &workloadIdentityModel{}
	}
	a := c.GetAddonsConfig()
	addons := &addonsModel{}
	if a.GetGcsFuseCsiDriverConfig().GetEnabled() {
		addons.GcsFuseCSIDriver = &addonEnabledModel{}
	}
	if a.GetGcePersistentDiskCsiDriverConfig().GetEnabled() {
		addons.GcePDCSIDriver = &addonEnabledModel{}
	}
	if addons.GcsFuseCSIDriver != nil || addons.GcePDCSIDriver != nil {
		m.AddonsConfig = addons
	}
	if len(c.GetResourceLabels()) > 0 {
		m.ResourceLabels = mapOf(c.GetResourceLabels())
	}
}

// setLabels sets the resource labels with the fingerprint GKE asks for.
func (r *gkeClusterResource) setLabels(ctx context.Context, c *container.ClusterManagerClient, id gkeClusterID, labels types.Map, diags interface{ AddError(string, string) }, summary string) bool {
	want, _ := stringMap(ctx, labels)
	what := fmt.Sprintf("updating cluster %s (resource labels)", id.Name)
	op, err := startOperation(ctx, c, id, what, func(ctx context.Context) (*containerpb.Operation, error) {
		live, err := c.GetCluster(ctx, &containerpb.GetClusterRequest{Name: id.String()})
		if err != nil {
			return nil, err
		}
		return c.SetLabels(ctx, &containerpb.SetLabelsRequest{Name: id.String(), ResourceLabels: want, LabelFingerprint: live.GetLabelFingerprint()})
	})
	if err == nil {
		err = waitOperation(ctx, c, id, op, what)
	}
	if err != nil {
		diags.AddError(summary, fmt.Sprintf("%s: %s", what, explainGoogle(err)))
		return false
	}
	return true
}
