package provider

import (
	"context"
	"fmt"

	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/types"
)

var _ datasource.DataSourceWithConfigure = (*profileDataSource)(nil)

// NewProfileDataSource returns the kubeflow_profile data source.
func NewProfileDataSource() datasource.DataSource {
	return &profileDataSource{}
}

type profileDataSource struct {
	conn *connection
}

func (d *profileDataSource) Metadata(_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_profile"
}

func (d *profileDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	computedQuantity := func(desc string) schema.StringAttribute {
		return schema.StringAttribute{Computed: true, MarkdownDescription: desc}
	}
	computedCount := func(desc string) schema.Int64Attribute {
		return schema.Int64Attribute{Computed: true, MarkdownDescription: desc}
	}
	member := map[string]schema.Attribute{
		"name": schema.StringAttribute{Computed: true, MarkdownDescription: "User or group name."},
		"kind": schema.StringAttribute{Computed: true, MarkdownDescription: "`user` or `group`."},
	}
	resp.Schema = schema.Schema{
		MarkdownDescription: "Reads a profile (a team's environment), whether Terraform manages it here or elsewhere.",
		Attributes: map[string]schema.Attribute{
			"id":   schema.StringAttribute{Computed: true, MarkdownDescription: "The profile's name."},
			"name": schema.StringAttribute{Required: true, MarkdownDescription: "Name of the profile and its namespace."},
			"owner": schema.SingleNestedAttribute{
				Computed: true, MarkdownDescription: "The owner, bound to `admin`.", Attributes: member,
			},
			"contributors": schema.ListNestedAttribute{
				Computed:            true,
				MarkdownDescription: "Members bound to `edit` or `view`.",
				NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
					"name": schema.StringAttribute{Computed: true, MarkdownDescription: "User or group name."},
					"kind": schema.StringAttribute{Computed: true, MarkdownDescription: "`user` or `group`."},
					"role": schema.StringAttribute{Computed: true, MarkdownDescription: "`edit` or `view`."},
				}},
			},
			"labels":      schema.MapAttribute{ElementType: types.StringType, Computed: true, MarkdownDescription: "All labels of the namespace."},
			"annotations": schema.MapAttribute{ElementType: types.StringType, Computed: true, MarkdownDescription: "All annotations of the namespace."},
			"resource_quota": schema.SingleNestedAttribute{
				Computed: true, MarkdownDescription: "The profile's ResourceQuota, if it has one.",
				Attributes: map[string]schema.Attribute{
					"cpu": computedQuantity("`requests.cpu`."), "memory": computedQuantity("`requests.memory`."),
					"gpu": computedCount("`requests.nvidia.com/gpu`."), "tpu": computedCount("`requests.google.com/tpu`."),
					"pods": computedCount("`pods`."),
					"hard": schema.MapAttribute{ElementType: types.StringType, Computed: true, MarkdownDescription: "Other `hard` entries."},
				},
			},
			"default_limits": schema.SingleNestedAttribute{
				Computed: true, MarkdownDescription: "The profile's container LimitRange, if it has one.",
				Attributes: map[string]schema.Attribute{
					"cpu": computedQuantity("Default CPU limit."), "memory": computedQuantity("Default memory limit."),
					"request_cpu": computedQuantity("Default CPU request."), "request_memory": computedQuantity("Default memory request."),
					"max_cpu": computedQuantity("Largest CPU limit."), "max_memory": computedQuantity("Largest memory limit."),
				},
			},
			"istio_injection":       schema.BoolAttribute{Computed: true, MarkdownDescription: "Whether Istio injects sidecars."},
			"workload_identity_gsa": schema.StringAttribute{Computed: true, MarkdownDescription: "Google service account of the pipeline service account, if any."},
			"service_account":       schema.StringAttribute{Computed: true, MarkdownDescription: "The pipeline service account."},
			"run_service_accounts": schema.SetAttribute{
				ElementType: types.StringType, Computed: true,
				MarkdownDescription: "Other service accounts that runs in the profile may name (null when there are none).",
			},
		},
	}
}

func (d *profileDataSource) Configure(_ context.Context, req datasource.ConfigureRequest, resp *datasource.ConfigureResponse) {
	d.conn = providerConnection(req.ProviderData, &resp.Diagnostics)
}

func (d *profileDataSource) Read(ctx context.Context, req datasource.ReadRequest, resp *datasource.ReadResponse) {
	var model profileModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &model)...)
	if resp.Diagnostics.HasError() {
		return
	}
	name := model.Name.ValueString()
	summary := fmt.Sprintf("reading Profile (%s)", name)
	c, err := d.conn.get(ctx)
	if err != nil {
		resp.Diagnostics.AddError(summary, err.Error())
		return
	}
	live, err := c.readProfile(ctx, name, "")
	if isGone(err) {
		resp.Diagnostics.AddError(summary, fmt.Sprintf("no profile named %q: its namespace does not exist", name))
		return
	}
	if err != nil {
		resp.Diagnostics.AddError(summary, c.explain(err).Error())
		return
	}
	resp.Diagnostics.Append(model.applyLive(ctx, live)...)
	// A data source shows every label and annotation, not only managed ones.
	labels, diags := types.MapValueFrom(ctx, types.StringType, live.namespace.Labels)
	resp.Diagnostics.Append(diags...)
	annotations, diags := types.MapValueFrom(ctx, types.StringType, live.namespace.Annotations)
	resp.Diagnostics.Append(diags...)
	model.Labels, model.Annotations = labels, annotations
	resp.Diagnostics.Append(resp.State.Set(ctx, &model)...)
}
