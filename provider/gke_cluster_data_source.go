package provider

import (
	"context"
	"fmt"

	"cloud.google.com/go/container/apiv1/containerpb"
	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/types"
)

var _ datasource.DataSourceWithConfigure = (*gkeClusterDataSource)(nil)

// NewGKEClusterDataSource returns the kubeflow_gke_cluster data source.
func NewGKEClusterDataSource() datasource.DataSource {
	return &gkeClusterDataSource{}
}

type gkeClusterDataSource struct {
	conn *connection
}

type gkeClusterDataModel struct {
	ID            types.String `tfsdk:"id"`
	Project       types.String `tfsdk:"project"`
	Location      types.String `tfsdk:"location"`
	Name          types.String `tfsdk:"name"`
	Endpoint      types.String `tfsdk:"endpoint"`
	CACertificate types.String `tfsdk:"ca_certificate"`
	MasterVersion types.String `tfsdk:"master_version"`
	Status        types.String `tfsdk:"status"`
	NodeLocations types.Set    `tfsdk:"node_locations"`
	NodePools     types.List   `tfsdk:"node_pools"`
	WorkloadPool  types.String `tfsdk:"workload_pool"`
}

func (d *gkeClusterDataSource) Metadata(_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_gke_cluster"
}

func (d *gkeClusterDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	computed := func(description string) schema.StringAttribute {
		return schema.StringAttribute{Computed: true, MarkdownDescription: description}
	}
	resp.Schema = schema.Schema{
		MarkdownDescription: "An existing GKE cluster, such as one made outside this configuration: its endpoint, CA, version " +
			"and node pools. To build the platform on it, name it in a provider's `gke` block.",
		Attributes: map[string]schema.Attribute{
			"id":             computed("`projects/{project}/locations/{location}/clusters/{name}`."),
			"project":        schema.StringAttribute{Optional: true, Computed: true, MarkdownDescription: "The project; the provider's `google.project` when unset."},
			"location":       schema.StringAttribute{Required: true, MarkdownDescription: "The cluster's region or zone."},
			"name":           schema.StringAttribute{Required: true, MarkdownDescription: "The cluster's name."},
			"endpoint":       computed("The API server's address."),
			"ca_certificate": computed("Base64 PEM of the cluster's CA."),
			"master_version": computed("The control plane's Kubernetes version."),
			"status":         computed("PROVISIONING, RUNNING, RECONCILING, STOPPING, ERROR or DEGRADED."),
			"workload_pool":  computed("The Workload Identity pool, empty when off."),
			"node_locations": schema.SetAttribute{ElementType: types.StringType, Computed: true, MarkdownDescription: "Zones of the nodes."},
			"node_pools":     schema.ListAttribute{ElementType: types.StringType, Computed: true, MarkdownDescription: "Names of the node pools."},
		},
	}
}

func (d *gkeClusterDataSource) Configure(_ context.Context, req datasource.ConfigureRequest, resp *datasource.ConfigureResponse) {
	d.conn = providerConnection(req.ProviderData, &resp.Diagnostics)
}

func (d *gkeClusterDataSource) Read(ctx context.Context, req datasource.ReadRequest, resp *datasource.ReadResponse) {
	var m gkeClusterDataModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	summary := fmt.Sprintf("reading GKE cluster (%s)", m.Name.ValueString())
	project := m.Project.ValueString()
	if project == "" {
		project = d.conn.google.project()
	}
	id, err := parseClusterRef(m.Name.ValueString(), project, m.Location.ValueString())
	if err != nil {
		resp.Diagnostics.AddError(summary, err.Error())
		return
	}
	_, c, err := d.conn.google.get(ctx)
	if err != nil {
		resp.Diagnostics.AddError(summary, err.Error())
		return
	}
	cl, err := c.GetCluster(ctx, &containerpb.GetClusterRequest{Name: id.String()})
	if err != nil {
		resp.Diagnostics.AddError(summary, explainGoogle(err))
		return
	}
	var pools []string
	for _, p := range cl.GetNodePools() {
		pools = append(pools, p.GetName())
	}
	m.ID, m.Project = types.StringValue(id.String()), types.StringValue(id.Project)
	m.Endpoint = types.StringValue(cl.GetEndpoint())
	m.CACertificate = types.StringValue(cl.GetMasterAuth().GetClusterCaCertificate())
	m.MasterVersion = types.StringValue(cl.GetCurrentMasterVersion())
	m.Status = types.StringValue(cl.GetStatus().String())
	m.WorkloadPool = types.StringValue(cl.GetWorkloadIdentityConfig().GetWorkloadPool())
	m.NodeLocations = setOf(cl.GetLocations())
	m.NodePools = listOf(pools)
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}
