package provider

import (
	"context"
	"fmt"
	"maps"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-timeouts/resource/timeouts"
	"github.com/hashicorp/terraform-plugin-framework-timetypes/timetypes"
	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/booldefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/int64default"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringdefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-framework/types/basetypes"
	"github.com/hashicorp/terraform-plugin-log/tflog"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kfstack/terraform-provider-kubeflow/runtime/api/v1alpha1"
	"github.com/kfstack/terraform-provider-kubeflow/runtime/api/validation"
	"github.com/kfstack/terraform-provider-kubeflow/runtime/api/versions"
)

var (
	_ resource.ResourceWithConfigure      = (*scheduleResource)(nil)
	_ resource.ResourceWithImportState    = (*scheduleResource)(nil)
	_ resource.ResourceWithValidateConfig = (*scheduleResource)(nil)
	_ resource.ResourceWithModifyPlan     = (*scheduleResource)(nil)
)

// NewScheduleResource returns the kubeflow_schedule resource.
func NewScheduleResource() resource.Resource {
	return &scheduleResource{}
}

type scheduleResource struct {
	conn *connection
}

// scheduleResourceModel is a Schedule and its timeouts.
type scheduleResourceModel struct {
	ID                         types.String         `tfsdk:"id"`
	UID                        types.String         `tfsdk:"uid"`
	Name                       types.String         `tfsdk:"name"`
	Namespace                  types.String         `tfsdk:"namespace"`
	Labels                     types.Map            `tfsdk:"labels"`
	Cron                       types.List           `tfsdk:"cron"`
	CronSeconds                types.Bool           `tfsdk:"cron_seconds"`
	Interval                   timetypes.GoDuration `tfsdk:"interval"`
	TimeZone                   types.String         `tfsdk:"time_zone"`
	StartTime                  timetypes.RFC3339    `tfsdk:"start_time"`
	EndTime                    timetypes.RFC3339    `tfsdk:"end_time"`
	Suspend                    types.Bool           `tfsdk:"suspend"`
	ConcurrencyPolicy          types.String         `tfsdk:"concurrency_policy"`
	MaxConcurrency             types.Int64          `tfsdk:"max_concurrency"`
	Catchup                    types.String         `tfsdk:"catchup"`
	MaxCatchup                 types.Int64          `tfsdk:"max_catchup"`
	CatchupFromSuspended       types.Bool           `tfsdk:"catchup_from_suspended"`
	StartingDeadline           timetypes.GoDuration `tfsdk:"starting_deadline"`
	StopAfterFailures          types.Int64          `tfsdk:"stop_after_failures"`
	SuccessfulRunsHistoryLimit types.Int64          `tfsdk:"successful_runs_history_limit"`
	FailedRunsHistoryLimit     types.Int64          `tfsdk:"failed_runs_history_limit"`
	Run                        types.Object         `tfsdk:"run"`
	NextRunTimes               types.List           `tfsdk:"next_run_times"`
	LastRunTime                types.String         `tfsdk:"last_run_time"`
	ActiveRuns                 types.List           `tfsdk:"active_runs"`
	SucceededRuns              types.Int64          `tfsdk:"succeeded_runs"`
	FailedRuns                 types.Int64          `tfsdk:"failed_runs"`
	Timeouts                   timeouts.Value       `tfsdk:"timeouts"`
}

// scheduleRunModel is the run template.
type scheduleRunModel struct {
	Pipeline        types.String         `tfsdk:"pipeline"`
	PipelineVersion types.Int64          `tfsdk:"pipeline_version"`
	Parameters      types.Map            `tfsdk:"parameters"`
	PipelineRoot    types.String         `tfsdk:"pipeline_root"`
	ServiceAccount  types.String         `tfsdk:"service_account"`
	Executor        types.String         `tfsdk:"executor"`
	Parallelism     types.Int64          `tfsdk:"parallelism"`
	Timeout         timetypes.GoDuration `tfsdk:"timeout"`
	Experiment      types.String         `tfsdk:"experiment"`
}

const defaultScheduleTimeout = 2 * time.Minute

func (r *scheduleResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_schedule"
}

func (r *scheduleResource) Schema(ctx context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "Runs a `kubeflow_pipeline` on a cron schedule or an interval: a `Schedule` of the kfstack runtime, " +
			"whose controller makes each run at its exact fire time, named `<name>-<unix seconds of the fire time>` so that no " +
			"fire ever runs twice. Every attribute but `name` and `namespace` changes in place from the next fire: runs in " +
			"flight are untouched. The checks of the runtime's admission webhook run at plan time, each on its attribute, and " +
			"against the pipeline before the schedule is written. Destroying a schedule deletes its runs.\n\n" +
			"Daylight saving: when clocks go forward, a fixed time they skip fires once, at the first instant after the change; " +
			"when they go back, a fixed time fires once, in the first pass; expressions that match every hour follow the clock. " +
			"`interval` and `@every` are elapsed time.",
		Attributes: scheduleAttributes(ctx),
	}
}

func scheduleAttributes(ctx context.Context) map[string]schema.Attribute {
	replace := []planmodifier.String{stringplanmodifier.RequiresReplace()}
	return map[string]schema.Attribute{
		"id": schema.StringAttribute{
			Computed: true, MarkdownDescription: "`namespace/name`.",
			PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
		},
		"uid": schema.StringAttribute{
			Computed: true, MarkdownDescription: "The Schedule's UID: it stays the same across updates.",
			PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
		},
		"name": schema.StringAttribute{
			Required: true, PlanModifiers: replace,
			MarkdownDescription: "Name of the schedule: a DNS-1123 subdomain of at most 52 characters (its runs add `-<unix seconds>`).",
		},
		"namespace": schema.StringAttribute{
			Required: true, PlanModifiers: replace, Validators: []validator.String{dnsLabelValidator{}},
			MarkdownDescription: "Namespace of the schedule, its pipeline and its runs (a profile's namespace).",
		},
		"labels": schema.MapAttribute{
			Optional: true, ElementType: types.StringType,
			MarkdownDescription: "Labels of the schedule, copied onto its runs (a controller started with `--run-selector` drives the schedules and runs it selects).",
		},
		"cron": schema.ListAttribute{
			Optional: true, ElementType: types.StringType,
			MarkdownDescription: "Cron expressions; the schedule fires whenever one matches, in `time_zone`. Five fields: minute hour " +
				"day-of-month month day-of-week (`0 2 * * *` is daily at 02:00, `*/15 9-17 * * 1-5` every quarter hour of office hours), " +
				"or six with seconds first when `cron_seconds` is set; or a descriptor: `@yearly`, `@monthly`, `@weekly`, `@daily`, " +
				"`@hourly`, `@every 90m` (counted from `start_time`, or from the schedule's creation). Exactly one of `cron` and `interval`.",
		},
		"cron_seconds": schema.BoolAttribute{
			Optional: true, Computed: true, Default: booldefault.StaticBool(false),
			MarkdownDescription: "Six-field expressions, seconds first, as Kubeflow Pipelines writes them (`0 0 * * * *` is hourly). Default `false`.",
		},
		"interval": schema.StringAttribute{
			Optional: true, CustomType: timetypes.GoDurationType{},
			MarkdownDescription: "Fire every interval (a duration such as `90m`, at least `1s`, whole seconds), counted from `start_time`, or from the schedule's creation.",
		},
		"time_zone": schema.StringAttribute{
			Optional: true, Computed: true, Default: stringdefault.StaticString(v1alpha1.DefaultScheduleTimeZone),
			MarkdownDescription: "IANA time zone of the cron expressions, such as `Europe/Berlin`. Default `UTC`, whatever the controller's zone.",
		},
		"start_time": schema.StringAttribute{
			Optional: true, CustomType: timetypes.RFC3339Type{},
			MarkdownDescription: "RFC 3339 time before which the schedule does not fire; `interval` counts from it.",
		},
		"end_time": schema.StringAttribute{
			Optional: true, CustomType: timetypes.RFC3339Type{},
			MarkdownDescription: "RFC 3339 time after which the schedule fires no more (it is then Completed).",
		},
		"suspend": schema.BoolAttribute{
			Optional: true, Computed: true, Default: booldefault.StaticBool(false),
			MarkdownDescription: "Stop firing. Resuming does not run the fires missed while suspended, unless `catchup = \"All\"` and " +
				"`catchup_from_suspended`. The controller sets it itself after `stop_after_failures` failed runs in a row; the next apply resumes.",
		},
		"concurrency_policy": schema.StringAttribute{
			Optional: true, Computed: true, Default: stringdefault.StaticString(string(v1alpha1.DefaultConcurrencyPolicy)),
			MarkdownDescription: "`Allow` (default: up to `max_concurrency` runs at once), `Forbid` (one at a time) or `Replace` (cancel the " +
				"running run, through its `cancel`, and start the new one). A fire beyond the limit is missed and handled by `catchup`.",
		},
		"max_concurrency": schema.Int64Attribute{
			Optional: true, Computed: true, Default: int64default.StaticInt64(v1alpha1.DefaultMaxConcurrency),
			MarkdownDescription: "Runs at once under `Allow` (default 1).",
		},
		"catchup": schema.StringAttribute{
			Optional: true, Computed: true, Default: stringdefault.StaticString(string(v1alpha1.DefaultCatchupPolicy)),
			MarkdownDescription: "Which missed fires (the controller was down, the schedule suspended, or the concurrency policy held them " +
				"back) run late: `None`, `Latest` (default: one run, for the latest) or `All` (every one, oldest first, as the concurrency policy allows).",
		},
		"max_catchup": schema.Int64Attribute{
			Optional: true, Computed: true, Default: int64default.StaticInt64(v1alpha1.DefaultMaxCatchup),
			MarkdownDescription: "The most missed fires `All` runs (the newest ones; default 100). The schedule never stops because it missed too many.",
		},
		"catchup_from_suspended": schema.BoolAttribute{
			Optional: true, Computed: true, Default: booldefault.StaticBool(false),
			MarkdownDescription: "With `catchup = \"All\"`, a resumed schedule runs the fires it missed while suspended. Default `false`.",
		},
		"starting_deadline": schema.StringAttribute{
			Optional: true, CustomType: timetypes.GoDurationType{},
			MarkdownDescription: "A fire that cannot start within this duration of its time is missed, not run (unset: no deadline).",
		},
		"stop_after_failures": schema.Int64Attribute{
			Optional: true, Computed: true, Default: int64default.StaticInt64(0),
			MarkdownDescription: "Suspend the schedule after this many runs failed in a row (default 0: never).",
		},
		"successful_runs_history_limit": schema.Int64Attribute{
			Optional: true, Computed: true, Default: int64default.StaticInt64(v1alpha1.DefaultRunsHistoryLimit),
			MarkdownDescription: "Succeeded runs kept; older ones are deleted (default 10).",
		},
		"failed_runs_history_limit": schema.Int64Attribute{
			Optional: true, Computed: true, Default: int64default.StaticInt64(v1alpha1.DefaultRunsHistoryLimit),
			MarkdownDescription: "Failed or cancelled runs kept (default 10).",
		},
		"run": schema.SingleNestedAttribute{
			Required:            true,
			MarkdownDescription: "The run each fire makes.",
			Attributes:          scheduleRunAttributes(),
		},
		"next_run_times": schema.ListAttribute{
			Computed: true, ElementType: types.StringType,
			MarkdownDescription: "The next fire times (up to 3, RFC 3339 UTC; none while suspended or after `end_time`).",
		},
		"last_run_time": schema.StringAttribute{
			Computed: true, MarkdownDescription: "Fire time of the newest run (RFC 3339 UTC; empty before the first).",
		},
		"active_runs": schema.ListAttribute{
			Computed: true, ElementType: types.StringType, MarkdownDescription: "Names of the runs that have not finished.",
		},
		"succeeded_runs": schema.Int64Attribute{Computed: true, MarkdownDescription: "Runs that succeeded."},
		"failed_runs":    schema.Int64Attribute{Computed: true, MarkdownDescription: "Runs that failed."},
		"timeouts":       timeouts.Attributes(ctx, timeouts.Opts{Create: true, Update: true, Delete: true}),
	}
}

func scheduleRunAttributes() map[string]schema.Attribute {
	return map[string]schema.Attribute{
		"pipeline": schema.StringAttribute{
			Required: true, MarkdownDescription: "Name of the `kubeflow_pipeline` in the namespace.",
		},
		"pipeline_version": schema.Int64Attribute{
			Optional: true, Validators: []validator.Int64{int64validator.AtLeast(1)},
			MarkdownDescription: "Version to run; unset runs the latest version at each fire (recorded in each run).",
		},
		"parameters": schema.MapAttribute{
			Optional: true, ElementType: types.StringType,
			MarkdownDescription: "Run parameters. Values may use `[[ScheduledTime]]` and `[[CurrentTime]]` (`20060102150405` in " +
				"`time_zone`, as Kubeflow Pipelines writes them), `[[ScheduledTime.<Go time layout>]]` such as " +
				"`[[ScheduledTime.2006-01-02]]`, `[[CurrentTime.<layout>]]` and `[[Index]]` (the run's number, from 1).",
		},
		"pipeline_root": schema.StringAttribute{
			Optional: true, MarkdownDescription: "Artifact store URL of the runs; the controller's default when unset.",
		},
		"service_account": schema.StringAttribute{
			Optional: true, MarkdownDescription: "Service account of the task pods (a profile's `pipeline-runner`).",
		},
		"executor": schema.StringAttribute{
			Optional: true, Computed: true, Default: stringdefault.StaticString(string(v1alpha1.ExecutorPod)),
			MarkdownDescription: "`pod` (default) or `local` (processes of the controller, images ignored; for quickstarts and tests).",
		},
		"parallelism": schema.Int64Attribute{
			Optional: true, Validators: []validator.Int64{int64validator.AtLeast(1)},
			MarkdownDescription: "Most tasks of one run running at once (unset: no limit of the run's own).",
		},
		"timeout": schema.StringAttribute{
			Optional: true, CustomType: timetypes.GoDurationType{},
			MarkdownDescription: "Bound on each run's duration, such as `2h`.",
		},
		"experiment": schema.StringAttribute{
			Optional:            true,
			MarkdownDescription: "Experiment the runs belong to (a DNS-1123 label; unset: the namespace's `default`): the runs' `experiment` (as `kubeflow_run`'s), so the web UI lists and compares them under it; they also carry it as the label `pipelines.kfstack.dev/experiment`. A fire while the experiment is archived fails (the Schedule's `status.lastError` and a `FireFailed` event say why).",
		},
	}
}

func scheduleRunAttrTypes() map[string]attr.Type {
	return schema.SingleNestedAttribute{Attributes: scheduleRunAttributes()}.GetType().(basetypes.ObjectType).AttrTypes
}

func (r *scheduleResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.conn = providerConnection(req.ProviderData, &resp.Diagnostics)
}

// scheduleAttributeOf maps a field of the object (spec.run.timeout) to the
// attribute that sets it (run.timeout).
var scheduleAttributeOf = map[string]string{
	"metadata.name": "name", "spec.cron": "cron", "spec.cronSeconds": "cron_seconds", "spec.interval": "interval",
	"spec.timeZone": "time_zone", "spec.startTime": "start_time", "spec.endTime": "end_time", "spec.suspend": "suspend",
	"spec.concurrencyPolicy": "concurrency_policy", "spec.maxConcurrency": "max_concurrency", "spec.catchup": "catchup",
	"spec.maxCatchup": "max_catchup", "spec.catchupFromSuspended": "catchup_from_suspended",
	"spec.startingDeadline": "starting_deadline", "spec.stopAfterFailures": "stop_after_failures",
	"spec.successfulRunsHistoryLimit": "successful_runs_history_limit", "spec.failedRunsHistoryLimit": "failed_runs_history_limit",
	"spec.run": "run", "spec.run.pipeline": "run.pipeline", "spec.run.pipelineVersion": "run.pipeline_version",
	"spec.run.parameters": "run.parameters", "spec.run.pipelineRoot": "run.pipeline_root",
	"spec.run.serviceAccountName": "run.service_account", "spec.run.executor": "run.executor",
	"spec.run.parallelism": "run.parallelism", "spec.run.timeout": "run.timeout", "spec.run.experiment": "run.experiment",
}

// scheduleAttributePath turns a field error's path (spec.cron[1],
// spec.run.parameters[lr]) into the attribute path.
func scheduleAttributePath(f string) (path.Path, string, bool) {
	base, sub, _ := strings.Cut(f, "[")
	name, ok := scheduleAttributeOf[base]
	if !ok {
		return path.Empty(), "", false
	}
	parts := strings.Split(name, ".")
	p := path.Root(parts[0])
	for _, part := range parts[1:] {
		p = p.AtName(part)
	}
	shown := name
	if key, ok := strings.CutSuffix(sub, "]"); ok {
		if i, err := strconv.Atoi(key); err == nil && base == "spec.cron" {
			p = p.AtListIndex(i)
		} else {
			p = p.AtMapKey(key)
		}
		shown += "[" + key + "]"
	}
	return p, shown, true
}

// addScheduleErrors reports field errors on their attributes. unknown
// names the fields whose values are not known yet: their errors are
// left for apply.
func addScheduleErrors(diags *diag.Diagnostics, errs field.ErrorList, unknown map[string]bool, asWarnings bool) {
	for _, fe := range errs {
		base, _, _ := strings.Cut(fe.Field, "[")
		if unknown[base] || (unknown["trigger"] && (base == "spec.cron" || base == "spec.interval" || base == "spec.cronSeconds")) {
			continue
		}
		p, shown, ok := scheduleAttributePath(fe.Field)
		if !ok {
			diags.AddError("Invalid schedule", fe.Error())
			continue
		}
		if asWarnings {
			diags.AddAttributeWarning(p, "Schedule may not run", shown+": "+fe.ErrorBody())
			continue
		}
		diags.AddAttributeError(p, "Invalid schedule", shown+": "+fe.ErrorBody())
	}
}

// ValidateConfig runs validation.ValidateSchedule, the check of the runtime's
// admission webhook and controller, on the known attributes.
func (r *scheduleResource) ValidateConfig(ctx context.Context, req resource.ValidateConfigRequest, resp *resource.ValidateConfigResponse) {
	var m scheduleResourceModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	spec, unknown, diags := m.spec(ctx)
	resp.Diagnostics.Append(diags...)
	if resp.Diagnostics.HasError() {
		return
	}
	name := ""
	if known(m.Name) {
		name = m.Name.ValueString()
	}
	errs, _ := validation.ValidateSchedule(name, spec, nil, nil)
	addScheduleErrors(&resp.Diagnostics, errs, unknown, false)
}

// ModifyPlan checks the run against its pipeline when both are known and
// the pipeline exists: parameters it does not declare, a version it does
// not keep. The pipeline may change in the same apply, so these are
// warnings here; Create and Update refuse them.
func (r *scheduleResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if req.Plan.Raw.IsNull() || r.conn == nil || r.conn.unknown {
		return
	}
	var plan scheduleResourceModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() || !fullyKnown(plan.Run) || !known(plan.Namespace) {
		return
	}
	spec, _, diags := plan.spec(ctx)
	if diags.HasError() {
		return
	}
	_, cl, err := r.conn.pipelines(ctx)
	if err != nil {
		return
	}
	p := &v1alpha1.Pipeline{}
	if err := cl.Get(ctx, client.ObjectKey{Namespace: plan.Namespace.ValueString(), Name: spec.Run.Pipeline}, p); err != nil {
		return // made in this apply, or no runtime yet: checked at apply
	}
	addScheduleErrors(&resp.Diagnostics, validation.ValidateScheduleRun(spec.Run, p, versions.Reader(ctx, cl)), nil, true)
}

// spec builds the Schedule's spec from the model; unknown names the
// fields whose attributes are not known yet.
func (m *scheduleResourceModel) spec(ctx context.Context) (v1alpha1.ScheduleSpec, map[string]bool, diag.Diagnostics) {
	var diags diag.Diagnostics
	unknown := map[string]bool{}
	var s v1alpha1.ScheduleSpec
	str := func(v types.String, field string, set func(string)) {
		switch {
		case v.IsUnknown():
			unknown[field] = true
		case !v.IsNull():
			set(v.ValueString())
		}
	}
	i64 := func(v types.Int64, field string, set func(int64)) {
		switch {
		case v.IsUnknown():
			unknown[field] = true
		case !v.IsNull():
			set(v.ValueInt64())
		}
	}
	switch {
	case m.Cron.IsUnknown() || m.Interval.IsUnknown() || !fullyKnown(m.Cron):
		unknown["trigger"] = true
		s.Interval = &metav1.Duration{Duration: time.Hour} // a stand-in, so that the rest is checked
	case !m.Cron.IsNull():
		diags.Append(m.Cron.ElementsAs(ctx, &s.Cron, false)...)
	}
	if !unknown["trigger"] {
		str(m.Interval.StringValue, "spec.interval", func(v string) { s.Interval = parseDuration(v) })
	}
	s.CronSeconds = m.CronSeconds.ValueBool()
	str(m.TimeZone, "spec.timeZone", func(v string) { s.TimeZone = v })
	str(m.StartTime.StringValue, "spec.startTime", func(v string) { s.StartTime = parseTime(v) })
	str(m.EndTime.StringValue, "spec.endTime", func(v string) { s.EndTime = parseTime(v) })
	s.Suspend = m.Suspend.ValueBool()
	str(m.ConcurrencyPolicy, "spec.concurrencyPolicy", func(v string) { s.ConcurrencyPolicy = v1alpha1.ConcurrencyPolicy(v) })
	i64(m.MaxConcurrency, "spec.maxConcurrency", func(v int64) { s.MaxConcurrency = int32(v) })
	str(m.Catchup, "spec.catchup", func(v string) { s.Catchup = v1alpha1.CatchupPolicy(v) })
	i64(m.MaxCatchup, "spec.maxCatchup", func(v int64) { s.MaxCatchup = int32(v) })
	s.CatchupFromSuspended = m.CatchupFromSuspended.ValueBool()
	str(m.StartingDeadline.StringValue, "spec.startingDeadline", func(v string) { s.StartingDeadline = parseDuration(v) })
	i64(m.StopAfterFailures, "spec.stopAfterFailures", func(v int64) { s.StopAfterFailures = int32(v) })
	i64(m.SuccessfulRunsHistoryLimit, "spec.successfulRunsHistoryLimit", func(v int64) { s.SuccessfulRunsHistoryLimit = ptrTo(int32(v)) })
	i64(m.FailedRunsHistoryLimit, "spec.failedRunsHistoryLimit", func(v int64) { s.FailedRunsHistoryLimit = ptrTo(int32(v)) })
	if m.Run.IsUnknown() || m.Run.IsNull() {
		unknown["spec.run"] = true
		for f := range scheduleAttributeOf {
			if strings.HasPrefix(f, "spec.run.") {
				unknown[f] = true
			}
		}
		return s, unknown, diags
	}
	var run scheduleRunModel
	diags.Append(m.Run.As(ctx, &run, basetypes.ObjectAsOptions{})...)
	if diags.HasError() {
		return s, unknown, diags
	}
	t := &s.Run
	str(run.Pipeline, "spec.run.pipeline", func(v string) { t.Pipeline = v })
	// pipeline_version and parallelism are at least 1 (their validators
	// say so); 0 and negative values would mean something else here.
	i64(run.PipelineVersion, "spec.run.pipelineVersion", func(v int64) { t.PipelineVersion = int32(max(v, 0)) })
	switch {
	case !fullyKnown(run.Parameters):
		unknown["spec.run.parameters"] = true
	case !run.Parameters.IsNull():
		diags.Append(run.Parameters.ElementsAs(ctx, &t.Parameters, false)...)
	}
	str(run.PipelineRoot, "spec.run.pipelineRoot", func(v string) { t.PipelineRoot = v })
	str(run.ServiceAccount, "spec.run.serviceAccountName", func(v string) { t.ServiceAccountName = v })
	str(run.Executor, "spec.run.executor", func(v string) { t.Executor = v1alpha1.Executor(v) })
	i64(run.Parallelism, "spec.run.parallelism", func(v int64) { t.Parallelism = int32(max(v, 0)) })
	str(run.Timeout.StringValue, "spec.run.timeout", func(v string) { t.Timeout = parseDuration(v) })
	str(run.Experiment, "spec.run.experiment", func(v string) { t.Experiment = v })
	if unknown["spec.run.pipeline"] {
		t.Pipeline = "unknown" // a stand-in, so that the rest is checked
	}
	return s, unknown, diags
}

// parseTime parses an RFC 3339 time the attribute's type accepted (nil
// otherwise: the type reports it).
func parseTime(s string) *metav1.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return nil
	}
	return &metav1.Time{Time: t}
}

func parseDuration(s string) *metav1.Duration {
	d, err := time.ParseDuration(s)
	if err != nil {
		return nil
	}
	return &metav1.Duration{Duration: d}
}

func ptrTo[T any](v T) *T { return &v }

func (r *scheduleResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var plan scheduleResourceModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	timeout, diags := plan.Timeouts.Create(ctx, defaultScheduleTimeout)
	resp.Diagnostics.Append(diags...)
	if resp.Diagnostics.HasError() {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	ns, name := plan.Namespace.ValueString(), plan.Name.ValueString()
	summary := fmt.Sprintf("creating Schedule (%s/%s)", ns, name)
	c, cl, err := r.conn.pipelines(ctx)
	if err != nil {
		resp.Diagnostics.AddError(summary, err.Error())
		return
	}
	spec, _, diags := plan.spec(ctx)
	resp.Diagnostics.Append(diags...)
	resp.Diagnostics.Append(checkAgainstPipeline(ctx, cl, ns, name, spec)...)
	if resp.Diagnostics.HasError() {
		return
	}
	obj := &v1alpha1.Schedule{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: plan.labels(ctx, &resp.Diagnostics)}, Spec: spec}
	if err := cl.Create(ctx, obj); err != nil {
		if apierrors.IsAlreadyExists(err) {
			err = fmt.Errorf("%w; import it with `terraform import kubeflow_schedule.<name> %s/%s` to manage it", err, ns, name)
		}
		resp.Diagnostics.AddError(summary, c.explainRuntime(err).Error())
		return
	}
	plan.ID, plan.UID = types.StringValue(ns+"/"+name), types.StringValue(string(obj.UID))
	live, err := waitObserved(ctx, cl, obj)
	resp.Diagnostics.Append(plan.applyStatus(ctx, live)...)
	// The schedule exists either way: keep it in state.
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
	if err != nil {
		resp.Diagnostics.AddError(summary, c.explain(err).Error())
	}
}

// checkAgainstPipeline runs validation.ValidateSchedule with the pipeline as the
// cluster has it now (made earlier in this apply, if it is new).
func checkAgainstPipeline(ctx context.Context, cl client.Client, ns, name string, spec v1alpha1.ScheduleSpec) diag.Diagnostics {
	var diags diag.Diagnostics
	errs, err := validation.ValidateSchedule(name, spec, func(pl string) (*v1alpha1.Pipeline, error) {
		p := &v1alpha1.Pipeline{}
		if err := cl.Get(ctx, client.ObjectKey{Namespace: ns, Name: pl}, p); err != nil {
			if apierrors.IsNotFound(err) {
				return nil, nil
			}
			return nil, err
		}
		return p, nil
	}, versions.Reader(ctx, cl))
	if err != nil {
		tflog.Warn(ctx, "the schedule's pipeline was not checked", map[string]any{"error": err.Error()})
	}
	addScheduleErrors(&diags, errs, nil, false)
	return diags
}

// waitObserved waits until the controller has taken the schedule's
// current spec into account, and fails when it finds it invalid.
func waitObserved(ctx context.Context, cl client.Client, obj *v1alpha1.Schedule) (*v1alpha1.Schedule, error) {
	live := &v1alpha1.Schedule{}
	err := wait.PollUntilContextCancel(ctx, 100*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		if err := cl.Get(ctx, client.ObjectKeyFromObject(obj), live); err != nil {
			return false, err
		}
		return live.Status.ObservedGeneration >= live.Generation, nil
	})
	if err != nil {
		return live, fmt.Errorf("waiting for the runtime controller to take the schedule in (is it running?): %w", err)
	}
	if c := apimeta.FindStatusCondition(live.Status.Conditions, v1alpha1.ScheduleConditionReady); c != nil && c.Status == metav1.ConditionFalse && c.Reason != v1alpha1.ScheduleReasonFireFailed {
		return live, fmt.Errorf("the runtime controller reports the schedule %s: %s", c.Reason, c.Message)
	}
	return live, nil
}

// labels returns the configured labels.
func (m *scheduleResourceModel) labels(ctx context.Context, diags *diag.Diagnostics) map[string]string {
	if m.Labels.IsNull() || m.Labels.IsUnknown() {
		return nil
	}
	out := map[string]string{}
	diags.Append(m.Labels.ElementsAs(ctx, &out, false)...)
	return out
}

// applyStatus copies the live status into the computed attributes; before
// the controller has seen the current spec, the next fire times are
// computed here, with the runtime's own code.
func (m *scheduleResourceModel) applyStatus(ctx context.Context, live *v1alpha1.Schedule) diag.Diagnostics {
	var diags diag.Diagnostics
	st := live.Status
	next := make([]string, 0, len(st.NextScheduleTimes))
	if st.ObservedGeneration >= live.Generation && live.Generation > 0 {
		for _, t := range st.NextScheduleTimes {
			next = append(next, t.UTC().Format(time.RFC3339))
		}
	} else if trigger, errs := validation.ScheduleTrigger(live.Spec, live.CreationTimestamp.Time); len(errs) == 0 && !live.Spec.Suspend {
		for _, t := range trigger.Upcoming(time.Now(), v1alpha1.NextScheduleTimesShown) {
			if live.Spec.EndTime == nil || !t.After(live.Spec.EndTime.Time) {
				next = append(next, t.UTC().Format(time.RFC3339))
			}
		}
	}
	var d diag.Diagnostics
	m.NextRunTimes, d = types.ListValueFrom(ctx, types.StringType, next)
	diags.Append(d...)
	m.ActiveRuns, d = types.ListValueFrom(ctx, types.StringType, orEmpty(st.Active))
	diags.Append(d...)
	m.LastRunTime = types.StringValue("")
	if st.LastScheduleTime != nil {
		m.LastRunTime = types.StringValue(st.LastScheduleTime.UTC().Format(time.RFC3339))
	}
	m.SucceededRuns, m.FailedRuns = types.Int64Value(st.SucceededRuns), types.Int64Value(st.FailedRuns)
	if live.UID != "" {
		m.UID = types.StringValue(string(live.UID))
	}
	return diags
}

func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func (r *scheduleResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var state scheduleResourceModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	ns, name := state.Namespace.ValueString(), state.Name.ValueString()
	live := &v1alpha1.Schedule{}
	if !pipelinesObject(r.conn, "Schedule").read(ctx, r.conn, ns, name, live, resp) {
		return
	}
	state.ID = types.StringValue(ns + "/" + name)
	resp.Diagnostics.Append(state.applySpec(ctx, live)...)
	resp.Diagnostics.Append(state.applyStatus(ctx, live)...)
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}

// applySpec reads the live spec into the model (import, and edits out of
// band, which the next plan then undoes). Unset optional attributes stay
// null when the live object holds the zero value or the default.
func (m *scheduleResourceModel) applySpec(ctx context.Context, live *v1alpha1.Schedule) diag.Diagnostics {
	var diags diag.Diagnostics
	s := live.Spec
	labels := map[string]string{}
	if !m.Labels.IsNull() {
		// Only the keys the configuration sets: others belong to whoever
		// added them.
		for k := range m.Labels.Elements() {
			if v, ok := live.Labels[k]; ok {
				labels[k] = v
			}
		}
		lv, d := types.MapValueFrom(ctx, types.StringType, labels)
		diags.Append(d...)
		m.Labels = lv
	}
	m.Cron = types.ListNull(types.StringType)
	if len(s.Cron) > 0 {
		cron, d := types.ListValueFrom(ctx, types.StringType, s.Cron)
		diags.Append(d...)
		m.Cron = cron
	}
	m.CronSeconds = types.BoolValue(s.CronSeconds)
	m.Interval = durationAttr(s.Interval)
	m.TimeZone = types.StringValue(orDefaultString(s.TimeZone, v1alpha1.DefaultScheduleTimeZone))
	m.StartTime = timeAttr(m.StartTime, s.StartTime)
	m.EndTime = timeAttr(m.EndTime, s.EndTime)
	m.Suspend = types.BoolValue(s.Suspend)
	m.ConcurrencyPolicy = types.StringValue(orDefaultString(string(s.ConcurrencyPolicy), string(v1alpha1.DefaultConcurrencyPolicy)))
	m.MaxConcurrency = types.Int64Value(int64(orDefaultInt(s.MaxConcurrency, v1alpha1.DefaultMaxConcurrency)))
	m.Catchup = types.StringValue(orDefaultString(string(s.Catchup), string(v1alpha1.DefaultCatchupPolicy)))
	m.MaxCatchup = types.Int64Value(int64(orDefaultInt(s.MaxCatchup, v1alpha1.DefaultMaxCatchup)))
	m.CatchupFromSuspended = types.BoolValue(s.CatchupFromSuspended)
	m.StartingDeadline = durationAttr(s.StartingDeadline)
	m.StopAfterFailures = types.Int64Value(int64(s.StopAfterFailures))
	m.SuccessfulRunsHistoryLimit = types.Int64Value(int64(historyLimit(s.SuccessfulRunsHistoryLimit)))
	m.FailedRunsHistoryLimit = types.Int64Value(int64(historyLimit(s.FailedRunsHistoryLimit)))
	var prior scheduleRunModel
	if !m.Run.IsNull() && !m.Run.IsUnknown() {
		diags.Append(m.Run.As(ctx, &prior, basetypes.ObjectAsOptions{})...)
	} else {
		prior = scheduleRunModel{Parameters: types.MapNull(types.StringType), Timeout: timetypes.NewGoDurationNull()}
	}
	t := s.Run
	run := scheduleRunModel{
		Pipeline:        types.StringValue(t.Pipeline),
		PipelineVersion: types.Int64Null(),
		Parameters:      prior.Parameters,
		PipelineRoot:    optionalString(prior.PipelineRoot, t.PipelineRoot),
		ServiceAccount:  optionalString(prior.ServiceAccount, t.ServiceAccountName),
		Executor:        types.StringValue(orDefaultString(string(t.Executor), string(v1alpha1.ExecutorPod))),
		Parallelism:     types.Int64Null(),
		Timeout:         durationAttr(t.Timeout),
		Experiment:      optionalString(prior.Experiment, t.Experiment),
	}
	if t.PipelineVersion > 0 {
		run.PipelineVersion = types.Int64Value(int64(t.PipelineVersion))
	}
	if t.Parallelism > 0 {
		run.Parallelism = types.Int64Value(int64(t.Parallelism))
	}
	if len(t.Parameters) > 0 || !prior.Parameters.IsNull() {
		p, d := types.MapValueFrom(ctx, types.StringType, orEmptyMap(t.Parameters))
		diags.Append(d...)
		run.Parameters = p
	}
	obj, d := types.ObjectValueFrom(ctx, scheduleRunAttrTypes(), run)
	diags.Append(d...)
	m.Run = obj
	return diags
}

// durationAttr is a live duration; its type's semantic equality keeps the
// configured spelling (90m) when the live value is the same (1h30m0s).
func durationAttr(live *metav1.Duration) timetypes.GoDuration {
	if live == nil {
		return timetypes.NewGoDurationNull()
	}
	return timetypes.NewGoDurationValue(live.Duration)
}

// timeAttr is a live time, in the prior spelling when that is the same
// instant (2026-12-01T08:00:00+01:00 for 2026-12-01T07:00:00Z): the type's
// semantic equality only covers spellings of the same offset.
func timeAttr(prior timetypes.RFC3339, live *metav1.Time) timetypes.RFC3339 {
	if live == nil {
		return timetypes.NewRFC3339Null()
	}
	if t, diags := prior.ValueRFC3339Time(); !prior.IsNull() && !prior.IsUnknown() && !diags.HasError() && t.Equal(live.Time) {
		return prior
	}
	return timetypes.NewRFC3339TimeValue(live.UTC())
}

func orDefaultString(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

func orDefaultInt(v int32, def int32) int32 {
	if v <= 0 {
		return def
	}
	return v
}

func historyLimit(l *int32) int32 {
	if l == nil {
		return v1alpha1.DefaultRunsHistoryLimit
	}
	return *l
}

func (r *scheduleResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var plan, state scheduleResourceModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	timeout, diags := plan.Timeouts.Update(ctx, defaultScheduleTimeout)
	resp.Diagnostics.Append(diags...)
	if resp.Diagnostics.HasError() {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	ns, name := plan.Namespace.ValueString(), plan.Name.ValueString()
	summary := fmt.Sprintf("updating Schedule (%s/%s)", ns, name)
	c, cl, err := r.conn.pipelines(ctx)
	if err != nil {
		resp.Diagnostics.AddError(summary, err.Error())
		return
	}
	spec, _, diags := plan.spec(ctx)
	resp.Diagnostics.Append(diags...)
	resp.Diagnostics.Append(checkAgainstPipeline(ctx, cl, ns, name, spec)...)
	if resp.Diagnostics.HasError() {
		return
	}
	want := plan.labels(ctx, &resp.Diagnostics)
	dropped := state.labels(ctx, &resp.Diagnostics)
	live := &v1alpha1.Schedule{}
	err = wait.PollUntilContextCancel(ctx, 100*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		if err := cl.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, live); err != nil {
			return false, err
		}
		live.Spec = spec
		for k := range dropped {
			delete(live.Labels, k)
		}
		if len(want) > 0 && live.Labels == nil {
			live.Labels = map[string]string{}
		}
		maps.Copy(live.Labels, want)
		if err := cl.Update(ctx, live); err != nil {
			if apierrors.IsConflict(err) {
				return false, nil
			}
			return false, err
		}
		return true, nil
	})
	if err != nil {
		resp.Diagnostics.AddError(summary, c.explainRuntime(err).Error())
		return
	}
	plan.ID = state.ID
	live, err = waitObserved(ctx, cl, live)
	resp.Diagnostics.Append(plan.applyStatus(ctx, live)...)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
	if err != nil {
		resp.Diagnostics.AddError(summary, c.explain(err).Error())
	}
}

func (r *scheduleResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var state scheduleResourceModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	timeout, diags := state.Timeouts.Delete(ctx, defaultScheduleTimeout)
	resp.Diagnostics.Append(diags...)
	if resp.Diagnostics.HasError() {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	ns, name := state.Namespace.ValueString(), state.Name.ValueString()
	summary := fmt.Sprintf("deleting Schedule (%s/%s)", ns, name)
	c, cl, err := r.conn.pipelines(ctx)
	if err != nil {
		resp.Diagnostics.AddError(summary, err.Error())
		return
	}
	// Background deletion: the garbage collector removes its runs.
	obj := &v1alpha1.Schedule{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	if err := cl.Delete(ctx, obj, client.PropagationPolicy(metav1.DeletePropagationBackground)); err != nil {
		if !apierrors.IsNotFound(err) {
			resp.Diagnostics.AddError(summary, c.explainRuntime(err).Error())
		}
		return
	}
	err = wait.PollUntilContextCancel(ctx, 100*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		err := cl.Get(ctx, client.ObjectKeyFromObject(obj), &v1alpha1.Schedule{})
		if apierrors.IsNotFound(err) {
			return true, nil
		}
		return false, err
	})
	if err != nil {
		resp.Diagnostics.AddError(summary, c.explain(fmt.Errorf("waiting for the schedule to go: %w", err)).Error())
	}
}

func (r *scheduleResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	ns, name, err := splitImportID(req.ID)
	if err != nil {
		resp.Diagnostics.AddError("importing Schedule", err.Error())
		return
	}
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("id"), ns+"/"+name)...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("namespace"), ns)...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("name"), name)...)
}
