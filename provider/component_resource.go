package provider

import (
	"context"
	"fmt"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-timeouts/resource/timeouts"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/booldefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringdefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/kfstack/terraform-provider-kubeflow/bootstrap"
	"github.com/kfstack/terraform-provider-kubeflow/bootstrap/certmanager"
	"github.com/kfstack/terraform-provider-kubeflow/bootstrap/istio"
	"github.com/kfstack/terraform-provider-kubeflow/internal/imagerewrite"
)

// componentKind describes one platform component resource
// (kubeflow_cert_manager, kubeflow_istio): its defaults, the attributes
// only it has, and how its model becomes a bootstrap.Component.
type componentKind[M any, P componentState[M]] struct {
	typeName         string
	title            string
	description      string
	defaultVersion   string
	defaultNamespace string
	// versionDescription replaces the version attribute's description.
	versionDescription string
	extra              map[string]schema.Attribute
	build              func(m P) (*bootstrap.Component, error)
	// refresh, when set, maps the live objects back into the model on
	// Read, after the status, so that edits made out of band show in
	// the plan.
	refresh func(ctx context.Context, c *clients, m P) error
	// validate, when set, checks rules across attributes at plan time;
	// values may still be unknown.
	validate func(ctx context.Context, config tfsdk.Config) diag.Diagnostics
}

// componentState is a component resource's model: the attributes every
// component has (componentModel, embedded) and its own.
type componentState[M any] interface {
	*M
	common() *componentModel
}

// componentModel is the state every component resource has.
type componentModel struct {
	ID            types.String   `tfsdk:"id"`
	Version       types.String   `tfsdk:"version"`
	Namespace     types.String   `tfsdk:"namespace"`
	ImageRegistry types.String   `tfsdk:"image_registry"`
	Ready         types.Bool     `tfsdk:"ready"`
	Drift         types.List     `tfsdk:"drift"`
	Timeouts      timeouts.Value `tfsdk:"timeouts"`
}

func (m *componentModel) common() *componentModel { return m }

// thirdPartyModel is the state of a component from another project, which
// may register admission webhooks and installs as Helm releases (or, for
// Knative, none).
type thirdPartyModel struct {
	WaitForWebhooks types.Bool `tfsdk:"wait_for_webhooks"`
	Releases        types.List `tfsdk:"releases"`
}

// thirdParty gives the component resource access to thirdPartyModel.
type thirdParty interface {
	thirdParty() *thirdPartyModel
}

func (m *thirdPartyModel) thirdParty() *thirdPartyModel { return m }

// statusRecorder is a model with status attributes of its own, set from
// what an install or a check found.
type statusRecorder interface {
	recordStatus(status *bootstrap.Status) error
}

// thirdPartyAttributes are the schema of thirdPartyModel.
func thirdPartyAttributes() map[string]schema.Attribute {
	return map[string]schema.Attribute{
		"wait_for_webhooks": schema.BoolAttribute{
			Optional: true, Computed: true, Default: booldefault.StaticBool(true),
			MarkdownDescription: "Count the component ready only when its admission webhooks have ready endpoints and CA bundles, so objects created next are not refused. Turn off only where no webhook server can run (KWOK).",
		},
		"releases": schema.ListAttribute{
			Computed: true, ElementType: releaseObjectType,
			MarkdownDescription: "The Helm releases installed: name, namespace, revision, chart and app version, number of objects.",
		},
	}
}

// certManagerModel is a kubeflow_cert_manager.
type certManagerModel struct {
	componentModel
	thirdPartyModel
	helmModel
	ClusterIssuer types.String `tfsdk:"cluster_issuer"`
}

// istioModel is a kubeflow_istio.
type istioModel struct {
	componentModel
	thirdPartyModel
	helmModel
	Gateway types.Bool `tfsdk:"gateway"`
}

var releaseObjectType = types.ObjectType{AttrTypes: map[string]attr.Type{
	"name": types.StringType, "namespace": types.StringType, "revision": types.Int64Type,
	"chart_version": types.StringType, "app_version": types.StringType, "objects": types.Int64Type,
}}

// helmModel holds where a Helm-based component's charts come from and its
// values.
type helmModel struct {
	Repository      types.String `tfsdk:"repository"`
	ChartDir        types.String `tfsdk:"chart_dir"`
	Values          types.String `tfsdk:"values"`
	SensitiveValues types.String `tfsdk:"sensitive_values"`
	Verify          types.Bool   `tfsdk:"verify"`
	Keyring         types.String `tfsdk:"keyring"`
}

// helmAttributes are the schema of helmModel and thirdPartyModel.
func helmAttributes() map[string]schema.Attribute {
	return withAttributes(thirdPartyAttributes(), map[string]schema.Attribute{
		"repository": schema.StringAttribute{
			Optional:            true,
			MarkdownDescription: "A mirror of the upstream chart repository: an HTTP(S) chart repository URL or an `oci://` registry path.",
		},
		"chart_dir": schema.StringAttribute{
			Optional: true,
			MarkdownDescription: "A local directory holding the charts by name, instead of a repository (air-gapped installs). " +
				"With `verify`, it holds the signed archives instead: `<chart>-<version>.tgz` beside `<chart>-<version>.tgz.prov`.",
		},
		"values": schema.StringAttribute{
			Optional:            true,
			MarkdownDescription: "Helm values (YAML or JSON) merged over kfstack's defaults for every chart of the component. Shown in plans: put secrets in `sensitive_values`.",
			Validators:          []validator.String{valuesValidator{}},
		},
		"sensitive_values": schema.StringAttribute{
			Optional: true, Sensitive: true,
			MarkdownDescription: "Helm values (YAML or JSON) that hold secrets (passwords, tokens, client secrets), merged over `values`. " +
				"Terraform never shows them in plans or logs; they are still stored in the state (encrypt the backend) and, as " +
				"every Helm value is, in the release's Secret in the cluster.",
			Validators: []validator.String{valuesValidator{sensitive: true}},
		},
		"verify": schema.BoolAttribute{
			Optional: true,
			MarkdownDescription: "Verify each chart's provenance before installing it, as `helm install --verify` does: the chart's " +
				"`.prov` file must be signed by a key in `keyring` and match the archive. A chart without provenance, or changed " +
				"after it was signed, fails the apply before anything is installed. Turn it on where the source publishes signed " +
				"charts (a mirror you sign yourself, or upstreams that sign).",
		},
		"keyring": schema.StringAttribute{
			Optional: true,
			MarkdownDescription: "Path of the OpenPGP public keyring (binary, as `gpg --export KEY > keyring.gpg` writes it) that " +
				"`verify` checks signatures against; `$GNUPGHOME/pubring.gpg` or `~/.gnupg/pubring.gpg` by default. Needs `verify = true`.",
			Validators: []validator.String{stringvalidator.LengthAtLeast(1)},
		},
	})
}

// validateHelmSource checks the chart source attributes of a Helm-based
// component together.
func validateHelmSource(ctx context.Context, config tfsdk.Config) diag.Diagnostics {
	var diags diag.Diagnostics
	var verify types.Bool
	var keyring types.String
	diags.Append(config.GetAttribute(ctx, path.Root("verify"), &verify)...)
	diags.Append(config.GetAttribute(ctx, path.Root("keyring"), &keyring)...)
	if diags.HasError() {
		return diags
	}
	if !keyring.IsNull() && !keyring.IsUnknown() && !verify.IsUnknown() && !verify.ValueBool() {
		diags.AddAttributeError(path.Root("keyring"), "Keyring without verify",
			"keyring: a keyring is used only to verify charts; set verify = true, or remove keyring.")
	}
	return diags
}

func withHelm(extra map[string]schema.Attribute) map[string]schema.Attribute {
	return withAttributes(helmAttributes(), extra)
}

// withAttributes returns the union of attribute sets.
func withAttributes(sets ...map[string]schema.Attribute) map[string]schema.Attribute {
	out := map[string]schema.Attribute{}
	for _, set := range sets {
		for k, v := range set {
			out[k] = v
		}
	}
	return out
}

func (m *helmModel) options() (bootstrap.Source, map[string]any, error) {
	values, err := bootstrap.ParseValues(m.Values.ValueString())
	if err != nil {
		return bootstrap.Source{}, nil, err
	}
	sensitive, err := bootstrap.ParseValues(m.SensitiveValues.ValueString())
	if err != nil {
		return bootstrap.Source{}, nil, fmt.Errorf("sensitive_values: is not a YAML or JSON object")
	}
	source := bootstrap.Source{
		Repository: m.Repository.ValueString(), ChartDir: m.ChartDir.ValueString(),
		Verify: m.Verify.ValueBool(), Keyring: m.Keyring.ValueString(),
	}
	return source, bootstrap.MergeValues(values, sensitive), nil
}

var certManagerKind = componentKind[certManagerModel, *certManagerModel]{
	typeName: "_cert_manager",
	title:    "cert-manager",
	description: "Installs [cert-manager](https://cert-manager.io) from its Helm chart with its CRDs, which Helm keeps upgraded " +
		"with the release, and a self-signed ClusterIssuer for the platform's internal certificates.\n\n" +
		"The ClusterIssuer is created once cert-manager is ready, through cert-manager's validating webhook. With " +
		"`wait_for_webhooks` (the default) the install waits until that webhook can answer, and then until the issuer is " +
		"Ready; with `wait_for_webhooks = false` a webhook that does not answer fails the apply with an error naming it " +
		"(under KWOK, where no webhook server runs, set `cluster_issuer = \"\"`).",
	defaultVersion:   certmanager.DefaultVersion,
	defaultNamespace: certmanager.DefaultNamespace,
	extra: withHelm(map[string]schema.Attribute{
		"cluster_issuer": schema.StringAttribute{
			Optional: true, Computed: true, Default: stringdefault.StaticString(defaultClusterIssuer),
			MarkdownDescription: "Name of the self-signed ClusterIssuer to create, `" + defaultClusterIssuer + "` by default; `\"\"` creates none " +
				"(and deletes the one created before). Certificates name it with `issuerRef = { kind = \"ClusterIssuer\", name = ... }`.",
			Validators: []validator.String{stringvalidator.Any(stringvalidator.LengthAtMost(0), dnsSubdomainValidator)},
		},
	}),
	build:   certManagerComponent,
	refresh: refreshClusterIssuer,
}

func certManagerComponent(m *certManagerModel) (*bootstrap.Component, error) {
	source, values, err := m.options()
	if err != nil {
		return nil, err
	}
	return certmanager.Component(certmanager.Options{
		Version: m.Version.ValueString(), Namespace: m.Namespace.ValueString(), Source: source,
		ImageRegistry: m.ImageRegistry.ValueString(), Values: values, WaitForWebhooks: m.WaitForWebhooks.ValueBool(),
		ClusterIssuer: m.ClusterIssuer.ValueString(),
	}), nil
}

// defaultClusterIssuer names the ClusterIssuer kubeflow_cert_manager makes.
const defaultClusterIssuer = "kfstack-selfsigned"

// refreshClusterIssuer reads the issuer's name from what the last apply
// recorded, so that an import learns it.
func refreshClusterIssuer(ctx context.Context, c *clients, m *certManagerModel) error {
	in, err := bootstrap.NewInstaller(c.rest, "", nil)
	if err != nil {
		return err
	}
	component, err := certManagerComponent(m)
	if err != nil {
		return err
	}
	objects, err := in.Inventory(ctx, component, certmanager.IssuerSet)
	if err != nil || objects == nil {
		return err // never applied (an install older than the issuer): the plan applies it
	}
	m.ClusterIssuer = types.StringValue("")
	for _, obj := range objects {
		if obj.GetKind() == "ClusterIssuer" {
			m.ClusterIssuer = types.StringValue(obj.GetName())
		}
	}
	return nil
}

var istioKind = componentKind[istioModel, *istioModel]{
	typeName:         "_istio",
	title:            "Istio",
	description:      "Installs [Istio](https://istio.io) from its Helm charts: `base` (CRDs), `istiod` and, with `gateway`, an ingress gateway, in that order.",
	defaultVersion:   istio.DefaultVersion,
	defaultNamespace: istio.DefaultNamespace,
	extra: withHelm(map[string]schema.Attribute{
		"gateway": schema.BoolAttribute{
			Optional: true, Computed: true, Default: booldefault.StaticBool(true),
			MarkdownDescription: "Install the `istio-ingressgateway` (the `gateway` chart).",
		},
	}),
	build: func(m *istioModel) (*bootstrap.Component, error) {
		source, values, err := m.options()
		if err != nil {
			return nil, err
		}
		return istio.Component(istio.Options{
			Version: m.Version.ValueString(), Namespace: m.Namespace.ValueString(), Source: source,
			ImageRegistry: m.ImageRegistry.ValueString(), Gateway: m.Gateway.ValueBool(), Values: values,
			WaitForWebhooks: m.WaitForWebhooks.ValueBool(),
		}), nil
	},
}

// NewCertManagerResource returns the kubeflow_cert_manager resource.
func NewCertManagerResource() resource.Resource {
	return &componentResource[certManagerModel, *certManagerModel]{kind: certManagerKind}
}

// NewIstioResource returns the kubeflow_istio resource.
func NewIstioResource() resource.Resource {
	return &componentResource[istioModel, *istioModel]{kind: istioKind}
}

var (
	_ resource.ResourceWithConfigure   = (*componentResource[istioModel, *istioModel])(nil)
	_ resource.ResourceWithImportState = (*componentResource[istioModel, *istioModel])(nil)
	_ resource.ResourceWithModifyPlan  = (*componentResource[istioModel, *istioModel])(nil)

	_ resource.ResourceWithValidateConfig = (*componentResource[runtimeModel, *runtimeModel])(nil)
)

// componentResource is the resource of one component kind; M is its model.
type componentResource[M any, P componentState[M]] struct {
	kind componentKind[M, P]
	conn *connection
}

const defaultComponentTimeout = 15 * time.Minute

func (r *componentResource[M, P]) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + r.kind.typeName
}

func (r *componentResource[M, P]) Schema(ctx context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	versionDescription := r.kind.versionDescription
	if versionDescription == "" {
		versionDescription = fmt.Sprintf("%s version (its chart version) to install; `%s` by default. Changing it upgrades in place, CRDs included.", r.kind.title, r.kind.defaultVersion)
	}
	attrs := map[string]schema.Attribute{
		"id": schema.StringAttribute{
			Computed: true, MarkdownDescription: "The namespace the component is installed in.",
			PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
		},
		"version": schema.StringAttribute{
			Optional: true, Computed: true, Default: stringdefault.StaticString(r.kind.defaultVersion),
			MarkdownDescription: versionDescription,
		},
		"namespace": schema.StringAttribute{
			Optional: true, Computed: true, Default: stringdefault.StaticString(r.kind.defaultNamespace),
			MarkdownDescription: fmt.Sprintf("Namespace to install into; `%s` by default. Changing it reinstalls.", r.kind.defaultNamespace),
			Validators:          []validator.String{dnsLabelValidator{}},
			PlanModifiers:       []planmodifier.String{stringplanmodifier.RequiresReplace()},
		},
		"image_registry": schema.StringAttribute{
			Optional:            true,
			MarkdownDescription: "Registry to pull every image from instead of the upstream one, for air-gapped clusters: a host with an optional path, such as `mirror.example.com/kubeflow`.",
			Validators:          []validator.String{registryValidator},
		},
		"ready": schema.BoolAttribute{Computed: true, MarkdownDescription: "Whether every object of the component is ready."},
		"drift": schema.ListAttribute{
			Computed: true, ElementType: types.StringType,
			MarkdownDescription: "Objects whose live state differs from what was installed (deleted, edited), found on refresh; the next apply repairs them.",
		},
	}
	for name, a := range r.kind.extra {
		attrs[name] = a
	}
	resp.Schema = schema.Schema{
		MarkdownDescription: r.kind.description + "\n\n" + r.waitDescription(),
		Attributes:          attrs,
		Blocks:              map[string]schema.Block{"timeouts": timeouts.Block(ctx, timeouts.Opts{Create: true, Update: true, Delete: true})},
	}
}

// waitDescription says how the resource waits and repairs.
func (r *componentResource[M, P]) waitDescription() string {
	if _, ok := any(P(new(M))).(thirdParty); !ok {
		return "Waits until every object is ready, logging what it waits for (`TF_LOG=info`), within `timeouts` " +
			"(15 minutes by default), and reports objects deleted or edited out of band so the next apply repairs them."
	}
	return "Waits until every Deployment, DaemonSet, StatefulSet, Job, CRD " +
		"and (with `wait_for_webhooks`) admission webhook is ready, logging what it waits for (`TF_LOG=info`), and reports " +
		"objects deleted or edited out of band so the next apply repairs them. Helm charts are installed or upgraded as " +
		"`helm upgrade --install` does, with CRDs applied before upgrades, releases left pending by an interrupted " +
		"apply recovered, and a release that does not become ready rolled back (or removed, if new)."
}

func (r *componentResource[M, P]) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.conn = providerConnection(req.ProviderData, &resp.Diagnostics)
}

// ValidateConfig runs the kind's cross-attribute checks.
func (r *componentResource[M, P]) ValidateConfig(ctx context.Context, req resource.ValidateConfigRequest, resp *resource.ValidateConfigResponse) {
	if _, helm := r.kind.extra["verify"]; helm {
		resp.Diagnostics.Append(validateHelmSource(ctx, req.Config)...)
	}
	if r.kind.validate == nil {
		return
	}
	resp.Diagnostics.Append(r.kind.validate(ctx, req.Config)...)
}

// ModifyPlan plans an update when the last refresh found drift, so the
// apply repairs what was deleted or edited out of band.
func (r *componentResource[M, P]) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if req.State.Raw.IsNull() || req.Plan.Raw.IsNull() {
		return
	}
	var drift types.List
	resp.Diagnostics.Append(req.State.GetAttribute(ctx, path.Root("drift"), &drift)...)
	if len(drift.Elements()) > 0 {
		resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("drift"), types.ListValueMust(types.StringType, nil))...)
		resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("ready"), types.BoolUnknown())...)
		if _, ok := any(P(new(M))).(thirdParty); ok {
			resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("releases"), types.ListUnknown(releaseObjectType))...)
		}
	}
}

// prepare connects and builds the component of m and an installer for it.
func (r *componentResource[M, P]) prepare(ctx context.Context, m P) (*clients, *bootstrap.Component, *bootstrap.Installer, error) {
	c, err := r.conn.get(ctx)
	if err != nil {
		return nil, nil, nil, err
	}
	component, err := r.kind.build(m)
	if err != nil {
		return nil, nil, nil, err
	}
	in, err := bootstrap.NewInstaller(c.rest, "", func(ctx context.Context, msg string, fields map[string]any) {
		tflog.Info(ctx, msg, fields)
	})
	if err != nil {
		return nil, nil, nil, err
	}
	return c, component, in, nil
}

func (r *componentResource[M, P]) install(ctx context.Context, m P, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	c, component, in, err := r.prepare(ctx, m)
	if err != nil {
		return err
	}
	status, err := in.Install(ctx, component)
	if err != nil {
		return c.explain(err)
	}
	m.common().ID = m.common().Namespace
	return setStatus(m, status)
}

// leftBehind reports whether a failed install left part of the component
// in the cluster (Helm installs undo themselves; a manifest set keeps its
// inventory), recording its status in m if so.
func (r *componentResource[M, P]) leftBehind(ctx context.Context, m P) bool {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	_, component, in, err := r.prepare(ctx, m)
	if err != nil {
		return false
	}
	status, err := in.Check(ctx, component)
	if err != nil || status == nil {
		return false
	}
	m.common().ID = m.common().Namespace
	return setStatus(m, status) == nil
}

// setStatus records what an install or a check found in the model.
func setStatus[M any, P componentState[M]](m P, status *bootstrap.Status) error {
	common := m.common()
	drift := make([]attr.Value, 0, len(status.Drift))
	for _, d := range status.Drift {
		drift = append(drift, types.StringValue(d))
	}
	common.Drift = types.ListValueMust(types.StringType, drift)
	common.Ready = types.BoolValue(status.Ready)
	if r, ok := any(m).(statusRecorder); ok {
		return r.recordStatus(status)
	}
	return nil
}

func (m *thirdPartyModel) recordStatus(status *bootstrap.Status) error {
	var releases []attr.Value
	for _, rel := range status.Releases {
		obj, diags := types.ObjectValue(releaseObjectType.AttrTypes, map[string]attr.Value{
			"name": types.StringValue(rel.Name), "namespace": types.StringValue(rel.Namespace),
			"revision": types.Int64Value(int64(rel.Revision)), "chart_version": types.StringValue(rel.ChartVersion),
			"app_version": types.StringValue(rel.AppVersion), "objects": types.Int64Value(int64(rel.Objects)),
		})
		if diags.HasError() {
			return fmt.Errorf("recording release %s", rel.Name)
		}
		releases = append(releases, obj)
	}
	m.Releases = types.ListValueMust(releaseObjectType, releases)
	return nil
}

func (r *componentResource[M, P]) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	plan := P(new(M))
	resp.Diagnostics.Append(req.Plan.Get(ctx, plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	timeout, diags := plan.common().Timeouts.Create(ctx, defaultComponentTimeout)
	resp.Diagnostics.Append(diags...)
	if resp.Diagnostics.HasError() {
		return
	}
	if err := r.install(ctx, plan, timeout); err != nil {
		resp.Diagnostics.AddError(fmt.Sprintf("installing %s (%s)", r.kind.title, plan.common().Version.ValueString()), err.Error())
		// What the failed install left is recorded, so Terraform marks
		// the resource tainted and the next apply or destroy removes it,
		// instead of leaving it unmanaged.
		if r.leftBehind(ctx, plan) {
			resp.Diagnostics.Append(resp.State.Set(ctx, plan)...)
		}
		return
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, plan)...)
}

func (r *componentResource[M, P]) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	state := P(new(M))
	resp.Diagnostics.Append(req.State.Get(ctx, state)...)
	if resp.Diagnostics.HasError() || r.conn.unknown {
		return
	}
	summary := fmt.Sprintf("reading %s", r.kind.title)
	c, component, in, err := r.prepare(ctx, state)
	if err != nil {
		resp.Diagnostics.AddError(summary, err.Error())
		return
	}
	status, err := in.Check(ctx, component)
	if err != nil {
		resp.Diagnostics.AddError(summary, c.explain(err).Error())
		return
	}
	if status == nil {
		tflog.Warn(ctx, "no release of the component is installed; removing it from state", map[string]any{"component": r.kind.title})
		resp.State.RemoveResource(ctx)
		return
	}
	if len(status.Releases) > 0 {
		state.common().Version = types.StringValue(status.Releases[0].ChartVersion)
	}
	if err := setStatus(state, status); err != nil {
		resp.Diagnostics.AddError(summary, err.Error())
		return
	}
	if r.kind.refresh != nil {
		if err := r.kind.refresh(ctx, c, state); err != nil {
			resp.Diagnostics.AddError(summary, c.explain(err).Error())
			return
		}
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, state)...)
}

func (r *componentResource[M, P]) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	plan := P(new(M))
	resp.Diagnostics.Append(req.Plan.Get(ctx, plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	timeout, diags := plan.common().Timeouts.Update(ctx, defaultComponentTimeout)
	resp.Diagnostics.Append(diags...)
	if resp.Diagnostics.HasError() {
		return
	}
	if err := r.install(ctx, plan, timeout); err != nil {
		resp.Diagnostics.AddError(fmt.Sprintf("upgrading %s (%s)", r.kind.title, plan.common().Version.ValueString()), err.Error())
		return
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, plan)...)
}

func (r *componentResource[M, P]) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	state := P(new(M))
	resp.Diagnostics.Append(req.State.Get(ctx, state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	timeout, diags := state.common().Timeouts.Delete(ctx, defaultComponentTimeout)
	resp.Diagnostics.Append(diags...)
	if resp.Diagnostics.HasError() {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	summary := fmt.Sprintf("uninstalling %s", r.kind.title)
	c, component, in, err := r.prepare(ctx, state)
	if err != nil {
		resp.Diagnostics.AddError(summary, err.Error())
		return
	}
	if err := in.Uninstall(ctx, component); err != nil {
		resp.Diagnostics.AddError(summary, c.explain(err).Error())
	}
}

// ImportState imports a component by the namespace it is installed in.
func (r *componentResource[M, P]) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("id"), req.ID)...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("namespace"), req.ID)...)
	if _, ok := any(P(new(M))).(thirdParty); ok {
		resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("wait_for_webhooks"), true)...)
	}
}

// valuesValidator checks at plan time that values parse as a YAML or JSON
// object.
type valuesValidator struct {
	// sensitive withholds the parser's message, which may quote the text.
	sensitive bool
}

func (valuesValidator) Description(context.Context) string {
	return "must be a YAML or JSON object"
}

func (v valuesValidator) MarkdownDescription(ctx context.Context) string { return v.Description(ctx) }

func (v valuesValidator) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	if _, err := bootstrap.ParseValues(req.ConfigValue.ValueString()); err != nil {
		if v.sensitive {
			resp.Diagnostics.AddAttributeError(req.Path, "Invalid values", fmt.Sprintf("%s: is not a YAML or JSON object (the parser's message is not shown, since it may quote the sensitive text)", req.Path))
			return
		}
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid values", fmt.Sprintf("%s: %v", req.Path, err))
	}
}

// registryValidator checks at plan time that an image registry is a host
// with an optional path, as a mirror needs.
var registryValidator = stringCheck{
	description: "must be a registry host with an optional path, such as mirror.example.com/kubeflow",
	summary:     "Invalid image registry",
	check: func(registry string) error {
		if err := (imagerewrite.Rules{Mirrors: map[string]string{"registry.example.com": registry}}).Validate(); err != nil {
			return fmt.Errorf("%q must be a registry host with an optional path, such as mirror.example.com/kubeflow", registry)
		}
		return nil
	},
}
