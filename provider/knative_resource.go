package provider

import (
	"fmt"

	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/booldefault"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/kfstack/terraform-provider-kubeflow/bootstrap"
	"github.com/kfstack/terraform-provider-kubeflow/bootstrap/knative"
)

// knativeModel is a kubeflow_knative.
type knativeModel struct {
	componentModel
	thirdPartyModel
	Eventing    types.Bool   `tfsdk:"eventing"`
	Domain      types.String `tfsdk:"domain"`
	ServingURL  types.String `tfsdk:"serving_url"`
	NetIstioURL types.String `tfsdk:"net_istio_url"`
	EventingURL types.String `tfsdk:"eventing_url"`
}

func manifestURLAttribute(what string) schema.StringAttribute {
	return schema.StringAttribute{
		Optional:            true,
		MarkdownDescription: "URL (or local path) of " + what + ", instead of the upstream GitHub release: a mirror for air-gapped clusters.",
	}
}

var knativeKind = componentKind[knativeModel, *knativeModel]{
	typeName: "_knative",
	title:    "Knative",
	description: "Installs [Knative](https://knative.dev) Serving core with the net-istio networking layer, and optionally " +
		"Eventing core, from their release YAML: built with kustomize in the provider (domain and ingress settings, " +
		"image mirror) and applied server-side. An inventory of what was applied lets later applies patch only what " +
		"changed or was deleted, and uninstall remove exactly what was installed. `namespace` is `knative-serving`.",
	defaultVersion:   knative.DefaultVersion,
	defaultNamespace: knative.DefaultNamespace,
	extra: withAttributes(thirdPartyAttributes(), map[string]schema.Attribute{
		"eventing": schema.BoolAttribute{
			Optional: true, Computed: true, Default: booldefault.StaticBool(false),
			MarkdownDescription: "Install Knative Eventing core too.",
		},
		"domain": schema.StringAttribute{
			Optional:            true,
			MarkdownDescription: "Domain that Knative Services are served under (the `config-domain` ConfigMap).",
			Validators:          []validator.String{stringvalidator.RegexMatches(dnsName, "must be a DNS name such as kubeflow.example.com")},
		},
		"serving_url":   manifestURLAttribute("Serving core's release file (`serving-core.yaml`)"),
		"net_istio_url": manifestURLAttribute("net-istio's release file (`net-istio.yaml`)"),
		"eventing_url":  manifestURLAttribute("Eventing core's release file (`eventing-core.yaml`)"),
	}),
	build: func(m *knativeModel) (*bootstrap.Component, error) {
		if ns := m.Namespace.ValueString(); ns != knative.DefaultNamespace {
			return nil, fmt.Errorf("namespace: Knative's release YAML installs into %s, not %s", knative.DefaultNamespace, ns)
		}
		return knative.Component(knative.Options{
			Version: m.Version.ValueString(), ServingURL: m.ServingURL.ValueString(), NetIstioURL: m.NetIstioURL.ValueString(),
			EventingURL: m.EventingURL.ValueString(), Eventing: m.Eventing.ValueBool(), Domain: m.Domain.ValueString(),
			ImageRegistry: m.ImageRegistry.ValueString(), WaitForWebhooks: m.WaitForWebhooks.ValueBool(),
		})
	},
}

// NewKnativeResource returns the kubeflow_knative resource.
func NewKnativeResource() resource.Resource {
	return &componentResource[knativeModel, *knativeModel]{kind: knativeKind}
}
