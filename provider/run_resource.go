package provider

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-timeouts/resource/timeouts"
	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/booldefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/boolplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/int64planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/mapplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringdefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kfstack/terraform-provider-kubeflow/runtime/api/v1alpha1"
	"github.com/kfstack/terraform-provider-kubeflow/runtime/api/validation"
)

var (
	_ resource.ResourceWithConfigure      = (*runResource)(nil)
	_ resource.ResourceWithImportState    = (*runResource)(nil)
	_ resource.ResourceWithValidateConfig = (*runResource)(nil)
	_ resource.ResourceWithModifyPlan     = (*runResource)(nil)
)

// NewRunResource returns the kubeflow_run resource.
func NewRunResource() resource.Resource {
	return &runResource{}
}

type runResource struct {
	conn *connection
}

// runResourceModel is a PipelineRun and its timeouts.
type runResourceModel struct {
	ID              types.String   `tfsdk:"id"`
	Name            types.String   `tfsdk:"name"`
	Namespace       types.String   `tfsdk:"namespace"`
	Pipeline        types.String   `tfsdk:"pipeline"`
	PipelineVersion types.Int64    `tfsdk:"pipeline_version"`
	Experiment      types.String   `tfsdk:"experiment"`
	Parameters      types.Map      `tfsdk:"parameters"`
	Sensitive       types.Map      `tfsdk:"sensitive_parameters"`
	FromSecret      types.Map      `tfsdk:"parameters_from_secret"`
	PipelineRoot    types.String   `tfsdk:"pipeline_root"`
	ServiceAccount  types.String   `tfsdk:"service_account"`
	Executor        types.String   `tfsdk:"executor"`
	Parallelism     types.Int64    `tfsdk:"parallelism"`
	Wait            types.Bool     `tfsdk:"wait"`
	Version         types.Int64    `tfsdk:"version"`
	Phase           types.String   `tfsdk:"phase"`
	Outputs         types.Map      `tfsdk:"outputs"`
	Metrics         types.Map      `tfsdk:"metrics"`
	Tasks           types.Map      `tfsdk:"tasks"`
	Timeouts        timeouts.Value `tfsdk:"timeouts"`
}

const (
	defaultRunTimeout       = 30 * time.Minute
	defaultRunDeleteTimeout = 5 * time.Minute
)

func (r *runResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_run"
}

func (r *runResource) Schema(ctx context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	replace := []planmodifier.String{stringplanmodifier.RequiresReplace()}
	resp.Schema = schema.Schema{
		MarkdownDescription: "One run of a `kubeflow_pipeline` version. Any change of its inputs replaces it (a new run). " +
			"With `wait` (the default) apply waits until the run ends, within `timeouts.create`; a failed run is an " +
			"apply error that names the failed task and shows the end of its log. Destroying a run (and so replacing " +
			"it) waits, within `timeouts.delete`, until the run and its task pods are gone, so that a new run of the " +
			"same name never meets them.",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{
				Computed:            true,
				MarkdownDescription: "`namespace/name`.",
				PlanModifiers:       []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"name": schema.StringAttribute{
				Required:            true,
				MarkdownDescription: "Name of the run: a DNS-1123 label.",
				Validators:          []validator.String{dnsLabelValidator{}},
				PlanModifiers:       replace,
			},
			"namespace": schema.StringAttribute{
				Required:            true,
				MarkdownDescription: "Namespace of the run and its pipeline.",
				Validators:          []validator.String{dnsLabelValidator{}},
				PlanModifiers:       replace,
			},
			"pipeline": schema.StringAttribute{
				Required:            true,
				MarkdownDescription: "Name of the `kubeflow_pipeline` in the namespace.",
				Validators:          []validator.String{dnsLabelValidator{}},
				PlanModifiers:       replace,
			},
			"pipeline_version": schema.Int64Attribute{
				Optional:            true,
				MarkdownDescription: "Version to run; the latest when unset (recorded in `version`).",
				Validators:          []validator.Int64{int64validator.AtLeast(1)},
				PlanModifiers:       []planmodifier.Int64{int64planmodifier.RequiresReplace()},
			},
			"experiment": schema.StringAttribute{
				Optional: true,
				Computed: true,
				Default:  stringdefault.StaticString(v1alpha1.DefaultExperiment),
				MarkdownDescription: "Name of the experiment the run belongs to (`default` when unset): the runs of an experiment are compared " +
					"side by side in the runtime's UI. A `kubeflow_experiment` of that name is optional; a run in an archived one is refused " +
					"(with the runtime's webhooks).",
				Validators:    []validator.String{dnsSubdomainValidator},
				PlanModifiers: replace,
			},
			"parameters": schema.MapAttribute{
				Optional:            true,
				ElementType:         types.StringType,
				MarkdownDescription: "Run parameters, as text parsed by each parameter's type (JSON for lists and structs).",
				PlanModifiers:       []planmodifier.Map{mapplanmodifier.RequiresReplace()},
			},
			"sensitive_parameters": schema.MapAttribute{
				Optional:    true,
				Sensitive:   true,
				ElementType: types.StringType,
				MarkdownDescription: "Run parameters that Terraform must not show in plans or logs, merged with `parameters` " +
					"(a name may be in only one). They are still stored in the state and in the run's `spec.parameters`, which " +
					"everyone who may read runs in the namespace can see: for passwords and tokens use `parameters_from_secret`.",
				PlanModifiers: []planmodifier.Map{mapplanmodifier.RequiresReplace()},
			},
			"parameters_from_secret": schema.MapNestedAttribute{
				Optional: true,
				MarkdownDescription: "Run parameters whose values come from keys of Kubernetes Secrets in the run's namespace " +
					"(`spec.parameterSecrets`), by parameter name. Neither Terraform, the run object nor the runtime's controller " +
					"ever holds the values: each task pod that takes one gets it from the Secret as an environment variable, and " +
					"the launcher passes it to the task. Only `STRING` parameters; not with the `local` executor; tasks that take " +
					"one are never cached.",
				NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
					"name": schema.StringAttribute{Required: true, MarkdownDescription: "Name of the Secret.", Validators: []validator.String{dnsSubdomainValidator}},
					"key":  schema.StringAttribute{Required: true, MarkdownDescription: "Key in the Secret's data.", Validators: []validator.String{stringvalidator.LengthAtLeast(1)}},
				}},
				PlanModifiers: []planmodifier.Map{mapplanmodifier.RequiresReplace()},
			},
			"pipeline_root": schema.StringAttribute{
				Optional: true,
				MarkdownDescription: "Artifact store URL (`gs://`, `s3://…?endpoint=` for MinIO, `file://`); the controller's default when unset. " +
					"Everything of the run stays under it, so its path may not hold `.` or `..` elements; a `file://` root must be under a directory " +
					"the controller allows (`--allowed-file-root`), since the controller reads and writes it with its own identity.",
				PlanModifiers: replace,
			},
			"service_account": schema.StringAttribute{
				Optional: true,
				MarkdownDescription: "Service account of the task pods: the profile's `service_account` (its pipeline runner) when unset, " +
					"otherwise one of the profile's `run_service_accounts`. Any other is refused before the run is created.",
				PlanModifiers: replace,
			},
			"executor": schema.StringAttribute{
				Optional: true,
				Computed: true,
				Default:  stringdefault.StaticString(string(v1alpha1.ExecutorPod)),
				MarkdownDescription: "`pod` (default: one pod per task attempt) or `local` (processes of the controller, images ignored; for quickstarts and tests). " +
					"`local` runs task commands inside the controller with its identity, so only a controller started with `--allow-local-executor` " +
					"(`make demo`'s, on a developer's machine) allows it, never the one `kubeflow_runtime` installs: the plan refuses it where no controller " +
					"says it does (an annotation on the PipelineRun CRD), and the runtime refuses it in any case.",
				Validators:    []validator.String{stringvalidator.OneOf(string(v1alpha1.ExecutorPod), string(v1alpha1.ExecutorLocal))},
				PlanModifiers: replace,
			},
			"parallelism": schema.Int64Attribute{
				Optional:            true,
				MarkdownDescription: "Most tasks running at once (unset: no limit of the run's own).",
				Validators:          []validator.Int64{int64validator.AtLeast(1)},
				PlanModifiers:       []planmodifier.Int64{int64planmodifier.RequiresReplace()},
			},
			"wait": schema.BoolAttribute{
				Optional:            true,
				Computed:            true,
				Default:             booldefault.StaticBool(true),
				MarkdownDescription: "Wait for the run to end (default `true`); a failed run fails the apply. When `timeouts.create` passes first, the error says why task pods still wait (not scheduled, or a container waiting for a missing Secret or an image), as `kubectl describe pod` would (the run's `TaskPodsStarted` condition).",
				PlanModifiers:       []planmodifier.Bool{boolplanmodifier.RequiresReplace()},
			},
			"version": schema.Int64Attribute{
				Computed:            true,
				MarkdownDescription: "The pipeline version the run executes.",
				PlanModifiers:       []planmodifier.Int64{int64planmodifier.UseStateForUnknown()},
			},
			"phase": schema.StringAttribute{
				Computed:            true,
				MarkdownDescription: "`Pending`, `Running`, `Succeeded`, `Failed` or `Cancelled`.",
			},
			"outputs": schema.MapAttribute{
				Computed:            true,
				ElementType:         types.StringType,
				MarkdownDescription: "The run's output parameters, JSON-encoded (`jsondecode` them).",
			},
			"metrics": schema.MapAttribute{
				Computed:    true,
				ElementType: types.StringType,
				MarkdownDescription: "The metrics artifacts of the run's tasks (`system.Metrics`, `system.ClassificationMetrics`), " +
					"by `<task path>/<output>`: their values, JSON-encoded (e.g. `{\"accuracy\": 0.97}`; `jsondecode` them). " +
					"The run's `status.metrics` holds the same, with each artifact's type and URI.",
			},
			"tasks": schema.MapAttribute{
				Computed:            true,
				ElementType:         types.Int64Type,
				MarkdownDescription: "Number of tasks by phase.",
			},
			"timeouts": timeouts.Attributes(ctx, timeouts.Opts{Create: true, Delete: true}),
		},
	}
}

// runAttributes maps the fields of a PipelineRun's spec to the attributes
// that set them.
var runAttributes = map[string]string{
	"spec.parameters": "parameters", "spec.executor": "executor", "spec.parallelism": "parallelism",
	"spec.serviceAccountName": "service_account", "spec.pipelineRoot": "pipeline_root", "spec.experiment": "experiment",
	"spec.parameterSecrets": "parameters_from_secret",
}

// secretRefModel is one entry of parameters_from_secret.
type secretRefModel struct {
	Name types.String `tfsdk:"name"`
	Key  types.String `tfsdk:"key"`
}

// spec builds the run's spec from the configuration's known values;
// parameters with unknown values are present with empty text.
func (m *runResourceModel) spec(ctx context.Context) (v1alpha1.PipelineRunSpec, diag.Diagnostics) {
	var diags diag.Diagnostics
	spec := v1alpha1.PipelineRunSpec{Pipeline: m.Pipeline.ValueString(), PipelineVersion: int32(m.PipelineVersion.ValueInt64())}
	if known(m.ServiceAccount) {
		spec.ServiceAccountName = m.ServiceAccount.ValueString()
	}
	if known(m.Experiment) {
		spec.Experiment = m.Experiment.ValueString()
	}
	if known(m.Executor) {
		spec.Executor = v1alpha1.Executor(m.Executor.ValueString())
	}
	if known(m.Parallelism) {
		spec.Parallelism = int32(m.Parallelism.ValueInt64())
	}
	if known(m.PipelineRoot) {
		spec.PipelineRoot = m.PipelineRoot.ValueString()
	}
	for _, values := range []types.Map{m.Parameters, m.Sensitive} {
		if !known(values) {
			continue
		}
		if spec.Parameters == nil {
			spec.Parameters = map[string]string{}
		}
		for k, v := range values.Elements() {
			if _, twice := spec.Parameters[k]; twice {
				diags.AddAttributeError(path.Root("sensitive_parameters").AtMapKey(k), "Parameter set twice",
					fmt.Sprintf("sensitive_parameters[%q]: the parameter is in parameters too; set it in one of them.", k))
			}
			text := ""
			if s, ok := v.(types.String); ok && known(s) {
				text = s.ValueString()
			}
			spec.Parameters[k] = text
		}
	}
	if known(m.FromSecret) {
		refs := map[string]secretRefModel{}
		diags.Append(m.FromSecret.ElementsAs(ctx, &refs, false)...)
		spec.ParameterSecrets = map[string]v1alpha1.SecretKeyRef{}
		for name, ref := range refs {
			spec.ParameterSecrets[name] = v1alpha1.SecretKeyRef{Name: ref.Name.ValueString(), Key: ref.Key.ValueString()}
		}
	}
	return spec, diags
}

// ValidateConfig runs the checks the runtime's admission webhook runs on a
// new PipelineRun (validation.ValidatePipelineRunSpec), on the known
// attributes, each problem on its attribute.
func (r *runResource) ValidateConfig(ctx context.Context, req resource.ValidateConfigRequest, resp *resource.ValidateConfigResponse) {
	var m runResourceModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	spec, diags := m.spec(ctx)
	resp.Diagnostics.Append(diags...)
	if resp.Diagnostics.HasError() {
		return
	}
	for _, fe := range validation.ValidatePipelineRunSpec(spec) {
		name, ok := runAttributes[strings.SplitN(fe.Field, "[", 2)[0]]
		if !ok {
			continue
		}
		if name == "parameters" && known(m.Sensitive) {
			if key, ok := mapKey(fe.Field); ok {
				if _, sensitive := m.Sensitive.Elements()[key]; sensitive {
					name = "sensitive_parameters"
				}
			}
		}
		resp.Diagnostics.AddAttributeError(path.Root(name), "Invalid run", name+strings.TrimPrefix(fe.Field, strings.SplitN(fe.Field, "[", 2)[0])+": "+fe.ErrorBody())
	}
	if known(m.PipelineRoot) {
		if _, err := validation.ParsePipelineRoot(m.PipelineRoot.ValueString()); err != nil {
			resp.Diagnostics.AddAttributeError(path.Root("pipeline_root"), "Invalid run", fmt.Sprintf("pipeline_root: %q %v (spec.pipelineRoot)", m.PipelineRoot.ValueString(), err))
		}
	}
}

// ModifyPlan refuses, at plan time, a new run with executor = "local"
// where the runtime does not allow the local executor. The provider cannot
// see the controller's flags: a controller started with
// --allow-local-executor annotates the PipelineRun CRD while it runs
// (v1alpha1.AnnotationLocalExecutor), and no controller in the cluster
// ever does. When that cannot be read (the connection is unknown, the
// runtime is installed by this same apply, or the user may not read
// CRDs), the plan goes on and the runtime decides: its admission webhook
// refuses the run, or its controller fails it before anything runs.
func (r *runResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if req.Plan.Raw.IsNull() {
		return
	}
	var plan runResourceModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() || !known(plan.Executor) || plan.Executor.ValueString() != string(v1alpha1.ExecutorLocal) {
		return
	}
	if !req.State.Raw.IsNull() {
		var state runResourceModel
		resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
		if resp.Diagnostics.HasError() || !plan.newRun(&state) {
			return // the existing run is kept
		}
	}
	allowed, why := r.localExecutorAllowed(ctx)
	if why != "" {
		tflog.Info(ctx, "not checking at plan time whether the runtime allows the local executor: "+why)
		return
	}
	if !allowed {
		resp.Diagnostics.AddAttributeError(path.Root("executor"), "Local executor not allowed",
			"executor (spec.executor): "+validation.LocalExecutorForbidden+". Only a controller run on a developer's machine "+
				"(make demo) allows it; none does for this cluster.")
	}
}

// newRun reports whether the plan replaces the run in state: an attribute
// that sets the run's spec changed (all of them replace it).
func (m *runResourceModel) newRun(state *runResourceModel) bool {
	same := m.Name.Equal(state.Name) && m.Namespace.Equal(state.Namespace) && m.Pipeline.Equal(state.Pipeline) &&
		m.PipelineVersion.Equal(state.PipelineVersion) && m.Parameters.Equal(state.Parameters) && m.PipelineRoot.Equal(state.PipelineRoot) &&
		m.ServiceAccount.Equal(state.ServiceAccount) && m.Executor.Equal(state.Executor) && m.Parallelism.Equal(state.Parallelism) && m.Wait.Equal(state.Wait)
	return !same
}

// localExecutorAllowed reads whether a controller of the runtime allows the
// local executor; why says why it cannot tell.
func (r *runResource) localExecutorAllowed(ctx context.Context) (allowed bool, why string) {
	if r.conn == nil || r.conn.unknown {
		return false, "the provider's connection is not known yet"
	}
	cs, err := r.conn.get(ctx)
	if err != nil {
		return false, err.Error()
	}
	crd, err := cs.dynamic.Resource(apiextensionsv1.SchemeGroupVersion.WithResource("customresourcedefinitions")).Get(ctx, v1alpha1.PipelineRunCRDName, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return false, "the runtime is not installed yet"
	case err != nil:
		return false, err.Error()
	}
	return crd.GetAnnotations()[v1alpha1.AnnotationLocalExecutor] != "", ""
}

// mapKey extracts the key of a field path ending in [key].
func mapKey(field string) (string, bool) {
	_, rest, ok := strings.Cut(field, "[")
	if !ok {
		return "", false
	}
	key, _, ok := strings.Cut(rest, "]")
	return key, ok
}

// known reports whether a configuration value is set and known.
func known(v attr.Value) bool { return !v.IsNull() && !v.IsUnknown() }

func (r *runResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.conn = providerConnection(req.ProviderData, &resp.Diagnostics)
}

func (r *runResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var plan runResourceModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	timeout, diags := plan.Timeouts.Create(ctx, defaultRunTimeout)
	resp.Diagnostics.Append(diags...)
	if resp.Diagnostics.HasError() {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	ns, name := plan.Namespace.ValueString(), plan.Name.ValueString()
	summary := fmt.Sprintf("creating PipelineRun (%s/%s)", ns, name)
	c, cl, err := r.conn.pipelines(ctx)
	if err != nil {
		resp.Diagnostics.AddError(summary, err.Error())
		return
	}
	spec, diags := plan.spec(ctx)
	resp.Diagnostics.Append(diags...)
	if resp.Diagnostics.HasError() {
		return
	}
	// The namespace's policy, before anything is created (the webhook and
	// the controller enforce it too, but name no attribute).
	if err := c.checkServiceAccount(ctx, ns, spec); err != nil {
		resp.Diagnostics.AddAttributeError(path.Root("service_account"), summary, "service_account: "+err.Error())
		return
	}
	run := &v1alpha1.PipelineRun{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Spec: spec}
	if err := createRun(ctx, cl, run); err != nil {
		resp.Diagnostics.AddError(summary, c.explainRuntime(err).Error())
		return
	}
	plan.ID = types.StringValue(ns + "/" + name)
	if plan.Wait.ValueBool() {
		err = wait.PollUntilContextCancel(ctx, 200*time.Millisecond, true, func(ctx context.Context) (bool, error) {
			if err := cl.Get(ctx, client.ObjectKeyFromObject(run), run); err != nil {
				return false, err
			}
			return run.Status.Phase.Terminal(), nil
		})
		if err != nil {
			err = fmt.Errorf("waiting for the run to end (phase %s, tasks %v%s): %w", run.Status.Phase, run.Status.Tasks, podsWaiting(run), err)
		} else if run.Status.Phase != v1alpha1.RunSucceeded {
			err = runFailure(run)
		}
	}
	resp.Diagnostics.Append(plan.applyLive(ctx, run)...)
	// The run exists either way: keep it in state, so that a failed run is
	// replaced by the next apply rather than orphaned.
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
	if err != nil {
		resp.Diagnostics.AddError(summary, c.explain(err).Error())
	}
}

// createRun creates the run. A run of the same name that is being deleted
// (destroyed out of band, or by an earlier apply that timed out) is waited
// for first, within ctx.
func createRun(ctx context.Context, cl client.Client, run *v1alpha1.PipelineRun) error {
	for {
		err := cl.Create(ctx, run)
		if !apierrors.IsAlreadyExists(err) {
			return err
		}
		old := &v1alpha1.PipelineRun{}
		if gerr := cl.Get(ctx, client.ObjectKeyFromObject(run), old); gerr != nil {
			if apierrors.IsNotFound(gerr) {
				continue
			}
			return gerr
		}
		if old.DeletionTimestamp.IsZero() {
			return fmt.Errorf("%w; import it with `terraform import` to manage it", err)
		}
		tflog.Info(ctx, "waiting for the previous run of the same name to be deleted", map[string]any{"namespace": run.Namespace, "name": run.Name})
		if err := waitRunGone(ctx, cl, old); err != nil {
			return err
		}
	}
}

// waitRunGone waits until the run (that UID) is gone: with foreground
// deletion, after its task pods.
func waitRunGone(ctx context.Context, cl client.Client, run *v1alpha1.PipelineRun) error {
	live := &v1alpha1.PipelineRun{}
	err := wait.PollUntilContextCancel(ctx, 200*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		if err := cl.Get(ctx, client.ObjectKeyFromObject(run), live); err != nil {
			if apierrors.IsNotFound(err) {
				return true, nil
			}
			return false, err
		}
		return live.UID != run.UID, nil
	})
	if err != nil {
		return fmt.Errorf("waiting for the run %s/%s (and its task pods) to be deleted: %w", run.Namespace, run.Name, err)
	}
	return nil
}

// podsWaiting says why the run's task pods wait, for the error of an
// apply that timed out waiting: the controller's TaskPodsStarted
// condition (not scheduled: no node fits; a container waiting: a missing
// Secret or ConfigMap, an image that cannot be pulled), as kubectl
// describe pod would show it.
func podsWaiting(run *v1alpha1.PipelineRun) string {
	c := apimeta.FindStatusCondition(run.Status.Conditions, v1alpha1.ConditionTaskPodsStarted)
	if c == nil || c.Status != metav1.ConditionFalse {
		return ""
	}
	return "; task pods not running: " + c.Message
}

// runFailure explains a run that did not succeed: the failed task, its
// error and the end of its log.
func runFailure(run *v1alpha1.PipelineRun) error {
	var b strings.Builder
	fmt.Fprintf(&b, "the run %s", strings.ToLower(string(run.Status.Phase)))
	if f := run.Status.Failure; f != nil {
		fmt.Fprintf(&b, ": task %q failed: %s", f.Task, f.Message)
		if tail := strings.TrimSpace(f.LogTail); tail != "" {
			fmt.Fprintf(&b, "\n--- last output of %s ---\n%s", f.Task, tail)
		}
	} else if run.Status.Message != "" {
		fmt.Fprintf(&b, ": %s", run.Status.Message)
	}
	return fmt.Errorf("%s", b.String())
}

// applyLive copies the run's status into the model.
func (m *runResourceModel) applyLive(ctx context.Context, run *v1alpha1.PipelineRun) (diags diag.Diagnostics) {
	m.Phase = types.StringValue(string(run.Status.Phase))
	m.Version = types.Int64Value(int64(run.Status.PipelineVersion))
	outputs, d := types.MapValueFrom(ctx, types.StringType, orEmptyMap(run.Status.Outputs))
	diags.Append(d...)
	m.Outputs = outputs
	metrics := map[string]string{}
	for _, mt := range run.Status.Metrics {
		v := "{}"
		if mt.Values != nil && len(mt.Values.Raw) > 0 {
			v = string(mt.Values.Raw)
		}
		metrics[mt.Task+"/"+mt.Output] = v
	}
	mv, d := types.MapValueFrom(ctx, types.StringType, metrics)
	diags.Append(d...)
	m.Metrics = mv
	tasks := map[string]int64{}
	for k, v := range run.Status.Tasks {
		tasks[k] = int64(v)
	}
	t, d := types.MapValueFrom(ctx, types.Int64Type, tasks)
	diags.Append(d...)
	m.Tasks = t
	return diags
}

func orEmptyMap(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

func (r *runResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var state runResourceModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	ns, name := state.Namespace.ValueString(), state.Name.ValueString()
	run := &v1alpha1.PipelineRun{}
	if !pipelinesObject(r.conn, "PipelineRun").read(ctx, r.conn, ns, name, run, resp) {
		return
	}
	// Inputs from the live object (import, and edits out of band).
	s := run.Spec
	state.ID = types.StringValue(ns + "/" + name)
	state.Pipeline = types.StringValue(s.Pipeline)
	state.Experiment = types.StringValue(v1alpha1.ExperimentOf(run))
	if s.PipelineVersion > 0 {
		state.PipelineVersion = types.Int64Value(int64(s.PipelineVersion))
	}
	// Parameters the configuration marks sensitive stay in
	// sensitive_parameters; the rest (all of them on import) in parameters.
	plain, sensitive := map[string]string{}, map[string]string{}
	for k, v := range s.Parameters {
		if _, ok := state.Sensitive.Elements()[k]; ok && known(state.Sensitive) {
			sensitive[k] = v
		} else {
			plain[k] = v
		}
	}
	if len(plain) > 0 || !state.Parameters.IsNull() {
		p, d := types.MapValueFrom(ctx, types.StringType, plain)
		resp.Diagnostics.Append(d...)
		state.Parameters = p
	}
	if len(sensitive) > 0 || !state.Sensitive.IsNull() {
		p, d := types.MapValueFrom(ctx, types.StringType, sensitive)
		resp.Diagnostics.Append(d...)
		state.Sensitive = p
	}
	if len(s.ParameterSecrets) > 0 || !state.FromSecret.IsNull() {
		refs := map[string]secretRefModel{}
		for k, ref := range s.ParameterSecrets {
			refs[k] = secretRefModel{Name: types.StringValue(ref.Name), Key: types.StringValue(ref.Key)}
		}
		p, d := types.MapValueFrom(ctx, secretRefType, refs)
		resp.Diagnostics.Append(d...)
		state.FromSecret = p
	}
	state.PipelineRoot = optionalString(state.PipelineRoot, s.PipelineRoot)
	state.ServiceAccount = optionalString(state.ServiceAccount, s.ServiceAccountName)
	state.Executor = types.StringValue(string(s.Executor))
	if s.Parallelism > 0 {
		state.Parallelism = types.Int64Value(int64(s.Parallelism))
	}
	if state.Wait.IsNull() {
		state.Wait = types.BoolValue(true)
	}
	resp.Diagnostics.Append(state.applyLive(ctx, run)...)
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}

// optionalString keeps an unset attribute null when the live value is empty.
func optionalString(cur types.String, live string) types.String {
	if live == "" && cur.IsNull() {
		return cur
	}
	return types.StringValue(live)
}

// Update is never called with a change (every input replaces the run);
// it only carries timeouts changes into state.
func (r *runResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var plan, state runResourceModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	state.Timeouts = plan.Timeouts
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}

func (r *runResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var state runResourceModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	timeout, diags := state.Timeouts.Delete(ctx, defaultRunDeleteTimeout)
	resp.Diagnostics.Append(diags...)
	if resp.Diagnostics.HasError() {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	ns, name := state.Namespace.ValueString(), state.Name.ValueString()
	summary := fmt.Sprintf("deleting PipelineRun (%s/%s)", ns, name)
	c, cl, err := r.conn.pipelines(ctx)
	if err != nil {
		resp.Diagnostics.AddError(summary, err.Error())
		return
	}
	// Foreground deletion: the run stays until the garbage collector has
	// deleted its task pods, and Delete waits for it, so that a run made
	// next under the same name (a replacement) never meets them.
	run := &v1alpha1.PipelineRun{}
	if err := cl.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, run); err != nil {
		if !apierrors.IsNotFound(err) {
			resp.Diagnostics.AddError(summary, c.explainRuntime(err).Error())
		}
		return
	}
	uid := client.Preconditions{UID: &run.UID}
	if err := cl.Delete(ctx, run, client.PropagationPolicy(metav1.DeletePropagationForeground), uid); err != nil {
		if !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
			resp.Diagnostics.AddError(summary, c.explainRuntime(err).Error())
		}
		return
	}
	if err := waitRunGone(ctx, cl, run); err != nil {
		resp.Diagnostics.AddError(summary, c.explain(err).Error())
	}
}

func (r *runResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	ns, name, err := splitImportID(req.ID)
	if err != nil {
		resp.Diagnostics.AddError("importing PipelineRun", err.Error())
		return
	}
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("id"), ns+"/"+name)...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("namespace"), ns)...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("name"), name)...)
}

var secretRefType = types.ObjectType{AttrTypes: map[string]attr.Type{"name": types.StringType, "key": types.StringType}}

// checkServiceAccount checks the run's service account against its
// namespace's policy (v1alpha1.ServiceAccountPolicy). A namespace the
// provider may not read is left to the runtime, which enforces the same.
func (c *clients) checkServiceAccount(ctx context.Context, namespace string, spec v1alpha1.PipelineRunSpec) error {
	ns, err := c.core.CoreV1().Namespaces().Get(ctx, namespace, metav1.GetOptions{})
	if apierrors.IsForbidden(err) || apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return c.explain(err)
	}
	if _, fe := validation.ResolveServiceAccount(spec, ns.Annotations); fe != nil {
		return errors.New(fe.Detail)
	}
	return nil
}
