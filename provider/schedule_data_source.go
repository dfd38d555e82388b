package provider

import (
	"context"
	"fmt"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/types"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kfstack/terraform-provider-kubeflow/runtime/api/v1alpha1"
)

var _ datasource.DataSourceWithConfigure = (*scheduleDataSource)(nil)

// NewScheduleDataSource returns the kubeflow_schedule data source.
func NewScheduleDataSource() datasource.DataSource {
	return &scheduleDataSource{}
}

type scheduleDataSource struct {
	conn *connection
}

type scheduleDataSourceModel struct {
	ID                types.String `tfsdk:"id"`
	Name              types.String `tfsdk:"name"`
	Namespace         types.String `tfsdk:"namespace"`
	Cron              types.List   `tfsdk:"cron"`
	Interval          types.String `tfsdk:"interval"`
	TimeZone          types.String `tfsdk:"time_zone"`
	Suspend           types.Bool   `tfsdk:"suspend"`
	ConcurrencyPolicy types.String `tfsdk:"concurrency_policy"`
	Catchup           types.String `tfsdk:"catchup"`
	Pipeline          types.String `tfsdk:"pipeline"`
	PipelineVersion   types.Int64  `tfsdk:"pipeline_version"`
	Parameters        types.Map    `tfsdk:"parameters"`
	Ready             types.Bool   `tfsdk:"ready"`
	LastError         types.String `tfsdk:"last_error"`
	NextRunTimes      types.List   `tfsdk:"next_run_times"`
	LastRunTime       types.String `tfsdk:"last_run_time"`
	ActiveRuns        types.List   `tfsdk:"active_runs"`
	SucceededRuns     types.Int64  `tfsdk:"succeeded_runs"`
	FailedRuns        types.Int64  `tfsdk:"failed_runs"`
}

func (d *scheduleDataSource) Metadata(_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_schedule"
}

func (d *scheduleDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	str := func(desc string) schema.StringAttribute {
		return schema.StringAttribute{Computed: true, MarkdownDescription: desc}
	}
	resp.Schema = schema.Schema{
		MarkdownDescription: "Reads a schedule: when it fires, what it runs and how its runs went, whether Terraform manages it here or not.",
		Attributes: map[string]schema.Attribute{
			"id":                 str("`namespace/name`."),
			"name":               schema.StringAttribute{Required: true, MarkdownDescription: "Name of the schedule."},
			"namespace":          schema.StringAttribute{Required: true, MarkdownDescription: "Its namespace."},
			"cron":               schema.ListAttribute{Computed: true, ElementType: types.StringType, MarkdownDescription: "Its cron expressions (empty for an interval)."},
			"interval":           str("Its interval (empty for cron)."),
			"time_zone":          str("Its time zone."),
			"suspend":            schema.BoolAttribute{Computed: true, MarkdownDescription: "Whether it is suspended."},
			"concurrency_policy": str("`Allow`, `Forbid` or `Replace`."),
			"catchup":            str("`None`, `Latest` or `All`."),
			"pipeline":           str("The pipeline its runs run."),
			"pipeline_version":   schema.Int64Attribute{Computed: true, MarkdownDescription: "The pinned version (0: the latest at each fire)."},
			"parameters":         schema.MapAttribute{Computed: true, ElementType: types.StringType, MarkdownDescription: "The run parameters, macros unexpanded."},
			"ready":              schema.BoolAttribute{Computed: true, MarkdownDescription: "Whether the spec is valid and fires make their runs."},
			"last_error":         str("The latest problem (an invalid spec, a run that could not be created); empty once fires make their runs again."),
			"next_run_times":     schema.ListAttribute{Computed: true, ElementType: types.StringType, MarkdownDescription: "The next fire times (RFC 3339 UTC)."},
			"last_run_time":      str("Fire time of the newest run (RFC 3339 UTC)."),
			"active_runs":        schema.ListAttribute{Computed: true, ElementType: types.StringType, MarkdownDescription: "Names of its runs that have not finished."},
			"succeeded_runs":     schema.Int64Attribute{Computed: true, MarkdownDescription: "Runs that succeeded."},
			"failed_runs":        schema.Int64Attribute{Computed: true, MarkdownDescription: "Runs that failed."},
		},
	}
}

func (d *scheduleDataSource) Configure(_ context.Context, req datasource.ConfigureRequest, resp *datasource.ConfigureResponse) {
	d.conn = providerConnection(req.ProviderData, &resp.Diagnostics)
}

func (d *scheduleDataSource) Read(ctx context.Context, req datasource.ReadRequest, resp *datasource.ReadResponse) {
	var m scheduleDataSourceModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	ns, name := m.Namespace.ValueString(), m.Name.ValueString()
	summary := fmt.Sprintf("reading Schedule (%s/%s)", ns, name)
	c, cl, err := d.conn.pipelines(ctx)
	if err != nil {
		resp.Diagnostics.AddError(summary, err.Error())
		return
	}
	s := &v1alpha1.Schedule{}
	if err := cl.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, s); err != nil {
		resp.Diagnostics.AddError(summary, c.explainRuntime(err).Error())
		return
	}
	m.ID = types.StringValue(ns + "/" + name)
	diags := &resp.Diagnostics
	cron, dg := types.ListValueFrom(ctx, types.StringType, orEmpty(s.Spec.Cron))
	diags.Append(dg...)
	m.Cron = cron
	m.Interval = types.StringValue("")
	if s.Spec.Interval != nil {
		m.Interval = types.StringValue(s.Spec.Interval.Duration.String())
	}
	m.TimeZone = types.StringValue(orDefaultString(s.Spec.TimeZone, v1alpha1.DefaultScheduleTimeZone))
	m.Suspend = types.BoolValue(s.Spec.Suspend)
	m.ConcurrencyPolicy = types.StringValue(orDefaultString(string(s.Spec.ConcurrencyPolicy), string(v1alpha1.DefaultConcurrencyPolicy)))
	m.Catchup = types.StringValue(orDefaultString(string(s.Spec.Catchup), string(v1alpha1.DefaultCatchupPolicy)))
	m.Pipeline, m.PipelineVersion = types.StringValue(s.Spec.Run.Pipeline), types.Int64Value(int64(s.Spec.Run.PipelineVersion))
	params, dg := types.MapValueFrom(ctx, types.StringType, orEmptyMap(s.Spec.Run.Parameters))
	diags.Append(dg...)
	m.Parameters = params
	m.Ready = types.BoolValue(apimeta.IsStatusConditionTrue(s.Status.Conditions, v1alpha1.ScheduleConditionReady))
	m.LastError = types.StringValue(s.Status.LastError)
	next := make([]string, 0, len(s.Status.NextScheduleTimes))
	for _, t := range s.Status.NextScheduleTimes {
		next = append(next, t.UTC().Format(time.RFC3339))
	}
	nl, dg := types.ListValueFrom(ctx, types.StringType, next)
	diags.Append(dg...)
	m.NextRunTimes = nl
	m.LastRunTime = types.StringValue("")
	if t := s.Status.LastScheduleTime; t != nil {
		m.LastRunTime = types.StringValue(t.UTC().Format(time.RFC3339))
	}
	active, dg := types.ListValueFrom(ctx, types.StringType, orEmpty(s.Status.Active))
	diags.Append(dg...)
	m.ActiveRuns = active
	m.SucceededRuns, m.FailedRuns = types.Int64Value(s.Status.SucceededRuns), types.Int64Value(s.Status.FailedRuns)
	if diags.HasError() {
		return
	}
	diags.Append(resp.State.Set(ctx, &m)...)
}
