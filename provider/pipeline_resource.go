package provider

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-timeouts/resource/timeouts"
	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/int64default"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/int64planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/listplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-framework/types/basetypes"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kfstack/terraform-provider-kubeflow/runtime/api/v1alpha1"
	"github.com/kfstack/terraform-provider-kubeflow/runtime/pipeline"
)

var (
	_ resource.ResourceWithConfigure      = (*pipelineResource)(nil)
	_ resource.ResourceWithImportState    = (*pipelineResource)(nil)
	_ resource.ResourceWithValidateConfig = (*pipelineResource)(nil)
	_ resource.ResourceWithModifyPlan     = (*pipelineResource)(nil)
)

// NewPipelineResource returns the kubeflow_pipeline resource.
func NewPipelineResource() resource.Resource {
	return &pipelineResource{}
}

type pipelineResource struct {
	conn *connection
}

// pipelineResourceModel is a Pipeline and its timeouts.
type pipelineResourceModel struct {
	ID          types.String   `tfsdk:"id"`
	Name        types.String   `tfsdk:"name"`
	Namespace   types.String   `tfsdk:"namespace"`
	Description types.String   `tfsdk:"description"`
	Spec        types.String   `tfsdk:"spec"`
	DAG         types.Object   `tfsdk:"dag"`
	MaxVersions types.Int64    `tfsdk:"max_versions"`
	Version     types.Int64    `tfsdk:"version"`
	ContentHash types.String   `tfsdk:"content_hash"`
	Versions    types.List     `tfsdk:"versions"`
	Timeouts    timeouts.Value `tfsdk:"timeouts"`
}

const defaultPipelineTimeout = 2 * time.Minute

func (r *pipelineResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_pipeline"
}

func (r *pipelineResource) Schema(ctx context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "A pipeline with immutable, numbered versions, run by the kfstack runtime. " +
			"Its content is a KFP v2 pipeline spec (`spec`, e.g. `file(\"pipeline.yaml\")`) or a native DAG (`dag`). " +
			"Changing the content is an in-place update that adds a version; runs keep the version they started with. " +
			"The content is checked at plan time with the runtime's own validation.",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{
				Computed:            true,
				MarkdownDescription: "`namespace/name`.",
				PlanModifiers:       []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"name": schema.StringAttribute{
				Required:            true,
				MarkdownDescription: "Name of the pipeline: a DNS-1123 label. Changing it replaces the pipeline.",
				Validators:          []validator.String{dnsLabelValidator{}},
				PlanModifiers:       []planmodifier.String{stringplanmodifier.RequiresReplace()},
			},
			"namespace": schema.StringAttribute{
				Required:            true,
				MarkdownDescription: "Namespace (a profile's) of the pipeline. Changing it replaces the pipeline.",
				Validators:          []validator.String{dnsLabelValidator{}},
				PlanModifiers:       []planmodifier.String{stringplanmodifier.RequiresReplace()},
			},
			"description": schema.StringAttribute{
				Optional:            true,
				MarkdownDescription: "Free text.",
			},
			"spec": schema.StringAttribute{
				Optional:            true,
				MarkdownDescription: "A KFP v2 pipeline spec (IR YAML or JSON, as the KFP SDK compiles it). Exactly one of `spec` and `dag`.",
				Validators: []validator.String{
					stringvalidator.LengthAtLeast(1),
					stringvalidator.ExactlyOneOf(path.MatchRoot("spec"), path.MatchRoot("dag")),
				},
			},
			"dag": dagAttribute(),
			"max_versions": schema.Int64Attribute{
				Optional:            true,
				Computed:            true,
				Default:             int64default.StaticInt64(v1alpha1.DefaultMaxVersions),
				MarkdownDescription: fmt.Sprintf("How many versions are kept, oldest dropped first (1–100, default %d).", v1alpha1.DefaultMaxVersions),
				Validators:          []validator.Int64{int64validator.Between(1, 100)},
			},
			"version": schema.Int64Attribute{
				Computed:            true,
				MarkdownDescription: "The latest version's number.",
				PlanModifiers:       []planmodifier.Int64{int64planmodifier.UseStateForUnknown()},
			},
			"content_hash": schema.StringAttribute{
				Computed:            true,
				MarkdownDescription: "SHA-256 of the content; a change plans a new version.",
				PlanModifiers:       []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"versions": schema.ListAttribute{
				Computed:            true,
				ElementType:         types.Int64Type,
				MarkdownDescription: "Numbers of the kept versions, oldest first.",
				PlanModifiers:       []planmodifier.List{listplanmodifier.UseStateForUnknown()},
			},
			"timeouts": timeouts.Attributes(ctx, timeouts.Opts{Create: true, Update: true}),
		},
	}
}

func (r *pipelineResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.conn = providerConnection(req.ProviderData, &resp.Diagnostics)
}

// content returns the pipeline's content as the Pipeline object holds it;
// ok is false while part of it is unknown.
func (m *pipelineResourceModel) content(ctx context.Context) (spec v1alpha1.PipelineSpec, model *dagModel, ok bool, diags diag.Diagnostics) {
	if m.Spec.IsUnknown() || !fullyKnown(m.DAG) || m.Name.IsUnknown() {
		return spec, nil, false, nil
	}
	spec.Description = m.Description.ValueString()
	spec.MaxVersions = int32(m.MaxVersions.ValueInt64())
	if !m.Spec.IsNull() {
		spec.Spec = m.Spec.ValueString()
		return spec, nil, true, nil
	}
	if m.DAG.IsNull() {
		return spec, nil, true, nil
	}
	model = &dagModel{}
	diags.Append(m.DAG.As(ctx, model, basetypes.ObjectAsOptions{})...)
	if diags.HasError() {
		return spec, nil, false, diags
	}
	s, err := dagJSON(model.native(m.Name.ValueString()))
	if err != nil {
		diags.AddAttributeError(path.Root("dag"), "encoding the DAG", err.Error())
		return spec, nil, false, diags
	}
	spec.DAG = s
	return spec, model, true, diags
}

// ValidateConfig runs the runtime's validation on the content: the same
// checks as the controller, with each problem on its attribute.
func (r *pipelineResource) ValidateConfig(ctx context.Context, req resource.ValidateConfigRequest, resp *resource.ValidateConfigResponse) {
	var m pipelineResourceModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if m.Name.IsUnknown() {
		m.Name = types.StringValue("pipeline")
	}
	spec, model, ok, diags := m.content(ctx)
	resp.Diagnostics.Append(diags...)
	if !ok || (spec.Spec == "" && spec.DAG == "") {
		return
	}
	if spec.Spec != "" {
		if _, err := pipeline.Load([]byte(spec.Spec)); err != nil {
			for _, line := range pipelineErrors(err) {
				resp.Diagnostics.AddAttributeError(path.Root("spec"), "invalid pipeline spec", line)
			}
		}
		return
	}
	if _, err := pipeline.CompileNative(model.native(m.Name.ValueString())); err != nil {
		list := pipeline.AsErrorList(err)
		if len(list) == 0 {
			resp.Diagnostics.AddAttributeError(path.Root("dag"), "invalid pipeline DAG", err.Error())
		}
		for _, fe := range list {
			// Terraform cannot point at an element of a nested list in
			// the source, so the summary names the path too.
			at := dagErrorPath(model, fe)
			resp.Diagnostics.AddAttributeError(at, "invalid pipeline DAG at "+at.String(), fe.Error())
		}
	}
}

// pipelineErrors splits a validation error into one message a problem.
func pipelineErrors(err error) []string {
	list := pipeline.AsErrorList(err)
	if len(list) == 0 {
		return []string{err.Error()}
	}
	out := make([]string, len(list))
	for i, fe := range list {
		out[i] = fe.Error()
	}
	return out
}

// ModifyPlan plans a new version when the content changes.
func (r *pipelineResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if req.Plan.Raw.IsNull() {
		return
	}
	var plan pipelineResourceModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	spec, _, ok, diags := plan.content(ctx)
	resp.Diagnostics.Append(diags...)
	if !ok {
		plan.ContentHash, plan.Version, plan.Versions = types.StringUnknown(), types.Int64Unknown(), types.ListUnknown(types.Int64Type)
		resp.Diagnostics.Append(resp.Plan.Set(ctx, &plan)...)
		return
	}
	hash := spec.ContentHash()
	if !req.State.Raw.IsNull() {
		var state pipelineResourceModel
		resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
		if state.ContentHash.ValueString() == hash {
			return
		}
		plan.Version, plan.Versions = types.Int64Unknown(), types.ListUnknown(types.Int64Type)
	}
	plan.ContentHash = types.StringValue(hash)
	resp.Diagnostics.Append(resp.Plan.Set(ctx, &plan)...)
}

func (r *pipelineResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var plan pipelineResourceModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	timeout, diags := plan.Timeouts.Create(ctx, defaultPipelineTimeout)
	resp.Diagnostics.Append(diags...)
	if resp.Diagnostics.HasError() {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	ns, name := plan.Namespace.ValueString(), plan.Name.ValueString()
	summary := fmt.Sprintf("creating Pipeline (%s/%s)", ns, name)
	c, cl, err := r.conn.pipelines(ctx)
	if err != nil {
		resp.Diagnostics.AddError(summary, err.Error())
		return
	}
	spec, _, _, diags := plan.content(ctx)
	resp.Diagnostics.Append(diags...)
	if resp.Diagnostics.HasError() {
		return
	}
	obj := &v1alpha1.Pipeline{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Spec: spec}
	if err := cl.Create(ctx, obj); err != nil {
		if apierrors.IsAlreadyExists(err) {
			err = fmt.Errorf("%w; import it with `terraform import` to manage it", err)
		}
		resp.Diagnostics.AddError(summary, c.explainRuntime(err).Error())
		return
	}
	live, err := waitVersioned(ctx, cl, obj)
	if err != nil {
		resp.Diagnostics.AddError(summary, c.explain(err).Error())
		plan.ID = types.StringValue(ns + "/" + name)
		if errors.Is(err, errRefused) {
			// The content never became a version: delete the object, so
			// that nothing is left half-created and the next apply
			// creates it again with the content fixed.
			if err := cl.Delete(context.WithoutCancel(ctx), obj, client.Preconditions{UID: &obj.UID}); client.IgnoreNotFound(err) != nil {
				resp.Diagnostics.AddError(summary, "deleting the refused pipeline: "+c.explainRuntime(err).Error())
				resp.Diagnostics.Append(plan.saveUnversioned(ctx, &resp.State, spec.ContentHash())...)
			}
			return
		}
		// Not versioned in time (is the controller running?): the object
		// exists, so it is recorded, and Terraform marks it tainted; the
		// next apply replaces it.
		resp.Diagnostics.Append(plan.saveUnversioned(ctx, &resp.State, spec.ContentHash())...)
		return
	}
	plan.ID = types.StringValue(ns + "/" + name)
	resp.Diagnostics.Append(plan.applyLive(ctx, live, false)...)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

// saveUnversioned records a pipeline that exists but has no version yet.
func (m *pipelineResourceModel) saveUnversioned(ctx context.Context, state *tfsdk.State, hash string) diag.Diagnostics {
	m.Version, m.Versions, m.ContentHash = types.Int64Value(0), types.ListValueMust(types.Int64Type, []attr.Value{}), types.StringValue(hash)
	return state.Set(ctx, m)
}

// errRefused marks content the controller did not turn into a version:
// refused (it does not compile), or not stored (a quota on ConfigMaps).
var errRefused = errors.New("the runtime did not version the content")

// waitVersioned waits until the controller has turned the object's
// content into a version, or has refused it.
func waitVersioned(ctx context.Context, cl client.Client, obj *v1alpha1.Pipeline) (*v1alpha1.Pipeline, error) {
	hash := obj.Spec.ContentHash()
	live := &v1alpha1.Pipeline{}
	var refused string
	err := wait.PollUntilContextCancel(ctx, 200*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		if err := cl.Get(ctx, client.ObjectKeyFromObject(obj), live); err != nil {
			return false, err
		}
		if live.Status.ObservedGeneration < live.Generation {
			return false, nil
		}
		if c := apimeta.FindStatusCondition(live.Status.Conditions, v1alpha1.ConditionReady); c != nil && (c.Reason == v1alpha1.ReasonInvalidContent || c.Reason == v1alpha1.ReasonContentNotStored) {
			refused = c.Message
			return true, nil
		}
		return live.Status.ContentHash == hash, nil
	})
	if refused != "" {
		return nil, fmt.Errorf("%w: %s", errRefused, refused)
	}
	if err != nil {
		return nil, fmt.Errorf("waiting for the runtime controller to version the pipeline (is it running?): %w", err)
	}
	return live, nil
}

// applyLive copies the live object into the model. keepContent leaves the
// content alone when the live content hash matches (a refresh), so that
// formatting of the configuration is kept.
func (m *pipelineResourceModel) applyLive(ctx context.Context, live *v1alpha1.Pipeline, refresh bool) diag.Diagnostics {
	var diags diag.Diagnostics
	m.ID = types.StringValue(live.Namespace + "/" + live.Name)
	m.Name, m.Namespace = types.StringValue(live.Name), types.StringValue(live.Namespace)
	if live.Spec.Description != "" || !m.Description.IsNull() {
		m.Description = types.StringValue(live.Spec.Description)
	}
	if live.Spec.MaxVersions > 0 {
		m.MaxVersions = types.Int64Value(int64(live.Spec.MaxVersions))
	}
	liveHash := live.Spec.ContentHash()
	if refresh && liveHash != m.ContentHash.ValueString() {
		// Changed out of band: show the live content, so the plan puts
		// the configuration back (a new version).
		if live.Spec.Spec != "" {
			m.Spec, m.DAG = types.StringValue(live.Spec.Spec), types.ObjectNull(dagAttrTypes())
		} else {
			var n pipeline.NativeDAG
			if err := json.Unmarshal([]byte(live.Spec.DAG), &n); err != nil {
				diags.AddError("decoding the live DAG", err.Error())
				return diags
			}
			obj, d := types.ObjectValueFrom(ctx, dagAttrTypes(), dagFromNative(&n))
			diags.Append(d...)
			m.Spec, m.DAG = types.StringNull(), obj
		}
	}
	m.ContentHash = types.StringValue(liveHash)
	m.Version = types.Int64Value(int64(live.Status.LatestVersion))
	nums := make([]attr.Value, len(live.Status.Versions))
	for i, v := range live.Status.Versions {
		nums[i] = types.Int64Value(int64(v.Number))
	}
	m.Versions = types.ListValueMust(types.Int64Type, nums)
	return diags
}

func dagAttrTypes() map[string]attr.Type {
	return dagAttribute().GetType().(basetypes.ObjectType).AttrTypes
}

func (r *pipelineResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var state pipelineResourceModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	ns, name := state.Namespace.ValueString(), state.Name.ValueString()
	live := &v1alpha1.Pipeline{}
	if !pipelinesObject(r.conn, "Pipeline").read(ctx, r.conn, ns, name, live, resp) {
		return
	}
	imported := state.ContentHash.IsNull() || state.ContentHash.ValueString() == ""
	if imported {
		state.ContentHash = types.StringValue("imported")
		state.MaxVersions = types.Int64Value(v1alpha1.DefaultMaxVersions)
	}
	resp.Diagnostics.Append(state.applyLive(ctx, live, true)...)
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}

func (r *pipelineResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var plan pipelineResourceModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	timeout, diags := plan.Timeouts.Update(ctx, defaultPipelineTimeout)
	resp.Diagnostics.Append(diags...)
	if resp.Diagnostics.HasError() {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	ns, name := plan.Namespace.ValueString(), plan.Name.ValueString()
	summary := fmt.Sprintf("updating Pipeline (%s/%s)", ns, name)
	c, cl, err := r.conn.pipelines(ctx)
	if err != nil {
		resp.Diagnostics.AddError(summary, err.Error())
		return
	}
	spec, _, _, diags := plan.content(ctx)
	resp.Diagnostics.Append(diags...)
	if resp.Diagnostics.HasError() {
		return
	}
	live := &v1alpha1.Pipeline{}
	err = wait.PollUntilContextCancel(ctx, 100*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		if err := cl.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, live); err != nil {
			return false, err
		}
		live.Spec = spec
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
	live, err = waitVersioned(ctx, cl, live)
	if err != nil {
		resp.Diagnostics.AddError(summary, c.explain(err).Error())
		return
	}
	resp.Diagnostics.Append(plan.applyLive(ctx, live, false)...)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

func (r *pipelineResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var state pipelineResourceModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	ns, name := state.Namespace.ValueString(), state.Name.ValueString()
	summary := fmt.Sprintf("deleting Pipeline (%s/%s)", ns, name)
	c, cl, err := r.conn.pipelines(ctx)
	if err != nil {
		resp.Diagnostics.AddError(summary, err.Error())
		return
	}
	obj := &v1alpha1.Pipeline{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	if err := cl.Delete(ctx, obj); err != nil && !apierrors.IsNotFound(err) {
		resp.Diagnostics.AddError(summary, c.explainRuntime(err).Error())
	}
}

func (r *pipelineResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	ns, name, err := splitImportID(req.ID)
	if err != nil {
		resp.Diagnostics.AddError("importing Pipeline", err.Error())
		return
	}
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("id"), ns+"/"+name)...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("namespace"), ns)...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("name"), name)...)
}
