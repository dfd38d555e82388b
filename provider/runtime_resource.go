package provider

import (
	"context"
	"fmt"

	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/mapvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/booldefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/int64default"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringdefault"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-framework/types/basetypes"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	k8sresource "k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kfstack/terraform-provider-kubeflow/bootstrap"
	kfruntime "github.com/kfstack/terraform-provider-kubeflow/bootstrap/runtime"
)

// runtimeModel is a kubeflow_runtime.
type runtimeModel struct {
	componentModel
	Image        types.String           `tfsdk:"image"`
	Replicas     types.Int64            `tfsdk:"replicas"`
	PipelineRoot types.String           `tfsdk:"pipeline_root"`
	NodeSelector map[string]string      `tfsdk:"node_selector"`
	Tolerations  []runtimeToleration    `tfsdk:"tolerations"`
	Resources    *runtimeResourcesModel `tfsdk:"resources"`
	WaitRollout  types.Bool             `tfsdk:"wait_for_rollout"`
	Webhooks     types.Bool             `tfsdk:"webhooks"`
	MaxRunning   types.Int64            `tfsdk:"max_running_tasks"`
	TaskMirrors  map[string]string      `tfsdk:"task_image_mirrors"`
	MPIJobs      types.String           `tfsdk:"mpi_jobs"`
	MPIGang      types.String           `tfsdk:"mpi_gang_scheduler"`
	MPIStatus    types.String           `tfsdk:"mpi_job_controller"`
	CRDs         types.List             `tfsdk:"crds"`
	Objects      types.Int64            `tfsdk:"objects"`
}

type runtimeToleration struct {
	Key               types.String `tfsdk:"key"`
	Operator          types.String `tfsdk:"operator"`
	Value             types.String `tfsdk:"value"`
	Effect            types.String `tfsdk:"effect"`
	TolerationSeconds types.Int64  `tfsdk:"toleration_seconds"`
}

func (t runtimeToleration) toleration() corev1.Toleration {
	tol := corev1.Toleration{
		Key: t.Key.ValueString(), Operator: corev1.TolerationOperator(t.Operator.ValueString()),
		Value: t.Value.ValueString(), Effect: corev1.TaintEffect(t.Effect.ValueString()),
	}
	if !t.TolerationSeconds.IsNull() && !t.TolerationSeconds.IsUnknown() {
		secs := t.TolerationSeconds.ValueInt64()
		tol.TolerationSeconds = &secs
	}
	return tol
}

type runtimeResourcesModel struct {
	Requests map[string]string `tfsdk:"requests"`
	Limits   map[string]string `tfsdk:"limits"`
}

func (m *runtimeModel) recordStatus(status *bootstrap.Status) error {
	objects := 0
	for _, s := range status.Manifests {
		objects += s.Objects
	}
	m.Objects = types.Int64Value(int64(objects))
	names, err := kfruntime.CRDNames()
	if err != nil {
		return err
	}
	values := make([]attr.Value, 0, len(names))
	for _, n := range names {
		values = append(values, types.StringValue(n))
	}
	m.CRDs = types.ListValueMust(types.StringType, values)
	o, err := runtimeOptions(m, "")
	if err != nil {
		return err
	}
	m.MPIStatus = types.StringValue(kfruntime.MPIJobController(o, status))
	return nil
}

// taskImageMirrorsValidator checks task_image_mirrors as the controller
// will.
type taskImageMirrorsValidator struct{}

func (taskImageMirrorsValidator) Description(context.Context) string {
	return "keys must be registry prefixes and values registry hosts with an optional path"
}

func (v taskImageMirrorsValidator) MarkdownDescription(ctx context.Context) string {
	return v.Description(ctx)
}

func (taskImageMirrorsValidator) ValidateMap(ctx context.Context, req validator.MapRequest, resp *validator.MapResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	mirrors := map[string]string{}
	for k, v := range req.ConfigValue.Elements() {
		s, ok := v.(types.String)
		if !ok || s.IsUnknown() || s.IsNull() {
			return
		}
		mirrors[k] = s.ValueString()
	}
	if err := kfruntime.CheckTaskImageMirrors(mirrors); err != nil {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid task image mirror", fmt.Sprintf("%s: %v", req.Path, err))
	}
}

// imageValidator and pipelineRootValidator check at plan time what the
// runtime component checks at apply.
var (
	imageValidator = stringCheck{
		description: "must be an image reference, such as " + kfruntime.DefaultImage("v0.1.0"),
		summary:     "Invalid image",
		check:       kfruntime.CheckImage,
	}
	pipelineRootValidator = stringCheck{
		description: "must be a gs://, s3:// or file:// URL",
		summary:     "Invalid pipeline root",
		check:       kfruntime.CheckPipelineRoot,
	}
)

func runtimeKind(version string) componentKind[runtimeModel, *runtimeModel] {
	quantities := []validator.Map{mapvalidator.KeysAre(stringvalidator.OneOf("cpu", "memory", "ephemeral-storage")), mapvalidator.ValueStringsAre(quantityValidator{})}
	return componentKind[runtimeModel, *runtimeModel]{
		typeName: "_runtime",
		title:    "the kfstack runtime",
		description: "Installs the kfstack runtime: the `Pipeline` and `PipelineRun` CRDs (`pipelines.kfstack.dev/v1alpha1`), " +
			"which `kubeflow_pipeline` and `kubeflow_run` need, and the controller that runs pipelines as pods: a Deployment " +
			"(leader election, `/healthz` and `/readyz` probes, non-root with a read-only root filesystem), its ServiceAccount, " +
			"a ClusterRole with exactly what the controller uses (read pipelines and runs, write their status, create, watch " +
			"and delete task pods, record events, review the tokens of metrics scrapers), a Role for its leader-election Lease " +
			"and the Secret of its task cache's signing key, and a Service for its Prometheus metrics (`https` on 8443, " +
			"served only to callers allowed `get` on `/metrics`: bind the installed ClusterRole " +
			"`kfstack-runtime-metrics-reader-<namespace>` to your scraper's service account). The controller never runs tasks " +
			"itself (no local executor in the cluster) and mounts nothing writable. Everything is applied server-side and " +
			"recorded in an inventory ConfigMap; ready means the CRDs are Established and the Deployment is Available.\n\n" +
			"Pipelines and PipelineRuns are validated by their CRDs' schemas; with `webhooks = true` the controller also serves " +
			"validating admission webhooks, so that `kubectl apply` of content that does not compile, or of a changed run, is " +
			"refused with the field at fault (see `webhooks`). " +
			"CRDs that already exist when the runtime is first installed (made by another tool) are adopted: brought up to " +
			"date, but left in place with their pipelines and runs on destroy. Otherwise destroy deletes every Pipeline and " +
			"PipelineRun first, while the controller still runs, then the controller, RBAC, CRDs and namespace; so does " +
			"changing `namespace`, which reinstalls the runtime.",
		defaultVersion:   version,
		defaultNamespace: kfruntime.DefaultNamespace,
		versionDescription: "Runtime version: the tag of the default `image` and the `app.kubernetes.io/version` label; the " +
			"provider's own version by default, which is the runtime it was released with. The CRDs are always those " +
			"built into the provider. Changing it rolls the controller in place.",
		extra: map[string]schema.Attribute{
			"image": schema.StringAttribute{
				Optional: true,
				MarkdownDescription: "The runtime image, run by the controller and copied into every task pod by its init container; " +
					"`" + kfruntime.ImageRepository + ":<version>` by default (never `latest`). `image_registry` replaces `" +
					kfruntime.ReleaseRegistry + "` in it.",
				Validators: []validator.String{imageValidator},
			},
			"replicas": schema.Int64Attribute{
				Optional: true, Computed: true, Default: int64default.StaticInt64(1),
				MarkdownDescription: "Controller replicas; one leads and the others stand by. `0` stops the controller and keeps the CRDs and everything else.",
				Validators:          []validator.Int64{int64validator.Between(0, 10)},
			},
			"pipeline_root": schema.StringAttribute{
				Optional: true,
				MarkdownDescription: "Artifact store of runs that name none: `gs://bucket/path`, `s3://bucket/path` or `file:///path`. " +
					"Without it every run must name its own (`kubeflow_run.pipeline_root`); the controller has no storage of its own. " +
					"Its cloud identity reads and writes the roots of runs (cache entries, large results): give it access to the " +
					"artifact buckets only (see docs/security.md).",
				Validators: []validator.String{pipelineRootValidator},
			},
			"node_selector": schema.MapAttribute{
				Optional: true, ElementType: types.StringType,
				MarkdownDescription: "Node labels the controller's pods require.",
				Validators:          []validator.Map{mapvalidator.KeysAre(labelKeyValidator{}), mapvalidator.ValueStringsAre(labelValueValidator{})},
			},
			"tolerations": schema.ListNestedAttribute{
				Optional:            true,
				MarkdownDescription: "Taints the controller's pods tolerate.",
				NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
					"key": schema.StringAttribute{Optional: true, MarkdownDescription: "Taint key; empty with `Exists` tolerates every taint.", Validators: []validator.String{labelKeyValidator{}}},
					"operator": schema.StringAttribute{
						Optional: true, MarkdownDescription: "`Equal` (the default) or `Exists`.",
						Validators: []validator.String{stringvalidator.OneOf("Equal", "Exists")},
					},
					"value": schema.StringAttribute{Optional: true, MarkdownDescription: "Taint value, with `Equal`."},
					"effect": schema.StringAttribute{
						Optional: true, MarkdownDescription: "`NoSchedule`, `PreferNoSchedule` or `NoExecute`; every effect when unset.",
						Validators: []validator.String{stringvalidator.OneOf("NoSchedule", "PreferNoSchedule", "NoExecute")},
					},
					"toleration_seconds": schema.Int64Attribute{Optional: true, MarkdownDescription: "How long a `NoExecute` taint is tolerated."},
				}},
			},
			"resources": schema.SingleNestedAttribute{
				Optional: true,
				MarkdownDescription: "Requests and limits of the controller container (`cpu`, `memory`, `ephemeral-storage`); " +
					"by default requests of `100m` CPU and `128Mi` memory and a `512Mi` memory limit.",
				Attributes: map[string]schema.Attribute{
					"requests": schema.MapAttribute{Optional: true, ElementType: types.StringType, MarkdownDescription: "Requests, such as `{ cpu = \"200m\", memory = \"256Mi\" }`.", Validators: quantities},
					"limits":   schema.MapAttribute{Optional: true, ElementType: types.StringType, MarkdownDescription: "Limits, such as `{ memory = \"1Gi\" }`.", Validators: quantities},
				},
			},
			"wait_for_rollout": schema.BoolAttribute{
				Optional: true, Computed: true, Default: booldefault.StaticBool(true),
				MarkdownDescription: "Wait until the controller Deployment is Available (within `timeouts`). When false the apply " +
					"returns once the CRDs are Established, so pipelines can be declared while the controller's image is " +
					"still being pulled or its nodes added; `ready` says whether it is available.",
			},
			"max_running_tasks": schema.Int64Attribute{
				Optional: true,
				MarkdownDescription: "Most task pods unfinished (Pending or Running) at once across all runs; tasks beyond it wait, " +
					"oldest run first, and start as soon as a pod ends. Unset: no limit beyond each run's `parallelism`.",
				Validators: []validator.Int64{int64validator.AtLeast(1)},
			},
			"task_image_mirrors": schema.MapAttribute{
				Optional: true, ElementType: types.StringType,
				MarkdownDescription: "Pull the images of task pods from mirrors (air-gapped clusters): a registry prefix, such as " +
					"`docker.io` or `gcr.io/team`, to the prefix that replaces it, such as `mirror.example.com/dockerhub`. " +
					"`python:3.11` becomes `mirror.example.com/dockerhub/library/python:3.11`; the longest matching prefix wins.",
				Validators: []validator.Map{taskImageMirrorsValidator{}},
			},
			"webhooks": schema.BoolAttribute{
				Optional: true, Computed: true, Default: booldefault.StaticBool(false),
				MarkdownDescription: "Serve validating admission webhooks for Pipelines and PipelineRuns: a Pipeline whose content " +
					"does not compile (the checks `kubeflow_pipeline` runs at plan time) and a change to a run's settings after " +
					"creation (all but `cancel`) are refused by the API server, naming the field. Adds a Service `" +
					kfruntime.WebhookServiceName + "`, a self-signed cert-manager Issuer and a Certificate for the Service mounted " +
					"into the controller, and a ValidatingWebhookConfiguration (failure policy `Fail`) whose CA bundle " +
					"cert-manager injects. **Needs cert-manager**: declare `depends_on = [kubeflow_cert_manager.this]`. The " +
					"apply waits until the webhooks can answer (unless `wait_for_rollout = false`). Needs `replicas` of at " +
					"least 1, since Pipelines and PipelineRuns cannot be created or changed while no controller answers; " +
					"use 2 for changes during the controller's restarts.",
			},
			"mpi_jobs": schema.StringAttribute{
				Optional: true, Computed: true, Default: stringdefault.StaticString("auto"),
				MarkdownDescription: "Run MPIJobs (`kubeflow.org/v2beta1`, the API of kubeflow/mpi-operator) with the runtime's " +
					"controller: `true`, `false` or `auto` (on, unless another tool, such as mpi-operator, installed the MPIJob " +
					"CRD: an existing CRD is adopted and its controller left in charge). Unless `false`, the MPIJob CRD is " +
					"installed (destroy keeps it, and the jobs, while MPIJobs exist), the controller gets what MPI jobs need " +
					"(their pods, Services, ConfigMaps, launcher Jobs, create-only SSH Secrets, pod logs for failure messages), " +
					"and the ClusterRoles `" + kfruntime.MPIJobRoleNames.Edit + "` and `" + kfruntime.MPIJobRoleNames.View +
					"` give profile members (`edit`, `view`) MPIJobs. `mpi_job_controller` says what was decided.",
				Validators: []validator.String{stringvalidator.OneOf("auto", "true", "false")},
			},
			"mpi_gang_scheduler": schema.StringAttribute{
				Optional: true,
				MarkdownDescription: "Gang scheduler of MPI jobs: `volcano`, or the scheduler name of scheduler-plugins' " +
					"coscheduling. Each job then gets a PodGroup and its pods name the scheduler, so that the launcher and " +
					"workers are scheduled together or not at all.",
				Validators: []validator.String{stringvalidator.LengthAtLeast(1)},
			},
			"mpi_job_controller": schema.StringAttribute{
				Computed: true,
				MarkdownDescription: "Who runs MPIJobs, as the controller decides it from `mpi_jobs` and the MPIJob CRD: " +
					"`on (...)` for the runtime's controller, `off (...)` with the reason (another controller's CRD, or " +
					"`mpi_jobs = false`).",
			},
			"crds": schema.ListAttribute{
				Computed: true, ElementType: types.StringType,
				MarkdownDescription: "Names of the CRDs the runtime installs.",
			},
			"objects": schema.Int64Attribute{
				Computed:            true,
				MarkdownDescription: "Number of Kubernetes objects installed (namespace, CRDs, RBAC, Deployment, Service).",
			},
		},
		build: func(m *runtimeModel) (*bootstrap.Component, error) {
			o, err := runtimeOptions(m, version)
			if err != nil {
				return nil, err
			}
			return kfruntime.Component(o)
		},
		refresh: func(ctx context.Context, c *clients, m *runtimeModel) error {
			return refreshRuntime(ctx, c, m, version)
		},
		validate: validateRuntime,
	}
}

// validateRuntime checks at plan time what the component checks at
// apply: tolerations, and webhooks with the replicas that serve them.
func validateRuntime(ctx context.Context, config tfsdk.Config) diag.Diagnostics {
	diags := validateTolerations(ctx, config)
	var webhooks types.Bool
	var replicas types.Int64
	diags.Append(config.GetAttribute(ctx, path.Root("webhooks"), &webhooks)...)
	diags.Append(config.GetAttribute(ctx, path.Root("replicas"), &replicas)...)
	if diags.HasError() || webhooks.IsUnknown() || replicas.IsUnknown() || replicas.IsNull() {
		return diags
	}
	if err := kfruntime.CheckWebhookReplicas(webhooks.ValueBool(), replicas.ValueInt64()); err != nil {
		diags.AddAttributeError(path.Root("webhooks"), "Webhooks without a controller", err.Error())
	}
	return diags
}

// validateTolerations checks each known toleration as the API server
// would, naming the one that is wrong.
func validateTolerations(ctx context.Context, config tfsdk.Config) diag.Diagnostics {
	var list types.List
	diags := config.GetAttribute(ctx, path.Root("tolerations"), &list)
	if diags.HasError() || list.IsNull() || list.IsUnknown() {
		return diags
	}
	for i, element := range list.Elements() {
		object, ok := element.(types.Object)
		if !ok || object.IsNull() || object.IsUnknown() {
			continue
		}
		var t runtimeToleration
		if d := object.As(ctx, &t, basetypes.ObjectAsOptions{}); d.HasError() {
			diags.Append(d...)
			continue
		}
		if t.Key.IsUnknown() || t.Operator.IsUnknown() || t.Value.IsUnknown() || t.Effect.IsUnknown() || t.TolerationSeconds.IsUnknown() {
			continue
		}
		if err := kfruntime.CheckToleration(t.toleration()); err != nil {
			p := path.Root("tolerations").AtListIndex(i)
			diags.AddAttributeError(p, "Invalid toleration", fmt.Sprintf("%s: %v", p, err))
		}
	}
	return diags
}

// NewRuntimeResource returns the kubeflow_runtime resource of a provider
// at the given version, the default runtime version.
func NewRuntimeResource(version string) resource.Resource {
	return &componentResource[runtimeModel, *runtimeModel]{kind: runtimeKind(version)}
}

// runtimeOptions turns the model into the component's options; an
// imported resource (no version yet) gets the provider's.
func runtimeOptions(m *runtimeModel, defaultVersion string) (kfruntime.Options, error) {
	o := kfruntime.Options{
		Version:          m.Version.ValueString(),
		Namespace:        m.Namespace.ValueString(),
		Image:            m.Image.ValueString(),
		ImageRegistry:    m.ImageRegistry.ValueString(),
		Replicas:         1,
		PipelineRoot:     m.PipelineRoot.ValueString(),
		NodeSelector:     m.NodeSelector,
		SkipRollout:      !m.WaitRollout.IsNull() && !m.WaitRollout.ValueBool(),
		Webhooks:         m.Webhooks.ValueBool(),
		MaxRunningTasks:  m.MaxRunning.ValueInt64(),
		TaskImageMirrors: m.TaskMirrors,
		MPIJobs:          m.MPIJobs.ValueString(),
		MPIGangScheduler: m.MPIGang.ValueString(),
	}
	if o.Version == "" {
		o.Version = defaultVersion
	}
	if !m.Replicas.IsNull() && !m.Replicas.IsUnknown() {
		o.Replicas = int32(m.Replicas.ValueInt64())
	}
	for _, t := range m.Tolerations {
		o.Tolerations = append(o.Tolerations, t.toleration())
	}
	if m.Resources != nil {
		r := corev1.ResourceRequirements{}
		var err error
		if r.Requests, err = resourceList(m.Resources.Requests); err != nil {
			return o, fmt.Errorf("resources.requests: %w", err)
		}
		if r.Limits, err = resourceList(m.Resources.Limits); err != nil {
			return o, fmt.Errorf("resources.limits: %w", err)
		}
		o.Resources = &r
	}
	return o, nil
}

func resourceList(m map[string]string) (corev1.ResourceList, error) {
	if len(m) == 0 {
		return nil, nil
	}
	out := corev1.ResourceList{}
	for k, v := range m {
		q, err := k8sresource.ParseQuantity(v)
		if err != nil {
			return nil, fmt.Errorf("%s: %q is not a quantity", k, v)
		}
		out[corev1.ResourceName(k)] = q
	}
	return out, nil
}

// refreshRuntime maps the live controller Deployment back into the model:
// a setting edited out of band (image, replicas, pipeline root, placement,
// resources) shows in the next plan and the apply puts it back. Settings
// that match what the model asks for keep the model's spelling. A deleted
// Deployment is reported as drift by the status instead.
func refreshRuntime(ctx context.Context, c *clients, m *runtimeModel, defaultVersion string) error {
	deploy, err := c.core.AppsV1().Deployments(m.Namespace.ValueString()).Get(ctx, kfruntime.ControllerName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading the controller Deployment: %w", err)
	}
	if v := deploy.Labels["app.kubernetes.io/version"]; v != "" {
		m.Version = types.StringValue(v)
	}
	if m.WaitRollout.IsNull() { // imported: the default
		m.WaitRollout = types.BoolValue(true)
	}
	want, err := runtimeOptions(m, defaultVersion)
	if err != nil {
		return err
	}
	var container *corev1.Container
	for i := range deploy.Spec.Template.Spec.Containers {
		if deploy.Spec.Template.Spec.Containers[i].Name == "controller" {
			container = &deploy.Spec.Template.Spec.Containers[i]
		}
	}
	if container == nil {
		return nil // replaced out of band; the apply puts it back
	}
	if image, err := want.ResolvedImage(); err != nil || image != container.Image {
		m.Image = types.StringValue(container.Image)
	}
	if replicas := deploy.Spec.Replicas; replicas != nil {
		m.Replicas = types.Int64Value(int64(*replicas))
	}
	live := kfruntime.ParseArgs(container.Args)
	root, webhooks, maxRunning, mirrors := live.PipelineRoot, live.Webhooks, live.MaxRunningTasks, live.TaskImageMirrors
	m.Webhooks = types.BoolValue(webhooks)
	if live.MPIJobs != "" && live.MPIJobs != want.MPIJobs {
		m.MPIJobs = types.StringValue(live.MPIJobs)
	}
	if live.MPIGangScheduler != want.MPIGangScheduler {
		m.MPIGang = optionalString(types.StringNull(), live.MPIGangScheduler)
	}
	if maxRunning != want.MaxRunningTasks {
		m.MaxRunning = types.Int64Null()
		if maxRunning > 0 {
			m.MaxRunning = types.Int64Value(maxRunning)
		}
	}
	if !apiequality.Semantic.DeepEqual(emptyAsNil(mirrors), emptyAsNil(want.TaskImageMirrors)) {
		m.TaskMirrors = mirrors
	}
	if root != want.PipelineRoot {
		m.PipelineRoot = types.StringNull()
		if root != "" {
			m.PipelineRoot = types.StringValue(root)
		}
	}
	spec := deploy.Spec.Template.Spec
	if !apiequality.Semantic.DeepEqual(emptyAsNil(spec.NodeSelector), emptyAsNil(want.NodeSelector)) {
		m.NodeSelector = emptyAsNil(spec.NodeSelector)
	}
	if len(spec.Tolerations) != len(want.Tolerations) || (len(spec.Tolerations) > 0 && !apiequality.Semantic.DeepEqual(spec.Tolerations, want.Tolerations)) {
		m.Tolerations = nil
		for _, t := range spec.Tolerations {
			tol := runtimeToleration{
				Key: optionalString(types.StringNull(), t.Key), Operator: optionalString(types.StringNull(), string(t.Operator)),
				Value: optionalString(types.StringNull(), t.Value), Effect: optionalString(types.StringNull(), string(t.Effect)),
				TolerationSeconds: types.Int64Null(),
			}
			if t.TolerationSeconds != nil {
				tol.TolerationSeconds = types.Int64Value(*t.TolerationSeconds)
			}
			m.Tolerations = append(m.Tolerations, tol)
		}
	}
	wantResources := kfruntime.DefaultResources()
	if want.Resources != nil {
		wantResources = *want.Resources
	}
	if !apiequality.Semantic.DeepEqual(normalResources(container.Resources), normalResources(wantResources)) {
		m.Resources = &runtimeResourcesModel{Requests: quantityMap(container.Resources.Requests), Limits: quantityMap(container.Resources.Limits)}
	}
	return nil
}

func emptyAsNil(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	return m
}

func normalResources(r corev1.ResourceRequirements) corev1.ResourceRequirements {
	if len(r.Requests) == 0 {
		r.Requests = nil
	}
	if len(r.Limits) == 0 {
		r.Limits = nil
	}
	r.Claims = nil
	return r
}

func quantityMap(l corev1.ResourceList) map[string]string {
	if len(l) == 0 {
		return nil
	}
	out := make(map[string]string, len(l))
	for k, q := range l {
		out[string(k)] = q.String()
	}
	return out
}
