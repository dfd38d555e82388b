// Package provider implements the kubeflow Terraform provider: its
// configuration (the connection to a cluster), resources and data sources.
package provider

import (
	"context"

	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/provider"
	"github.com/hashicorp/terraform-plugin-framework/provider/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
)

var _ provider.ProviderWithValidateConfig = (*kubeflowProvider)(nil)

// New returns a constructor of the provider at the given version.
func New(version string) func() provider.Provider {
	return func() provider.Provider {
		return &kubeflowProvider{version: version}
	}
}

type kubeflowProvider struct {
	version string
}

// providerModel is the provider's configuration: how to reach the cluster.
type providerModel struct {
	Host                 types.String `tfsdk:"host"`
	ClusterCACertificate types.String `tfsdk:"cluster_ca_certificate"`
	Token                types.String `tfsdk:"token"`
	ClientCertificate    types.String `tfsdk:"client_certificate"`
	ClientKey            types.String `tfsdk:"client_key"`
	Insecure             types.Bool   `tfsdk:"insecure"`
	ConfigPath           types.String `tfsdk:"config_path"`
	ConfigContext        types.String `tfsdk:"config_context"`
	Exec                 *execModel   `tfsdk:"exec"`
	Google               *googleModel `tfsdk:"google"`
	GKE                  *gkeModel    `tfsdk:"gke"`
}

// execModel runs a credential plugin, as kubectl's exec does.
type execModel struct {
	APIVersion types.String `tfsdk:"api_version"`
	Command    types.String `tfsdk:"command"`
	Args       types.List   `tfsdk:"args"`
	Env        types.Map    `tfsdk:"env"`
}

func (p *kubeflowProvider) Metadata(_ context.Context, _ provider.MetadataRequest, resp *provider.MetadataResponse) {
	resp.TypeName = "kubeflow"
	resp.Version = p.version
}

func (p *kubeflowProvider) Schema(_ context.Context, _ provider.SchemaRequest, resp *provider.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "The kubeflow provider builds a Kubeflow-style machine-learning platform: GKE clusters with GPU and TPU " +
			"node pools (`google` block), then on any Kubernetes cluster the platform's components, team environments (profiles), " +
			"pipelines and runs.\n\n" +
			"The Kubernetes connection is a kubeconfig, host and credentials, an `exec` plugin, or the `gke` block: a GKE cluster, " +
			"possibly created in the same apply, reached with the provider's Google credentials (tokens are refreshed and never stored).\n\n" +
			"Every connection attribute may come from a resource created in the same apply (for example a GKE " +
			"cluster's endpoint): while a value is unknown, resources plan without contacting the cluster and " +
			"connect only at apply. Attributes fall back to the environment variables named in their descriptions.",
		Attributes: map[string]schema.Attribute{
			"host": schema.StringAttribute{
				Optional:            true,
				MarkdownDescription: "The Kubernetes API server's URL, such as `https://203.0.113.10`. Environment: `KUBE_HOST`.",
			},
			"cluster_ca_certificate": schema.StringAttribute{
				Optional:            true,
				MarkdownDescription: "PEM-encoded CA certificate that signed the API server's certificate. Environment: `KUBE_CLUSTER_CA_CERT_DATA`.",
			},
			"token": schema.StringAttribute{
				Optional:            true,
				Sensitive:           true,
				MarkdownDescription: "Bearer token to authenticate with. Environment: `KUBE_TOKEN`.",
			},
			"client_certificate": schema.StringAttribute{
				Optional:            true,
				MarkdownDescription: "PEM-encoded client certificate for TLS authentication; needs `client_key`. Environment: `KUBE_CLIENT_CERT_DATA`.",
			},
			"client_key": schema.StringAttribute{
				Optional:            true,
				Sensitive:           true,
				MarkdownDescription: "PEM-encoded private key of `client_certificate`. Environment: `KUBE_CLIENT_KEY_DATA`.",
			},
			"insecure": schema.BoolAttribute{
				Optional:            true,
				MarkdownDescription: "Skip verification of the API server's certificate. Not for production. Environment: `KUBE_INSECURE`.",
			},
			"config_path": schema.StringAttribute{
				Optional:            true,
				MarkdownDescription: "Path of a kubeconfig file; `~` is expanded. The other connection attributes override what it says. Environment: `KUBE_CONFIG_PATH`.",
			},
			"config_context": schema.StringAttribute{
				Optional:            true,
				MarkdownDescription: "Context of the kubeconfig to use instead of its current context. Environment: `KUBE_CTX`.",
			},
		},
		Blocks: map[string]schema.Block{
			"google": googleBlock(),
			"gke":    gkeBlock(),
			"exec": schema.SingleNestedBlock{
				MarkdownDescription: "A credential plugin that prints an ExecCredential, such as `gke-gcloud-auth-plugin`; the same as an `exec` user in a kubeconfig.",
				Attributes: map[string]schema.Attribute{
					"api_version": schema.StringAttribute{
						Optional:            true,
						MarkdownDescription: "API version of the ExecCredential the plugin prints, such as `client.authentication.k8s.io/v1`.",
						Validators: []validator.String{stringvalidator.OneOf(
							"client.authentication.k8s.io/v1", "client.authentication.k8s.io/v1beta1",
						)},
					},
					"command": schema.StringAttribute{
						Optional:            true,
						MarkdownDescription: "The plugin's executable. Required when the block is set.",
					},
					"args": schema.ListAttribute{
						ElementType:         types.StringType,
						Optional:            true,
						MarkdownDescription: "Arguments of the plugin.",
					},
					"env": schema.MapAttribute{
						ElementType:         types.StringType,
						Optional:            true,
						MarkdownDescription: "Environment variables set for the plugin.",
					},
				},
			},
		},
	}
}

func (p *kubeflowProvider) ValidateConfig(ctx context.Context, req provider.ValidateConfigRequest, resp *provider.ValidateConfigResponse) {
	var config providerModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &config)...)
	if resp.Diagnostics.HasError() {
		return
	}
	set := func(v types.String) bool { return !v.IsNull() && (v.IsUnknown() || v.ValueString() != "") }
	if set(config.ClientCertificate) && config.ClientKey.IsNull() {
		resp.Diagnostics.AddAttributeError(path.Root("client_key"), "Missing client key",
			"client_certificate is set, so client_key must be set too.")
	}
	if set(config.ClientKey) && config.ClientCertificate.IsNull() {
		resp.Diagnostics.AddAttributeError(path.Root("client_certificate"), "Missing client certificate",
			"client_key is set, so client_certificate must be set too.")
	}
	if config.Insecure.ValueBool() && set(config.ClusterCACertificate) {
		resp.Diagnostics.AddAttributeError(path.Root("insecure"), "Conflicting TLS settings",
			"insecure = true skips certificate verification, so cluster_ca_certificate cannot be set with it.")
	}
	if config.GKE != nil {
		for name, v := range map[string]attr.Value{
			"host": config.Host, "config_path": config.ConfigPath, "token": config.Token,
			"client_certificate": config.ClientCertificate, "cluster_ca_certificate": config.ClusterCACertificate,
		} {
			if !v.IsNull() {
				resp.Diagnostics.AddAttributeError(path.Root(name), "Conflicting connection settings",
					name+" cannot be set with the gke block: the gke block connects to its cluster with the provider's Google credentials.")
			}
		}
		if config.Exec != nil {
			resp.Diagnostics.AddAttributeError(path.Root("exec"), "Conflicting connection settings",
				"exec cannot be set with the gke block: the gke block connects to its cluster with the provider's Google credentials.")
		}
		if config.GKE.Cluster.IsNull() {
			resp.Diagnostics.AddAttributeError(path.Root("gke").AtName("cluster"), "Missing cluster",
				"The gke block needs cluster: a name (with location) or projects/P/locations/L/clusters/C.")
		}
	}
	if g := config.Google; g != nil && set(g.AccessToken) && set(g.Credentials) {
		resp.Diagnostics.AddAttributeError(path.Root("google").AtName("access_token"), "Conflicting Google credentials",
			"Set google.access_token or google.credentials, not both.")
	}
	if g := config.Google; g != nil && g.ContainerInsecure.ValueBool() && set(g.ContainerEndpointCACert) {
		resp.Diagnostics.AddAttributeError(path.Root("google").AtName("container_custom_endpoint_insecure"), "Conflicting TLS settings",
			"container_custom_endpoint_insecure = true uses plaintext, so container_custom_endpoint_ca_certificate cannot be set with it.")
	}
	if config.Exec != nil && config.Exec.Command.IsNull() {
		resp.Diagnostics.AddAttributeError(path.Root("exec").AtName("command"), "Missing exec command",
			"The exec block needs the credential plugin's command.")
	}
	if config.Exec != nil && config.Exec.APIVersion.IsNull() {
		resp.Diagnostics.AddAttributeError(path.Root("exec").AtName("api_version"), "Missing exec API version",
			"The exec block needs api_version, such as client.authentication.k8s.io/v1.")
	}
}

func (p *kubeflowProvider) Configure(ctx context.Context, req provider.ConfigureRequest, resp *provider.ConfigureResponse) {
	var config providerModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &config)...)
	if resp.Diagnostics.HasError() {
		return
	}
	conn := newConnection(ctx, config)
	resp.ResourceData = conn
	resp.DataSourceData = conn
}

func (p *kubeflowProvider) Resources(context.Context) []func() resource.Resource {
	return []func() resource.Resource{
		NewProfileResource,
		NewCertManagerResource,
		NewIstioResource,
		NewDexResource,
		NewKnativeResource,
		func() resource.Resource { return NewRuntimeResource(p.version) },
		NewPipelineResource,
		NewRunResource,
		NewGKEClusterResource,
		NewGKENodePoolResource,
		NewMPIJobResource,
	}
}

func (p *kubeflowProvider) DataSources(context.Context) []func() datasource.DataSource {
	return []func() datasource.DataSource{
		NewProfileDataSource,
		NewPipelineDataSource,
		NewRunDataSource,
		NewGKEClusterDataSource,
		NewMPIJobDataSource,
	}
}
