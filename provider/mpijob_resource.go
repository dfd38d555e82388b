package provider

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-timeouts/resource/timeouts"
	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/booldefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/boolplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/int64default"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/int64planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/objectplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringdefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	k8sresource "k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ktypes "k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kubeflow "github.com/kfstack/terraform-provider-kubeflow/runtime/api/kubeflow/v2beta1"
)

var (
	_ resource.ResourceWithConfigure      = (*mpiJobResource)(nil)
	_ resource.ResourceWithImportState    = (*mpiJobResource)(nil)
	_ resource.ResourceWithValidateConfig = (*mpiJobResource)(nil)
	_ resource.ResourceWithModifyPlan     = (*mpiJobResource)(nil)
)

// NewMPIJobResource returns the kubeflow_mpi_job resource.
func NewMPIJobResource() resource.Resource {
	return &mpiJobResource{}
}

type mpiJobResource struct {
	conn *connection
}

const defaultMPIJobTimeout = time.Hour

func (r *mpiJobResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_mpi_job"
}

// replicaAttributes are the attributes of launcher and worker.
func replicaAttributes(role string, worker bool) map[string]schema.Attribute {
	restart := []string{"Never", "OnFailure", "ExitCode"}
	if worker {
		restart = append(restart, "Always")
	}
	attrs := map[string]schema.Attribute{
		"image":   schema.StringAttribute{Required: true, MarkdownDescription: "Image of the " + role + "'s container (the runtime's image rules apply).", Validators: []validator.String{stringvalidator.LengthAtLeast(1)}},
		"command": schema.ListAttribute{Optional: true, ElementType: types.StringType, MarkdownDescription: "Command (the image's entrypoint when unset" + map[bool]string{true: "; for workers without command and args, `/usr/sbin/sshd -De`", false: ""}[worker] + ")."},
		"args":    schema.ListAttribute{Optional: true, ElementType: types.StringType, MarkdownDescription: "Arguments of the command."},
		"env":     schema.MapAttribute{Optional: true, ElementType: types.StringType, MarkdownDescription: "Environment variables."},
		"resources": schema.SingleNestedAttribute{
			Optional: true, MarkdownDescription: "Resources of each " + role + " pod (requests equal limits): `cpu` and `memory` quantities, `gpu` (nvidia.com/gpu) and `tpu` (google.com/tpu) counts; pods asking for GPUs or TPUs tolerate the taints of GKE's accelerator nodes.",
			Attributes: map[string]schema.Attribute{
				"cpu":    schema.StringAttribute{Optional: true, MarkdownDescription: "CPU, such as `1` or `500m`.", Validators: []validator.String{quantityValidator{}}},
				"memory": schema.StringAttribute{Optional: true, MarkdownDescription: "Memory, such as `4Gi`.", Validators: []validator.String{quantityValidator{}}},
				"gpu":    schema.Int64Attribute{Optional: true, MarkdownDescription: "NVIDIA GPUs.", Validators: []validator.Int64{int64validator.AtLeast(0)}},
				"tpu":    schema.Int64Attribute{Optional: true, MarkdownDescription: "TPU chips.", Validators: []validator.Int64{int64validator.AtLeast(0)}},
			},
		},
		"node_selector": schema.MapAttribute{Optional: true, ElementType: types.StringType, MarkdownDescription: "Node selector."},
		"tolerations": schema.ListNestedAttribute{
			Optional: true, MarkdownDescription: "Tolerations.",
			NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
				"key":      schema.StringAttribute{Optional: true, MarkdownDescription: "Taint key."},
				"operator": schema.StringAttribute{Optional: true, MarkdownDescription: "`Equal` (default) or `Exists`.", Validators: []validator.String{stringvalidator.OneOf("Equal", "Exists")}},
				"value":    schema.StringAttribute{Optional: true, MarkdownDescription: "Taint value."},
				"effect":   schema.StringAttribute{Optional: true, MarkdownDescription: "`NoSchedule`, `PreferNoSchedule` or `NoExecute`; all when unset.", Validators: []validator.String{stringvalidator.OneOf("NoSchedule", "PreferNoSchedule", "NoExecute")}},
			}},
		},
		"volumes": schema.ListNestedAttribute{
			Optional: true, MarkdownDescription: "Volumes mounted into the container: one of `persistent_volume_claim`, `config_map`, `secret`, `host_path`, else an empty directory.",
			NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
				"name":                    schema.StringAttribute{Required: true, MarkdownDescription: "Volume name.", Validators: []validator.String{dnsLabelValidator{}}},
				"mount_path":              schema.StringAttribute{Required: true, MarkdownDescription: "Absolute path in the container.", Validators: []validator.String{stringvalidator.RegexMatches(absPath, "must be an absolute path")}},
				"read_only":               schema.BoolAttribute{Optional: true, MarkdownDescription: "Mount read-only."},
				"persistent_volume_claim": schema.StringAttribute{Optional: true, MarkdownDescription: "PersistentVolumeClaim name."},
				"config_map":              schema.StringAttribute{Optional: true, MarkdownDescription: "ConfigMap name."},
				"secret":                  schema.StringAttribute{Optional: true, MarkdownDescription: "Secret name."},
				"host_path":               schema.StringAttribute{Optional: true, MarkdownDescription: "Host path."},
				"empty_dir":               schema.BoolAttribute{Optional: true, MarkdownDescription: "An empty directory (the default source)."},
			}},
		},
		"run_as_user": schema.Int64Attribute{Optional: true, MarkdownDescription: "UID the container runs as (non-root SSH: with `ssh_auth_mount_path` in that user's home, as upstream's pi example).", Validators: []validator.Int64{int64validator.AtLeast(0)}},
		"restart_policy": schema.StringAttribute{
			Optional: true, Validators: []validator.String{stringvalidator.OneOf(restart...)},
			MarkdownDescription: "Restart policy: " + strings.Join(restart, ", ") + map[bool]string{
				true:  " (default `Never`: a failed worker fails the job; `ExitCode` starts it again for exit codes 128-255 and evictions).",
				false: " (default `OnFailure`; `ExitCode` fails the job at once for exit codes 1-127).",
			}[worker],
		},
	}
	if worker {
		attrs["replicas"] = schema.Int64Attribute{Required: true, MarkdownDescription: "Number of workers: at least 1, unless `run_launcher_as_worker`.", Validators: []validator.Int64{int64validator.AtLeast(0)}}
	} else {
		attrs["replicas"] = schema.Int64Attribute{Optional: true, Computed: true, Default: int64default.StaticInt64(1), MarkdownDescription: "Always 1: one launcher.", Validators: []validator.Int64{int64validator.Between(1, 1)}}
	}
	return attrs
}

func (r *mpiJobResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	replace := []planmodifier.String{stringplanmodifier.RequiresReplace()}
	replaceInt := []planmodifier.Int64{int64planmodifier.RequiresReplace()}
	resp.Schema = schema.Schema{
		MarkdownDescription: "An MPI job (`MPIJob`, `kubeflow.org/v2beta1`, the API of kubeflow/mpi-operator) run by the runtime's " +
			"MPIJob controller (`kubeflow_runtime` with `mpi_jobs`): a launcher that starts the program with `mpirun` over SSH on " +
			"`worker.replicas` workers. MPI jobs are not mutable: any change replaces the job, except `run_policy.suspend`, " +
			"which suspends (its pods go) or resumes it in place, as Kueue does. With `wait` (the default) the apply waits until " +
			"the job succeeds, within `timeouts.create`; a failed job is an apply error that names the failed worker or launcher, " +
			"its exit reason and the end of its log. Checked at plan time as the API server checks it (names too long for the " +
			"workers' hostnames, worker counts, policies); GPU and TPU requests beyond the namespace's quota are a warning.",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{Computed: true, MarkdownDescription: "`namespace/name`.", PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown()}},
			"name": schema.StringAttribute{
				Required: true, PlanModifiers: replace,
				MarkdownDescription: "Name of the job: a DNS-1035 label of at most 54 characters (the launcher's and workers' hostnames derive from it).",
				Validators:          []validator.String{dnsLabelValidator{}},
			},
			"namespace": schema.StringAttribute{Required: true, PlanModifiers: replace, MarkdownDescription: "Namespace (a team's profile).", Validators: []validator.String{dnsLabelValidator{}}},
			"implementation": schema.StringAttribute{
				Optional: true, Computed: true, Default: stringdefault.StaticString("OpenMPI"), PlanModifiers: replace,
				MarkdownDescription: "MPI implementation: `OpenMPI`, `Intel` or `MPICH` (the hostfile's format and the launcher's environment).",
				Validators:          []validator.String{stringvalidator.OneOf("OpenMPI", "Intel", "MPICH")},
			},
			"slots_per_worker": schema.Int64Attribute{
				Optional: true, Computed: true, Default: int64default.StaticInt64(1), PlanModifiers: replaceInt,
				MarkdownDescription: "MPI slots (processes) per worker in the hostfile.", Validators: []validator.Int64{int64validator.AtLeast(1)},
			},
			"run_launcher_as_worker": schema.BoolAttribute{
				Optional: true, Computed: true, Default: booldefault.StaticBool(false), PlanModifiers: []planmodifier.Bool{boolplanmodifier.RequiresReplace()},
				MarkdownDescription: "The launcher runs ranks too (first in the hostfile); then `worker.replicas` may be 0.",
			},
			"launcher_creation_policy": schema.StringAttribute{
				Optional: true, Computed: true, Default: stringdefault.StaticString("AtStartup"), PlanModifiers: replace,
				MarkdownDescription: "`AtStartup` (the launcher starts with the workers) or `WaitForWorkersReady` (once every worker is Ready and its sshd answers).",
				Validators:          []validator.String{stringvalidator.OneOf("AtStartup", "WaitForWorkersReady")},
			},
			"ssh_auth_mount_path": schema.StringAttribute{
				Optional: true, Computed: true, Default: stringdefault.StaticString("/root/.ssh"), PlanModifiers: replace,
				MarkdownDescription: "Where the job's SSH keys are mounted: the `.ssh` directory of the user the containers run as.",
				Validators:          []validator.String{stringvalidator.RegexMatches(absPath, "must be an absolute path")},
			},
			"launcher": schema.SingleNestedAttribute{
				Required: true, Attributes: replicaAttributes("launcher", false),
				PlanModifiers:       []planmodifier.Object{objectplanmodifier.RequiresReplace()},
				MarkdownDescription: "The launcher (one pod, run as a Job): it runs `mpirun`.",
			},
			"worker": schema.SingleNestedAttribute{
				Optional: true, Attributes: replicaAttributes("worker", true),
				PlanModifiers:       []planmodifier.Object{objectplanmodifier.RequiresReplace()},
				MarkdownDescription: "The workers: pods named `<name>-worker-<i>`, running sshd unless told otherwise. Required unless `run_launcher_as_worker`.",
			},
			"run_policy": schema.SingleNestedAttribute{
				Optional: true, MarkdownDescription: "Runtime policies.",
				Attributes: map[string]schema.Attribute{
					"clean_pod_policy": schema.StringAttribute{Optional: true, PlanModifiers: replace, Validators: []validator.String{stringvalidator.OneOf("None", "Running", "All")},
						MarkdownDescription: "Which workers go when the job ends: `None` (default), `Running` (those still running) or `All`. The last lines of a failed job's workers are kept in events first."},
					"ttl_seconds_after_finished": schema.Int64Attribute{Optional: true, PlanModifiers: replaceInt, Validators: []validator.Int64{int64validator.AtLeast(0)}, MarkdownDescription: "Seconds after the end before the launcher Job is deleted."},
					"active_deadline_seconds":    schema.Int64Attribute{Optional: true, PlanModifiers: replaceInt, Validators: []validator.Int64{int64validator.AtLeast(1)}, MarkdownDescription: "Seconds the launcher may run."},
					"backoff_limit":              schema.Int64Attribute{Optional: true, PlanModifiers: replaceInt, Validators: []validator.Int64{int64validator.AtLeast(0)}, MarkdownDescription: "Launcher retries before the job fails (default 6)."},
					"suspend": schema.BoolAttribute{Optional: true, Computed: true, Default: booldefault.StaticBool(false),
						MarkdownDescription: "Suspend the job: its pods are deleted and no launcher starts until it is resumed; changed in place."},
					"managed_by": schema.StringAttribute{Optional: true, PlanModifiers: replace, Validators: []validator.String{stringvalidator.OneOf(kubeflow.KubeflowJobController, kubeflow.MultiKueueController)},
						MarkdownDescription: "`" + kubeflow.KubeflowJobController + "` (this cluster's controller, the default) or `" + kubeflow.MultiKueueController + "` (Kueue's MultiKueue runs it elsewhere)."},
					"scheduling_policy": schema.SingleNestedAttribute{
						Optional: true, PlanModifiers: []planmodifier.Object{objectplanmodifier.RequiresReplace()},
						MarkdownDescription: "Gang scheduling (with `kubeflow_runtime.mpi_gang_scheduler`): the job's PodGroup.",
						Attributes: map[string]schema.Attribute{
							"min_available":            schema.Int64Attribute{Optional: true, Validators: []validator.Int64{int64validator.AtLeast(0)}, MarkdownDescription: "Pods that must be schedulable together (default: launcher and all workers)."},
							"queue":                    schema.StringAttribute{Optional: true, MarkdownDescription: "Volcano queue."},
							"priority_class":           schema.StringAttribute{Optional: true, MarkdownDescription: "PriorityClass of the PodGroup (Volcano)."},
							"schedule_timeout_seconds": schema.Int64Attribute{Optional: true, Validators: []validator.Int64{int64validator.AtLeast(0)}, MarkdownDescription: "Scheduling timeout (scheduler-plugins)."},
						},
					},
				},
			},
			"wait": schema.BoolAttribute{
				Optional: true, Computed: true, Default: booldefault.StaticBool(true),
				MarkdownDescription: "Wait until the job succeeds (not while it is suspended); a failed job fails the apply, naming the failed replica with the end of its log.",
			},
			"phase":            schema.StringAttribute{Computed: true, MarkdownDescription: "`Pending`, `Created`, `Running`, `Restarting`, `Suspended`, `Succeeded` or `Failed`."},
			"message":          schema.StringAttribute{Computed: true, MarkdownDescription: "The message of the phase's condition (for a finished job, the launcher's last lines; for a failed one, what failed)."},
			"replica_statuses": schema.MapAttribute{Computed: true, ElementType: replicaStatusType, MarkdownDescription: "Pods of `Launcher` and `Worker` that are `active`, `succeeded` and `failed`."},
			"start_time":       schema.StringAttribute{Computed: true, MarkdownDescription: "When the job started (RFC 3339), empty before."},
			"completion_time":  schema.StringAttribute{Computed: true, MarkdownDescription: "When it finished (RFC 3339), empty before."},
			"timeouts":         timeouts.Attributes(context.Background(), timeouts.Opts{Create: true, Update: true, Delete: true}),
		},
	}
}

func (r *mpiJobResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.conn = providerConnection(req.ProviderData, &resp.Diagnostics)
}

// ValidateConfig runs the checks of the API server (the CRD's schema and
// rules, v2beta1.Validate) on what is known at plan time.
func (r *mpiJobResource) ValidateConfig(ctx context.Context, req resource.ValidateConfigRequest, resp *resource.ValidateConfigResponse) {
	var m mpiJobModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	for _, v := range []*types.String{&m.Implementation, &m.LauncherCreationPolicy, &m.SSHAuthMountPath} {
		if v.IsUnknown() {
			*v = types.StringNull()
		}
	}
	job, err := m.job()
	if err != nil {
		resp.Diagnostics.AddError("Invalid MPI job", err.Error())
		return
	}
	unknownName := !known(m.Name)
	if unknownName {
		job.Name = "job"
	}
	unknownReplicas := m.Worker != nil && m.Worker.Replicas.IsUnknown()
	var errs field.ErrorList
	for _, e := range kubeflow.Validate(job) {
		if (unknownName && e.Field == "metadata.name") || (unknownReplicas && strings.Contains(e.Field, "Worker")) ||
			strings.HasSuffix(e.Field, ".image") && !knownImage(m, e.Field) {
			continue
		}
		errs = append(errs, e)
	}
	addFieldErrors(&resp.Diagnostics, errs)
}

// knownImage reports whether the image a field error is about is known.
func knownImage(m mpiJobModel, fieldPath string) bool {
	r := m.Launcher
	if strings.Contains(fieldPath, "Worker") {
		r = m.Worker
	}
	return r != nil && known(r.Image)
}

// ModifyPlan warns when the job's GPUs or TPUs are more than the
// namespace's quota leaves, where the cluster can be asked.
func (r *mpiJobResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if req.Plan.Raw.IsNull() || r.conn == nil || r.conn.unknown {
		return
	}
	var m mpiJobModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() || !known(m.Namespace) {
		return
	}
	if !req.State.Raw.IsNull() {
		return // an update changes suspend only
	}
	want := map[corev1.ResourceName]int64{}
	for _, rep := range []struct {
		r *mpiReplicaModel
		n int64
	}{{m.Launcher, 1}, {m.Worker, 0}} {
		if rep.r == nil || rep.r.Resources == nil {
			continue
		}
		n := rep.n
		if rep.r == m.Worker {
			if !known(m.Worker.Replicas) {
				return
			}
			n = m.Worker.Replicas.ValueInt64()
		}
		if known(rep.r.Resources.GPU) {
			want["nvidia.com/gpu"] += n * rep.r.Resources.GPU.ValueInt64()
		}
		if known(rep.r.Resources.TPU) {
			want["google.com/tpu"] += n * rep.r.Resources.TPU.ValueInt64()
		}
	}
	if want["nvidia.com/gpu"] == 0 && want["google.com/tpu"] == 0 {
		return
	}
	c, err := r.conn.get(ctx)
	if err != nil {
		return // the apply reports an unreachable cluster
	}
	quotas, err := c.core.CoreV1().ResourceQuotas(m.Namespace.ValueString()).List(ctx, metav1.ListOptions{})
	if err != nil {
		tflog.Debug(ctx, "cannot read the namespace's quota", map[string]any{"error": err.Error()})
		return
	}
	for _, q := range quotas.Items {
		for res, n := range want {
			hard, ok := q.Spec.Hard["requests."+res]
			if !ok || n == 0 {
				continue
			}
			used := q.Status.Used["requests."+res]
			left := hard.DeepCopy()
			left.Sub(used)
			if k8sresource.NewQuantity(n, k8sresource.DecimalSI).Cmp(left) > 0 {
				resp.Diagnostics.AddAttributeWarning(path.Root("worker").AtName("resources"), "MPI job beyond the namespace's quota",
					fmt.Sprintf("the job asks for %d %s, but the ResourceQuota %s of namespace %s allows %s and %s are in use: its pods will not all be created until others end", n, res, q.Name, m.Namespace.ValueString(), hard.String(), used.String()))
			}
		}
	}
}

func (r *mpiJobResource) client(ctx context.Context) (*clients, client.Client, error) {
	c, err := r.conn.get(ctx)
	if err != nil {
		return nil, nil, err
	}
	cl, err := c.mpiJobs()
	return c, cl, err
}

func (r *mpiJobResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var plan mpiJobModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	timeout, diags := plan.Timeouts.Create(ctx, defaultMPIJobTimeout)
	resp.Diagnostics.Append(diags...)
	if resp.Diagnostics.HasError() {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	ns, name := plan.Namespace.ValueString(), plan.Name.ValueString()
	summary := fmt.Sprintf("creating MPIJob (%s/%s)", ns, name)
	c, cl, err := r.client(ctx)
	if err != nil {
		resp.Diagnostics.AddError(summary, err.Error())
		return
	}
	job, err := plan.job()
	if err != nil {
		resp.Diagnostics.AddError(summary, err.Error())
		return
	}
	if err := cl.Create(ctx, job); err != nil {
		resp.Diagnostics.AddError(summary, c.explainMPIJobs(err).Error())
		return
	}
	plan.ID = types.StringValue(ns + "/" + name)
	if plan.Wait.ValueBool() && !job.Suspended() {
		err = waitMPIJob(ctx, cl, job)
	}
	resp.Diagnostics.Append(plan.applyStatus(ctx, job)...)
	// The job exists either way: a failed one is kept in state (tainted)
	// and replaced by the next apply rather than orphaned.
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
	if err != nil {
		resp.Diagnostics.AddError(summary, c.explain(err).Error())
	}
}

// waitMPIJob waits until job succeeds; a failure, or the context's end,
// is an error that says what failed or where the job stands.
func waitMPIJob(ctx context.Context, cl client.Client, job *kubeflow.MPIJob) error {
	err := wait.PollUntilContextCancel(ctx, 500*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		if err := cl.Get(ctx, client.ObjectKeyFromObject(job), job); err != nil {
			return false, err
		}
		return job.Status.Finished(), nil
	})
	phase, msg := phaseOf(job.Status)
	if err != nil {
		return fmt.Errorf("waiting for the MPI job to succeed (phase %s%s): %w", phase, withColon(msg), err)
	}
	if job.Status.IsTrue(kubeflow.JobFailed) {
		c := job.Status.Condition(kubeflow.JobFailed)
		return fmt.Errorf("the MPI job failed (%s): %s", c.Reason, c.Message)
	}
	return nil
}

func withColon(s string) string {
	if s == "" {
		return ""
	}
	return ": " + s
}

func (r *mpiJobResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var state mpiJobModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	ns, name := state.Namespace.ValueString(), state.Name.ValueString()
	job := &kubeflow.MPIJob{}
	if !(liveObject{kind: "MPIJob", connect: r.client, explain: (*clients).explainMPIJobs}).read(ctx, r.conn, ns, name, job, resp) {
		return
	}
	state.ID = types.StringValue(ns + "/" + name)
	state.fromJob(job)
	if state.Wait.IsNull() {
		state.Wait = types.BoolValue(true)
	}
	resp.Diagnostics.Append(state.applyStatus(ctx, job)...)
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}

// Update changes run_policy.suspend in place (everything else replaces
// the job) and, resumed with wait, waits for the job to succeed.
func (r *mpiJobResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var plan, state mpiJobModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	timeout, diags := plan.Timeouts.Update(ctx, defaultMPIJobTimeout)
	resp.Diagnostics.Append(diags...)
	if resp.Diagnostics.HasError() {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	ns, name := plan.Namespace.ValueString(), plan.Name.ValueString()
	summary := fmt.Sprintf("updating MPIJob (%s/%s)", ns, name)
	c, cl, err := r.client(ctx)
	if err != nil {
		resp.Diagnostics.AddError(summary, err.Error())
		return
	}
	suspend := plan.RunPolicy != nil && plan.RunPolicy.Suspend.ValueBool()
	job := &kubeflow.MPIJob{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	patch := fmt.Sprintf(`{"spec":{"runPolicy":{"suspend":%t}}}`, suspend)
	if err := cl.Patch(ctx, job, client.RawPatch(ktypes.MergePatchType, []byte(patch))); err != nil {
		resp.Diagnostics.AddError(summary, c.explainMPIJobs(err).Error())
		return
	}
	plan.ID = state.ID
	if plan.Wait.ValueBool() && !suspend {
		err = waitMPIJob(ctx, cl, job)
	}
	resp.Diagnostics.Append(plan.applyStatus(ctx, job)...)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
	if err != nil {
		resp.Diagnostics.AddError(summary, c.explain(err).Error())
	}
}

func (r *mpiJobResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var state mpiJobModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	timeout, diags := state.Timeouts.Delete(ctx, 10*time.Minute)
	resp.Diagnostics.Append(diags...)
	if resp.Diagnostics.HasError() {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	ns, name := state.Namespace.ValueString(), state.Name.ValueString()
	summary := fmt.Sprintf("deleting MPIJob (%s/%s)", ns, name)
	c, cl, err := r.client(ctx)
	if err != nil {
		resp.Diagnostics.AddError(summary, err.Error())
		return
	}
	// Foreground: the job is gone once its pods, Services and launcher
	// are, so a job of the same name can follow at once.
	job := &kubeflow.MPIJob{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	if err := cl.Delete(ctx, job, client.PropagationPolicy(metav1.DeletePropagationForeground)); err != nil {
		if !apierrors.IsNotFound(err) {
			resp.Diagnostics.AddError(summary, c.explainMPIJobs(err).Error())
		}
		return
	}
	err = wait.PollUntilContextCancel(ctx, 200*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		err := cl.Get(ctx, client.ObjectKeyFromObject(job), job)
		if apierrors.IsNotFound(err) {
			return true, nil
		}
		return false, err
	})
	if err != nil {
		resp.Diagnostics.AddError(summary, fmt.Sprintf("waiting for the job and its pods to go: %v", err))
	}
}

func (r *mpiJobResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	ns, name, err := splitImportID(req.ID)
	if err != nil {
		resp.Diagnostics.AddError("importing MPIJob", err.Error())
		return
	}
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("id"), ns+"/"+name)...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("namespace"), ns)...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("name"), name)...)
}
