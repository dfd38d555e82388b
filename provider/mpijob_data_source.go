package provider

import (
	"context"
	"fmt"

	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kubeflow "github.com/kfstack/terraform-provider-kubeflow/runtime/api/kubeflow/v2beta1"
)

var _ datasource.DataSourceWithConfigure = (*mpiJobDataSource)(nil)

// NewMPIJobDataSource returns the kubeflow_mpi_job data source.
func NewMPIJobDataSource() datasource.DataSource {
	return &mpiJobDataSource{}
}

type mpiJobDataSource struct {
	conn *connection
}

type mpiJobDataSourceModel struct {
	ID              types.String `tfsdk:"id"`
	Name            types.String `tfsdk:"name"`
	Namespace       types.String `tfsdk:"namespace"`
	Implementation  types.String `tfsdk:"implementation"`
	SlotsPerWorker  types.Int64  `tfsdk:"slots_per_worker"`
	WorkerReplicas  types.Int64  `tfsdk:"worker_replicas"`
	LauncherImage   types.String `tfsdk:"launcher_image"`
	WorkerImage     types.String `tfsdk:"worker_image"`
	Suspended       types.Bool   `tfsdk:"suspended"`
	Phase           types.String `tfsdk:"phase"`
	Message         types.String `tfsdk:"message"`
	ReplicaStatuses types.Map    `tfsdk:"replica_statuses"`
	StartTime       types.String `tfsdk:"start_time"`
	CompletionTime  types.String `tfsdk:"completion_time"`
}

func (d *mpiJobDataSource) Metadata(_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_mpi_job"
}

func (d *mpiJobDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "Reads an MPI job (`MPIJob`, `kubeflow.org/v2beta1`), whether Terraform, kubectl or another tool made it: its shape and where it stands.",
		Attributes: map[string]schema.Attribute{
			"id":               schema.StringAttribute{Computed: true, MarkdownDescription: "`namespace/name`."},
			"name":             schema.StringAttribute{Required: true, MarkdownDescription: "Name of the job."},
			"namespace":        schema.StringAttribute{Required: true, MarkdownDescription: "Its namespace."},
			"implementation":   schema.StringAttribute{Computed: true, MarkdownDescription: "`OpenMPI`, `Intel` or `MPICH`."},
			"slots_per_worker": schema.Int64Attribute{Computed: true, MarkdownDescription: "Slots per worker."},
			"worker_replicas":  schema.Int64Attribute{Computed: true, MarkdownDescription: "Number of workers."},
			"launcher_image":   schema.StringAttribute{Computed: true, MarkdownDescription: "Image of the launcher's container."},
			"worker_image":     schema.StringAttribute{Computed: true, MarkdownDescription: "Image of the workers' container (empty without workers)."},
			"suspended":        schema.BoolAttribute{Computed: true, MarkdownDescription: "Whether `runPolicy.suspend` is set."},
			"phase":            schema.StringAttribute{Computed: true, MarkdownDescription: "`Pending`, `Created`, `Running`, `Restarting`, `Suspended`, `Succeeded` or `Failed`."},
			"message":          schema.StringAttribute{Computed: true, MarkdownDescription: "The message of the phase's condition."},
			"replica_statuses": schema.MapAttribute{Computed: true, ElementType: replicaStatusType, MarkdownDescription: "Pods of `Launcher` and `Worker` that are `active`, `succeeded` and `failed`."},
			"start_time":       schema.StringAttribute{Computed: true, MarkdownDescription: "When the job started (RFC 3339), empty before."},
			"completion_time":  schema.StringAttribute{Computed: true, MarkdownDescription: "When it finished (RFC 3339), empty before."},
		},
	}
}

func (d *mpiJobDataSource) Configure(_ context.Context, req datasource.ConfigureRequest, resp *datasource.ConfigureResponse) {
	d.conn = providerConnection(req.ProviderData, &resp.Diagnostics)
}

func (d *mpiJobDataSource) Read(ctx context.Context, req datasource.ReadRequest, resp *datasource.ReadResponse) {
	var m mpiJobDataSourceModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	ns, name := m.Namespace.ValueString(), m.Name.ValueString()
	summary := fmt.Sprintf("reading MPIJob (%s/%s)", ns, name)
	c, err := d.conn.get(ctx)
	if err != nil {
		resp.Diagnostics.AddError(summary, err.Error())
		return
	}
	cl, err := c.mpiJobs()
	if err != nil {
		resp.Diagnostics.AddError(summary, err.Error())
		return
	}
	job := &kubeflow.MPIJob{}
	if err := cl.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, job); err != nil {
		resp.Diagnostics.AddError(summary, c.explainMPIJobs(err).Error())
		return
	}
	kubeflow.SetDefaults(job)
	m.ID = types.StringValue(ns + "/" + name)
	m.Implementation = types.StringValue(string(job.Spec.MPIImplementation))
	m.SlotsPerWorker = types.Int64Value(int64(*job.Spec.SlotsPerWorker))
	m.WorkerReplicas = types.Int64Value(int64(job.WorkerReplicas()))
	m.LauncherImage, m.WorkerImage = types.StringValue(""), types.StringValue("")
	if l := job.Spec.MPIReplicaSpecs[kubeflow.MPIReplicaTypeLauncher]; l != nil && len(l.Template.Spec.Containers) > 0 {
		m.LauncherImage = types.StringValue(l.Template.Spec.Containers[0].Image)
	}
	if w := job.Spec.MPIReplicaSpecs[kubeflow.MPIReplicaTypeWorker]; w != nil && len(w.Template.Spec.Containers) > 0 {
		m.WorkerImage = types.StringValue(w.Template.Spec.Containers[0].Image)
	}
	m.Suspended = types.BoolValue(job.Suspended())
	var status mpiJobModel
	resp.Diagnostics.Append(status.applyStatus(ctx, job)...)
	m.Phase, m.Message, m.ReplicaStatuses, m.StartTime, m.CompletionTime = status.Phase, status.Message, status.ReplicaStatuses, status.StartTime, status.CompletionTime
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}
