package provider

import (
	"context"
	"fmt"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kfstack/terraform-provider-kubeflow/runtime/api/v1alpha1"
	"github.com/kfstack/terraform-provider-kubeflow/runtime/api/versions"
)

var (
	_ datasource.DataSourceWithConfigure = (*pipelineDataSource)(nil)
	_ datasource.DataSourceWithConfigure = (*runDataSource)(nil)
)

// NewPipelineDataSource returns the kubeflow_pipeline data source.
func NewPipelineDataSource() datasource.DataSource {
	return &pipelineDataSource{}
}

// NewRunDataSource returns the kubeflow_run data source.
func NewRunDataSource() datasource.DataSource {
	return &runDataSource{}
}

type pipelineDataSource struct {
	conn *connection
}

type pipelineDataSourceModel struct {
	ID          types.String `tfsdk:"id"`
	Name        types.String `tfsdk:"name"`
	Namespace   types.String `tfsdk:"namespace"`
	Description types.String `tfsdk:"description"`
	Spec        types.String `tfsdk:"spec"`
	DAG         types.String `tfsdk:"dag_json"`
	Version     types.Int64  `tfsdk:"version"`
	ContentHash types.String `tfsdk:"content_hash"`
	Versions    types.List   `tfsdk:"versions"`
	// ContentVersion picks the version whose content Spec and DAG hold.
	ContentVersion types.Int64 `tfsdk:"content_version"`
}

func (d *pipelineDataSource) Metadata(_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_pipeline"
}

func (d *pipelineDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "Reads a pipeline and its versions, whether Terraform manages it here or elsewhere.",
		Attributes: map[string]schema.Attribute{
			"id":          schema.StringAttribute{Computed: true, MarkdownDescription: "`namespace/name`."},
			"name":        schema.StringAttribute{Required: true, MarkdownDescription: "Name of the pipeline."},
			"namespace":   schema.StringAttribute{Required: true, MarkdownDescription: "Its namespace."},
			"description": schema.StringAttribute{Computed: true, MarkdownDescription: "Free text."},
			"spec":        schema.StringAttribute{Computed: true, MarkdownDescription: "The KFP spec (empty for a native DAG): the current content, or that of `content_version`."},
			"dag_json":    schema.StringAttribute{Computed: true, MarkdownDescription: "The native DAG as JSON (empty for a KFP spec): the current content, or that of `content_version`."},
			"content_version": schema.Int64Attribute{
				Optional: true,
				MarkdownDescription: "A kept version whose content `spec` and `dag_json` show instead of the current content. " +
					"It is read from the version's ConfigMap and checked against the version's content hash.",
				Validators: []validator.Int64{int64validator.AtLeast(1)},
			},
			"version":      schema.Int64Attribute{Computed: true, MarkdownDescription: "The latest version's number."},
			"content_hash": schema.StringAttribute{Computed: true, MarkdownDescription: "SHA-256 of the latest version's content."},
			"versions":     schema.ListAttribute{Computed: true, ElementType: types.Int64Type, MarkdownDescription: "Numbers of the kept versions, oldest first."},
		},
	}
}

func (d *pipelineDataSource) Configure(_ context.Context, req datasource.ConfigureRequest, resp *datasource.ConfigureResponse) {
	d.conn = providerConnection(req.ProviderData, &resp.Diagnostics)
}

func (d *pipelineDataSource) Read(ctx context.Context, req datasource.ReadRequest, resp *datasource.ReadResponse) {
	var m pipelineDataSourceModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	ns, name := m.Namespace.ValueString(), m.Name.ValueString()
	summary := fmt.Sprintf("reading Pipeline (%s/%s)", ns, name)
	c, cl, err := d.conn.pipelines(ctx)
	if err != nil {
		resp.Diagnostics.AddError(summary, err.Error())
		return
	}
	p := &v1alpha1.Pipeline{}
	if err := cl.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, p); err != nil {
		resp.Diagnostics.AddError(summary, c.explainRuntime(err).Error())
		return
	}
	content := p.Spec
	if !m.ContentVersion.IsNull() {
		n := int32(m.ContentVersion.ValueInt64())
		v := p.Status.Version(n)
		if v == nil {
			resp.Diagnostics.AddAttributeError(path.Root("content_version"), summary, fmt.Sprintf("pipeline %s/%s does not keep version %d (kept: %s)", ns, name, n, keptVersions(p)))
			return
		}
		content, err = versions.Read(ctx, cl, ns, v.ConfigMap, v.ContentHash)
		if err != nil {
			resp.Diagnostics.AddAttributeError(path.Root("content_version"), summary, fmt.Sprintf("reading the content of version %d: %v", n, c.explain(err)))
			return
		}
	}
	m.ID = types.StringValue(ns + "/" + name)
	m.Description, m.Spec, m.DAG = types.StringValue(p.Spec.Description), types.StringValue(content.Spec), types.StringValue(content.DAG)
	m.Version, m.ContentHash = types.Int64Value(int64(p.Status.LatestVersion)), types.StringValue(p.Status.ContentHash)
	nums := make([]attr.Value, len(p.Status.Versions))
	for i, v := range p.Status.Versions {
		nums[i] = types.Int64Value(int64(v.Number))
	}
	m.Versions = types.ListValueMust(types.Int64Type, nums)
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}

// keptVersions lists the numbers of the versions a pipeline keeps.
func keptVersions(p *v1alpha1.Pipeline) string {
	nums := make([]string, len(p.Status.Versions))
	for i, v := range p.Status.Versions {
		nums[i] = fmt.Sprint(v.Number)
	}
	if len(nums) == 0 {
		return "none"
	}
	return strings.Join(nums, ", ")
}

type runDataSource struct {
	conn *connection
}

type runDataSourceModel struct {
	ID         types.String `tfsdk:"id"`
	Name       types.String `tfsdk:"name"`
	Namespace  types.String `tfsdk:"namespace"`
	Pipeline   types.String `tfsdk:"pipeline"`
	Experiment types.String `tfsdk:"experiment"`
	Version    types.Int64  `tfsdk:"version"`
	Parameters types.Map    `tfsdk:"parameters"`
	Phase      types.String `tfsdk:"phase"`
	Message    types.String `tfsdk:"message"`
	Outputs    types.Map    `tfsdk:"outputs"`
	Tasks      types.Map    `tfsdk:"tasks"`
}

func (d *runDataSource) Metadata(_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_run"
}

func (d *runDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "Reads a pipeline run: its phase and outputs, whether Terraform created it or not.",
		Attributes: map[string]schema.Attribute{
			"id":         schema.StringAttribute{Computed: true, MarkdownDescription: "`namespace/name`."},
			"name":       schema.StringAttribute{Required: true, MarkdownDescription: "Name of the run."},
			"namespace":  schema.StringAttribute{Required: true, MarkdownDescription: "Its namespace."},
			"pipeline":   schema.StringAttribute{Computed: true, MarkdownDescription: "The pipeline it runs."},
			"experiment": schema.StringAttribute{Computed: true, MarkdownDescription: "The experiment it belongs to."},
			"version":    schema.Int64Attribute{Computed: true, MarkdownDescription: "The pipeline version it runs (0 until resolved)."},
			"parameters": schema.MapAttribute{Computed: true, ElementType: types.StringType, MarkdownDescription: "Its parameters."},
			"phase":      schema.StringAttribute{Computed: true, MarkdownDescription: "`Pending`, `Running`, `Succeeded`, `Failed` or `Cancelled`."},
			"message":    schema.StringAttribute{Computed: true, MarkdownDescription: "Why it is in that phase."},
			"outputs":    schema.MapAttribute{Computed: true, ElementType: types.StringType, MarkdownDescription: "Output parameters, JSON-encoded."},
			"tasks":      schema.MapAttribute{Computed: true, ElementType: types.Int64Type, MarkdownDescription: "Number of tasks by phase."},
		},
	}
}

func (d *runDataSource) Configure(_ context.Context, req datasource.ConfigureRequest, resp *datasource.ConfigureResponse) {
	d.conn = providerConnection(req.ProviderData, &resp.Diagnostics)
}

func (d *runDataSource) Read(ctx context.Context, req datasource.ReadRequest, resp *datasource.ReadResponse) {
	var m runDataSourceModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	ns, name := m.Namespace.ValueString(), m.Name.ValueString()
	summary := fmt.Sprintf("reading PipelineRun (%s/%s)", ns, name)
	c, cl, err := d.conn.pipelines(ctx)
	if err != nil {
		resp.Diagnostics.AddError(summary, err.Error())
		return
	}
	run := &v1alpha1.PipelineRun{}
	if err := cl.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, run); err != nil {
		resp.Diagnostics.AddError(summary, c.explainRuntime(err).Error())
		return
	}
	m.ID = types.StringValue(ns + "/" + name)
	m.Pipeline, m.Version = types.StringValue(run.Spec.Pipeline), types.Int64Value(int64(run.Status.PipelineVersion))
	m.Experiment = types.StringValue(v1alpha1.ExperimentOf(run))
	m.Phase, m.Message = types.StringValue(string(run.Status.Phase)), types.StringValue(run.Status.Message)
	var diags = resp.Diagnostics
	params, dg := types.MapValueFrom(ctx, types.StringType, orEmptyMap(run.Spec.Parameters))
	diags.Append(dg...)
	outputs, dg := types.MapValueFrom(ctx, types.StringType, orEmptyMap(run.Status.Outputs))
	diags.Append(dg...)
	tasks := map[string]int64{}
	for k, v := range run.Status.Tasks {
		tasks[k] = int64(v)
	}
	counts, dg := types.MapValueFrom(ctx, types.Int64Type, tasks)
	diags.Append(dg...)
	resp.Diagnostics = diags
	if diags.HasError() {
		return
	}
	m.Parameters, m.Outputs, m.Tasks = params, outputs, counts
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}
