package provider

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-timeouts/resource/timeouts"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/booldefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8stypes "k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kfstack/terraform-provider-kubeflow/runtime/api/v1alpha1"
)

var (
	_ resource.ResourceWithConfigure   = (*experimentResource)(nil)
	_ resource.ResourceWithImportState = (*experimentResource)(nil)
)

// NewExperimentResource returns the kubeflow_experiment resource.
func NewExperimentResource() resource.Resource {
	return &experimentResource{}
}

type experimentResource struct {
	conn *connection
}

// experimentResourceModel is an Experiment, what to do with its runs on
// destroy, and timeouts.
type experimentResourceModel struct {
	ID           types.String   `tfsdk:"id"`
	Name         types.String   `tfsdk:"name"`
	Namespace    types.String   `tfsdk:"namespace"`
	Description  types.String   `tfsdk:"description"`
	Archived     types.Bool     `tfsdk:"archived"`
	ForceDestroy types.Bool     `tfsdk:"force_destroy"`
	Timeouts     timeouts.Value `tfsdk:"timeouts"`
}

const defaultExperimentDeleteTimeout = 5 * time.Minute

func (r *experimentResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_experiment"
}

func (r *experimentResource) Schema(ctx context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	replace := []planmodifier.String{stringplanmodifier.RequiresReplace()}
	resp.Schema = schema.Schema{
		MarkdownDescription: "An experiment: a group of runs of a namespace (`kubeflow_run`'s `experiment`) that the runtime's UI " +
			"compares side by side, with their parameters and metrics. Archiving hides it and its runs from the UI's default " +
			"views and, with the runtime's webhooks, refuses new runs in it. Destroy refuses while runs refer to the " +
			"experiment, unless `force_destroy` deletes them with it, and while schedules make runs in it.",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{
				Computed:            true,
				MarkdownDescription: "`namespace/name`.",
				PlanModifiers:       []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"name": schema.StringAttribute{
				Required:            true,
				MarkdownDescription: "Name of the experiment (a DNS-1123 subdomain); runs name it in `experiment`. Changing it replaces the experiment.",
				Validators:          []validator.String{dnsSubdomainValidator},
				PlanModifiers:       replace,
			},
			"namespace": schema.StringAttribute{
				Required:            true,
				MarkdownDescription: "Namespace (a profile's) of the experiment and its runs. Changing it replaces the experiment.",
				Validators:          []validator.String{dnsLabelValidator{}},
				PlanModifiers:       replace,
			},
			"description": schema.StringAttribute{
				Optional:            true,
				MarkdownDescription: "Free text shown with the experiment (at most 4,096 characters).",
				Validators:          []validator.String{stringvalidator.LengthAtMost(4096)},
			},
			"archived": schema.BoolAttribute{
				Optional:            true,
				Computed:            true,
				Default:             booldefault.StaticBool(false),
				MarkdownDescription: "Archive the experiment (default `false`): hidden from the UI's default views, no new runs in it; its runs are kept.",
			},
			"force_destroy": schema.BoolAttribute{
				Optional:            true,
				Computed:            true,
				Default:             booldefault.StaticBool(false),
				MarkdownDescription: "Delete the experiment's runs (and their task pods) on destroy (default `false`: destroy fails while runs refer to the experiment, and names them).",
			},
			"timeouts": timeouts.Attributes(ctx, timeouts.Opts{Delete: true}),
		},
	}
}

func (r *experimentResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.conn = providerConnection(req.ProviderData, &resp.Diagnostics)
}

func (r *experimentResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var plan experimentResourceModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	ns, name := plan.Namespace.ValueString(), plan.Name.ValueString()
	summary := fmt.Sprintf("creating Experiment (%s/%s)", ns, name)
	c, cl, err := r.conn.pipelines(ctx)
	if err != nil {
		resp.Diagnostics.AddError(summary, err.Error())
		return
	}
	exp := &v1alpha1.Experiment{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec:       v1alpha1.ExperimentSpec{Description: plan.Description.ValueString(), Archived: plan.Archived.ValueBool()},
	}
	if err := cl.Create(ctx, exp); err != nil {
		if apierrors.IsAlreadyExists(err) {
			resp.Diagnostics.AddError(summary, fmt.Sprintf("experiment %s/%s exists already: import it with `terraform import kubeflow_experiment.<name> %s/%s`", ns, name, ns, name))
			return
		}
		resp.Diagnostics.AddError(summary, c.explainRuntime(err).Error())
		return
	}
	plan.ID = types.StringValue(ns + "/" + name)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

func (r *experimentResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var state experimentResourceModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	ns, name := state.Namespace.ValueString(), state.Name.ValueString()
	exp := &v1alpha1.Experiment{}
	if !pipelinesObject(r.conn, "Experiment").read(ctx, r.conn, ns, name, exp, resp) {
		return
	}
	state.ID = types.StringValue(ns + "/" + name)
	state.Description = optionalString(state.Description, exp.Spec.Description)
	state.Archived = types.BoolValue(exp.Spec.Archived)
	if state.ForceDestroy.IsNull() {
		state.ForceDestroy = types.BoolValue(false) // imported
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}

func (r *experimentResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var plan experimentResourceModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	ns, name := plan.Namespace.ValueString(), plan.Name.ValueString()
	summary := fmt.Sprintf("updating Experiment (%s/%s)", ns, name)
	c, cl, err := r.conn.pipelines(ctx)
	if err != nil {
		resp.Diagnostics.AddError(summary, err.Error())
		return
	}
	exp := &v1alpha1.Experiment{}
	err = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		if err := cl.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, exp); err != nil {
			return false, err
		}
		exp.Spec.Description, exp.Spec.Archived = plan.Description.ValueString(), plan.Archived.ValueBool()
		if err := cl.Update(ctx, exp); err != nil {
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
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

// maxNamedRuns bounds the runs a refused destroy names.
const maxNamedRuns = 10

func (r *experimentResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var state experimentResourceModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	timeout, diags := state.Timeouts.Delete(ctx, defaultExperimentDeleteTimeout)
	resp.Diagnostics.Append(diags...)
	if resp.Diagnostics.HasError() {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	ns, name := state.Namespace.ValueString(), state.Name.ValueString()
	summary := fmt.Sprintf("deleting Experiment (%s/%s)", ns, name)
	c, cl, err := r.conn.pipelines(ctx)
	if err != nil {
		resp.Diagnostics.AddError(summary, err.Error())
		return
	}
	schedules, err := experimentSchedules(ctx, cl, ns, name)
	if err != nil {
		resp.Diagnostics.AddError(summary, c.explainRuntime(err).Error())
		return
	}
	if len(schedules) > 0 {
		// Even force_destroy stops here: a schedule would put new runs in
		// the experiment as soon as it is gone.
		resp.Diagnostics.AddError(summary, fmt.Sprintf(
			"%d schedule(s) still make runs in experiment %q: %s. Delete them or change their run.experiment first "+
				"(in Terraform, refer to kubeflow_experiment.<name>.name in the schedule so it is destroyed first).",
			len(schedules), name, strings.Join(schedules, ", ")))
		return
	}
	runs, going, err := experimentRuns(ctx, cl, ns, name)
	if err != nil {
		resp.Diagnostics.AddError(summary, c.explainRuntime(err).Error())
		return
	}
	if len(runs) > 0 && !state.ForceDestroy.ValueBool() {
		named := runs[:min(len(runs), maxNamedRuns)]
		more := ""
		if len(runs) > len(named) {
			more = fmt.Sprintf(" and %d more", len(runs)-len(named))
		}
		resp.Diagnostics.AddAttributeError(path.Root("force_destroy"), summary, fmt.Sprintf(
			"%d run(s) still refer to experiment %q: %s%s. Delete them first, or set force_destroy = true (and apply) to delete them with the experiment.",
			len(runs), name, strings.Join(named, ", "), more))
		return
	}
	for _, run := range runs {
		obj := &v1alpha1.PipelineRun{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: run}}
		if err := cl.Delete(ctx, obj, client.PropagationPolicy(metav1.DeletePropagationBackground)); err != nil && !apierrors.IsNotFound(err) {
			resp.Diagnostics.AddError(summary, fmt.Sprintf("deleting run %s: %v", run, c.explainRuntime(err)))
			return
		}
	}
	if len(runs)+len(going) > 0 {
		// The runs this destroy deleted, and those of deleted schedules
		// that the garbage collector is taking away (a schedule destroyed
		// just before its experiment leaves them for a moment).
		tflog.Info(ctx, "waiting until the experiment's runs are gone", map[string]any{"deleted": len(runs), "going": len(going)})
		err = wait.PollUntilContextCancel(ctx, 200*time.Millisecond, true, func(ctx context.Context) (bool, error) {
			left, leaving, err := experimentRuns(ctx, cl, ns, name)
			return len(left)+len(leaving) == 0, err
		})
		if err != nil {
			resp.Diagnostics.AddError(summary, fmt.Sprintf("waiting for the experiment's runs to be deleted: %v", err))
			return
		}
	}
	exp := &v1alpha1.Experiment{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	if err := cl.Delete(ctx, exp); err != nil && !apierrors.IsNotFound(err) {
		resp.Diagnostics.AddError(summary, c.explainRuntime(err).Error())
	}
}

// experimentSchedules lists the names of the schedules whose runs go to an
// experiment, sorted.
func experimentSchedules(ctx context.Context, cl client.Client, ns, experiment string) ([]string, error) {
	list := &v1alpha1.ScheduleList{}
	if err := cl.List(ctx, list, client.InNamespace(ns)); err != nil {
		return nil, fmt.Errorf("listing schedules: %w", err)
	}
	var names []string
	for _, s := range list.Items {
		if v1alpha1.ExperimentOrDefault(s.Spec.Run.Experiment) == experiment {
			names = append(names, s.Name)
		}
	}
	slices.Sort(names)
	return names, nil
}

// experimentRuns lists the names of the runs that belong to an experiment
// (a run without one belongs to the default experiment), sorted: those
// that stay, and those on their way out (being deleted, or made by a
// schedule that is gone, which the garbage collector deletes).
func experimentRuns(ctx context.Context, cl client.Client, ns, experiment string) (stay, going []string, err error) {
	list := &v1alpha1.PipelineRunList{}
	if err := cl.List(ctx, list, client.InNamespace(ns)); err != nil {
		return nil, nil, fmt.Errorf("listing runs: %w", err)
	}
	schedules := &v1alpha1.ScheduleList{}
	if err := cl.List(ctx, schedules, client.InNamespace(ns)); err != nil {
		return nil, nil, fmt.Errorf("listing schedules: %w", err)
	}
	live := map[k8stypes.UID]bool{}
	for _, s := range schedules.Items {
		if s.DeletionTimestamp.IsZero() {
			live[s.UID] = true
		}
	}
	for i := range list.Items {
		run := &list.Items[i]
		if v1alpha1.ExperimentOf(run) != experiment {
			continue
		}
		owner := metav1.GetControllerOf(run)
		orphan := owner != nil && owner.Kind == "Schedule" && !live[owner.UID]
		if !run.DeletionTimestamp.IsZero() || orphan {
			going = append(going, run.Name)
		} else {
			stay = append(stay, run.Name)
		}
	}
	slices.Sort(stay)
	slices.Sort(going)
	return stay, going, nil
}

func (r *experimentResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	ns, name, err := splitImportID(req.ID)
	if err != nil {
		resp.Diagnostics.AddError("importing Experiment", err.Error())
		return
	}
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("id"), ns+"/"+name)...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("namespace"), ns)...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("name"), name)...)
}
