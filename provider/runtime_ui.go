package provider

import (
	"context"
	"fmt"
	"slices"

	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/int64default"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-framework/types"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	kfruntime "github.com/kfstack/terraform-provider-kubeflow/bootstrap/runtime"
)

// runtimeUIModel is kubeflow_runtime's ui block.
type runtimeUIModel struct {
	Replicas                  types.Int64                   `tfsdk:"replicas"`
	Auth                      types.String                  `tfsdk:"auth"`
	UserHeader                types.String                  `tfsdk:"user_header"`
	UserPrefix                types.String                  `tfsdk:"user_prefix"`
	GroupsHeader              types.String                  `tfsdk:"groups_header"`
	TrustedProxies            []string                      `tfsdk:"trusted_proxies"`
	ProxySecret               types.String                  `tfsdk:"proxy_secret"`
	OIDC                      *runtimeUIOIDCModel           `tfsdk:"oidc"`
	BasePath                  types.String                  `tfsdk:"base_path"`
	AllowedPipelineRoots      []string                      `tfsdk:"allowed_pipeline_roots"`
	ServiceAccountAnnotations map[string]string             `tfsdk:"service_account_annotations"`
	VirtualService            *runtimeUIVirtualServiceModel `tfsdk:"virtual_service"`
}

type runtimeUIOIDCModel struct {
	Issuer        types.String `tfsdk:"issuer"`
	ClientID      types.String `tfsdk:"client_id"`
	ClientSecret  types.String `tfsdk:"client_secret"`
	RedirectURL   types.String `tfsdk:"redirect_url"`
	UsernameClaim types.String `tfsdk:"username_claim"`
	GroupsClaim   types.String `tfsdk:"groups_claim"`
}

type runtimeUIVirtualServiceModel struct {
	Gateway types.String `tfsdk:"gateway"`
	Hosts   []string     `tfsdk:"hosts"`
}

func uiAttribute() schema.SingleNestedAttribute {
	optional := func(desc string) schema.StringAttribute {
		return schema.StringAttribute{Optional: true, MarkdownDescription: desc}
	}
	return schema.SingleNestedAttribute{
		Optional: true,
		MarkdownDescription: "The runtime's web UI (`kfstack-runtime ui`): runs with their task graphs, logs and artifacts, experiments " +
			"side by side, pipelines with their versions, lineage; starting, cancelling runs and archiving experiments. It is its " +
			"own Deployment `" + kfruntime.UIName + "` with its own service account, which may read the runtime's kinds, task pods " +
			"and namespaces, create and patch runs and experiments and create SubjectAccessReviews, nothing else (not the " +
			"controller's right to create pods). Every page and action is authorised for the signed-in user by the API server " +
			"(SubjectAccessReview), so a profile's members see their namespace's runs and nothing else, and only `edit` members " +
			"start or cancel runs. Logs and artifacts are read from the artifact store: use a `gs://` or `s3://` `pipeline_root` " +
			"(the UI's service account needs read access, see `service_account_annotations`). Without the block, no UI.",
		Attributes: map[string]schema.Attribute{
			"replicas": schema.Int64Attribute{
				Optional: true, Computed: true, Default: int64default.StaticInt64(1),
				MarkdownDescription: "UI replicas (default 1; all serve).",
				Validators:          []validator.Int64{int64validator.Between(0, 10)},
			},
			"auth": schema.StringAttribute{
				Required: true,
				MarkdownDescription: "How users are identified. `header`: the identity header the Istio gateway sets after Dex signed the " +
					"user in (Kubeflow's `kubeflow-userid`), trusted only with `proxy_secret` (which `virtual_service` makes the " +
					"gateway send) or from `trusted_proxies`. `oidc`: the UI signs users in against Dex itself (`oidc`). A UI that " +
					"signs no one in exists only on one's own machine (`kfstack-runtime ui --auth=none`, as `make demo` runs it).",
				Validators: []validator.String{stringvalidator.OneOf("header", "oidc")},
			},
			"user_header":   optional("`header`: the header naming the user (default `kubeflow-userid`)."),
			"user_prefix":   optional("`header`: a prefix the gateway puts before the user's name, removed (such as `accounts.google.com:`)."),
			"groups_header": optional("`header`: a header with the user's groups, comma-separated (none by default: RoleBindings to users)."),
			"trusted_proxies": schema.ListAttribute{
				Optional: true, ElementType: types.StringType,
				MarkdownDescription: "`header`: addresses or networks the gateway's requests come from (`10.8.0.0/14`).",
			},
			"proxy_secret": schema.StringAttribute{
				Optional: true, Sensitive: true,
				MarkdownDescription: "`header`: a shared secret (16 characters or more) the gateway sends in `x-kfstack-proxy-secret`; " +
					"`virtual_service` sets it on the requests it routes. Kept in the Secret `" + kfruntime.UIName + "`.",
			},
			"oidc": schema.SingleNestedAttribute{
				Optional:            true,
				MarkdownDescription: "`oidc`: the UI's client at the OpenID provider (Dex).",
				Attributes: map[string]schema.Attribute{
					"issuer":         schema.StringAttribute{Required: true, MarkdownDescription: "The issuer URL, such as `https://kubeflow.example.com/dex`."},
					"client_id":      schema.StringAttribute{Required: true, MarkdownDescription: "The UI's client ID."},
					"client_secret":  schema.StringAttribute{Required: true, Sensitive: true, MarkdownDescription: "The UI's client secret; session cookies are signed with a key derived from it."},
					"redirect_url":   schema.StringAttribute{Required: true, MarkdownDescription: "The UI's callback as browsers reach it: `https://<host><base_path>auth/callback`."},
					"username_claim": optional("The ID token claim naming the user (default `email`, verified)."),
					"groups_claim":   optional("The ID token claim with the groups (default `groups`)."),
				},
			},
			"base_path": schema.StringAttribute{
				Optional:            true,
				MarkdownDescription: "The path the UI is served under (default `/`), such as `/pipelines-ui/`; the gateway routes it unchanged.",
			},
			"allowed_pipeline_roots": schema.ListAttribute{
				Optional: true, ElementType: types.StringType,
				MarkdownDescription: "More pipeline roots (prefixes) whose runs' artifacts and logs the UI may read, besides `pipeline_root`; runs naming any other root show no previews or logs.",
			},
			"service_account_annotations": schema.MapAttribute{
				Optional: true, ElementType: types.StringType,
				MarkdownDescription: "Annotations of the UI's ServiceAccount, such as `iam.gke.io/gcp-service-account` for GKE Workload Identity (read access to the artifact store).",
			},
			"virtual_service": schema.SingleNestedAttribute{
				Optional: true,
				MarkdownDescription: "Expose the UI on the Istio gateway with a VirtualService `" + kfruntime.UIName + "` (Istio must be installed: " +
					"`depends_on = [kubeflow_istio.this]`): requests under `base_path` go to the UI, with `proxy_secret` set.",
				Attributes: map[string]schema.Attribute{
					"gateway": schema.StringAttribute{Required: true, MarkdownDescription: "The Istio Gateway, `namespace/name` (Kubeflow's is `kubeflow/kubeflow-gateway`)."},
					"hosts":   schema.ListAttribute{Optional: true, ElementType: types.StringType, MarkdownDescription: "Hosts of the route (`*` by default)."},
				},
			},
		},
	}
}

// options turns the block into the component's UI options; nil without a
// block.
func (m *runtimeUIModel) options() *kfruntime.UIOptions {
	if m == nil {
		return nil
	}
	u := &kfruntime.UIOptions{
		Replicas: 1, Auth: m.Auth.ValueString(), UserHeader: m.UserHeader.ValueString(), UserPrefix: m.UserPrefix.ValueString(),
		GroupsHeader: m.GroupsHeader.ValueString(), TrustedProxies: m.TrustedProxies, ProxySecret: m.ProxySecret.ValueString(),
		BasePath: m.BasePath.ValueString(), AllowedPipelineRoots: m.AllowedPipelineRoots,
		ServiceAccountAnnotations: m.ServiceAccountAnnotations,
	}
	if !m.Replicas.IsNull() && !m.Replicas.IsUnknown() {
		u.Replicas = int32(m.Replicas.ValueInt64())
	}
	if o := m.OIDC; o != nil {
		u.OIDC = &kfruntime.UIOIDC{Issuer: o.Issuer.ValueString(), ClientID: o.ClientID.ValueString(), ClientSecret: o.ClientSecret.ValueString(),
			RedirectURL: o.RedirectURL.ValueString(), UsernameClaim: o.UsernameClaim.ValueString(), GroupsClaim: o.GroupsClaim.ValueString()}
	}
	if vs := m.VirtualService; vs != nil {
		u.VirtualService = &kfruntime.UIVirtualService{Gateway: vs.Gateway.ValueString(), Hosts: vs.Hosts}
	}
	return u
}

// validateUI checks the ui block at plan time as the component would,
// once its values are known.
func validateUI(ctx context.Context, config tfsdk.Config) diag.Diagnostics {
	var ui *runtimeUIModel
	diags := config.GetAttribute(ctx, path.Root("ui"), &ui)
	if diags.HasError() || ui == nil {
		return diags
	}
	if ui.Auth.IsUnknown() || ui.ProxySecret.IsUnknown() || ui.BasePath.IsUnknown() ||
		(ui.OIDC != nil && (ui.OIDC.ClientSecret.IsUnknown() || ui.OIDC.RedirectURL.IsUnknown())) {
		return diags
	}
	if err := kfruntime.CheckUI(ui.options()); err != nil {
		diags.AddAttributeError(path.Root("ui"), "Invalid UI", "ui: "+err.Error())
	}
	return diags
}

// refreshUI maps the live UI Deployment back into the block: replicas and
// the settings in its arguments, so an edit out of band shows in the plan.
// Secrets are not read back. A deleted Deployment is drift the inventory
// reports.
func refreshUI(ctx context.Context, c *clients, m *runtimeModel) error {
	if m.UI == nil {
		return nil
	}
	deploy, err := c.core.AppsV1().Deployments(m.Namespace.ValueString()).Get(ctx, kfruntime.UIName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading the UI Deployment: %w", err)
	}
	if r := deploy.Spec.Replicas; r != nil {
		m.UI.Replicas = types.Int64Value(int64(*r))
	}
	for _, ctr := range deploy.Spec.Template.Spec.Containers {
		if ctr.Name != "ui" {
			continue
		}
		live := kfruntime.ParseUIArgs(ctr.Args)
		want := m.UI.options()
		if live.Auth != want.Auth {
			m.UI.Auth = types.StringValue(live.Auth)
		}
		if live.BasePath != want.BasePath && (live.BasePath != "" || want.BasePath != "/") {
			m.UI.BasePath = optionalString(types.StringNull(), live.BasePath)
		}
		if live.GroupsHeader != want.GroupsHeader {
			m.UI.GroupsHeader = optionalString(types.StringNull(), live.GroupsHeader)
		}
		if !slices.Equal(live.TrustedProxies, want.TrustedProxies) {
			m.UI.TrustedProxies = live.TrustedProxies
		}
		if !slices.Equal(live.AllowedPipelineRoots, want.AllowedPipelineRoots) {
			m.UI.AllowedPipelineRoots = live.AllowedPipelineRoots
		}
	}
	return nil
}
