package provider

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/hashicorp/terraform-plugin-framework-validators/listvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/kfstack/terraform-provider-kubeflow/bootstrap"
	"github.com/kfstack/terraform-provider-kubeflow/bootstrap/dex"
)

// dexModel is a kubeflow_dex.
type dexModel struct {
	componentModel
	thirdPartyModel
	helmModel
	Issuer          types.String        `tfsdk:"issuer"`
	StaticClients   []dexClientModel    `tfsdk:"static_clients"`
	StaticPasswords []dexPasswordModel  `tfsdk:"static_passwords"`
	Connectors      []dexConnectorModel `tfsdk:"connectors"`
}

type dexClientModel struct {
	ID           types.String   `tfsdk:"id"`
	Name         types.String   `tfsdk:"name"`
	Secret       types.String   `tfsdk:"secret"`
	RedirectURIs []types.String `tfsdk:"redirect_uris"`
}

type dexPasswordModel struct {
	Email    types.String `tfsdk:"email"`
	Username types.String `tfsdk:"username"`
	UserID   types.String `tfsdk:"user_id"`
	Hash     types.String `tfsdk:"hash"`
}

type dexConnectorModel struct {
	Type   types.String `tfsdk:"type"`
	ID     types.String `tfsdk:"id"`
	Name   types.String `tfsdk:"name"`
	Config types.String `tfsdk:"config"`
}

// bcryptValidator rejects a static password that is not a bcrypt hash, at
// plan time, so a plain-text password never reaches the cluster.
type bcryptValidator struct{}

func (bcryptValidator) Description(context.Context) string { return "must be a bcrypt hash" }

func (v bcryptValidator) MarkdownDescription(ctx context.Context) string { return v.Description(ctx) }

func (bcryptValidator) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	if err := dex.CheckBcrypt(req.ConfigValue.ValueString()); err != nil {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid password hash", fmt.Sprintf("%s: %v", req.Path, err))
	}
}

// jsonObjectValidator accepts a JSON object, such as jsonencode({...}).
type jsonObjectValidator struct{}

func (jsonObjectValidator) Description(context.Context) string { return "must be a JSON object" }

func (v jsonObjectValidator) MarkdownDescription(ctx context.Context) string {
	return v.Description(ctx)
}

func (jsonObjectValidator) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	var object map[string]any
	if err := json.Unmarshal([]byte(req.ConfigValue.ValueString()), &object); err != nil {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid connector configuration", fmt.Sprintf("%s: must be a JSON object, such as jsonencode({ clientID = ... })", req.Path))
	}
}

var dexKind = componentKind[dexModel, *dexModel]{
	typeName: "_dex",
	title:    "Dex",
	description: "Installs [Dex](https://dexidp.io), the platform's OpenID Connect identity provider, from its Helm chart " +
		"(`version` is the chart's; the default installs Dex 2.44.0). Its configuration is rendered from typed attributes: " +
		"issuer, static clients, static users (bcrypt hashes) and connectors (OIDC, GitHub, LDAP, ...), with Kubernetes storage.",
	defaultVersion:   dex.DefaultVersion,
	defaultNamespace: dex.DefaultNamespace,
	extra: withHelm(map[string]schema.Attribute{
		"issuer": schema.StringAttribute{
			Required:            true,
			MarkdownDescription: "URL Dex serves its OpenID configuration under, such as `https://kubeflow.example.com/dex`.",
			Validators:          []validator.String{stringvalidator.RegexMatches(httpURL, "must be an http(s) URL")},
		},
		"static_clients": schema.ListNestedAttribute{
			Optional:            true,
			MarkdownDescription: "OAuth2 clients, such as the platform's oauth2-proxy.",
			NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
				"id":     schema.StringAttribute{Required: true, MarkdownDescription: "Client ID."},
				"name":   schema.StringAttribute{Required: true, MarkdownDescription: "Display name."},
				"secret": schema.StringAttribute{Required: true, Sensitive: true, MarkdownDescription: "Client secret."},
				"redirect_uris": schema.ListAttribute{
					Required: true, ElementType: types.StringType, MarkdownDescription: "Allowed redirect URIs.",
					Validators: []validator.List{listvalidator.ValueStringsAre(stringvalidator.RegexMatches(httpURL, "must be an http(s) URL"))},
				},
			}},
		},
		"static_passwords": schema.ListNestedAttribute{
			Optional:            true,
			MarkdownDescription: "Users of Dex's own password database; turns it on.",
			NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
				"email":    schema.StringAttribute{Required: true, MarkdownDescription: "The user's email, their login."},
				"username": schema.StringAttribute{Required: true, MarkdownDescription: "Display name."},
				"user_id":  schema.StringAttribute{Required: true, MarkdownDescription: "Stable user ID."},
				"hash": schema.StringAttribute{
					Required: true, Sensitive: true, Validators: []validator.String{bcryptValidator{}},
					MarkdownDescription: "bcrypt hash of the password, made once with `htpasswd -nbBC 10 '' PASSWORD` (Terraform's `bcrypt()` returns a new hash on every plan).",
				},
			}},
		},
		"connectors": schema.ListNestedAttribute{
			Optional:            true,
			MarkdownDescription: "Upstream identity providers.",
			NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
				"type": schema.StringAttribute{
					Required: true, MarkdownDescription: "Connector type: `oidc`, `github`, `ldap`, `saml`, `google`, ...",
					Validators: []validator.String{stringvalidator.OneOf(dex.ConnectorTypes...)},
				},
				"id":   schema.StringAttribute{Required: true, MarkdownDescription: "Connector ID."},
				"name": schema.StringAttribute{Required: true, MarkdownDescription: "Display name."},
				"config": schema.StringAttribute{
					Required: true, Sensitive: true, Validators: []validator.String{jsonObjectValidator{}},
					MarkdownDescription: "The connector's configuration as JSON, such as `jsonencode({ clientID = ..., clientSecret = ... })`.",
				},
			}},
		},
	}),
	build: func(m *dexModel) (*bootstrap.Component, error) {
		source, values, err := m.options()
		if err != nil {
			return nil, err
		}
		o := dex.Options{
			Version: m.Version.ValueString(), Namespace: m.Namespace.ValueString(), Source: source,
			ImageRegistry: m.ImageRegistry.ValueString(), Issuer: m.Issuer.ValueString(), Values: values,
			WaitForWebhooks: m.WaitForWebhooks.ValueBool(),
		}
		for _, c := range m.StaticClients {
			client := dex.Client{ID: c.ID.ValueString(), Name: c.Name.ValueString(), Secret: c.Secret.ValueString()}
			for _, u := range c.RedirectURIs {
				client.RedirectURIs = append(client.RedirectURIs, u.ValueString())
			}
			o.StaticClients = append(o.StaticClients, client)
		}
		for _, p := range m.StaticPasswords {
			o.StaticPasswords = append(o.StaticPasswords, dex.Password{Email: p.Email.ValueString(), Username: p.Username.ValueString(), UserID: p.UserID.ValueString(), Hash: p.Hash.ValueString()})
		}
		for _, c := range m.Connectors {
			o.Connectors = append(o.Connectors, dex.Connector{Type: c.Type.ValueString(), ID: c.ID.ValueString(), Name: c.Name.ValueString(), Config: c.Config.ValueString()})
		}
		return dex.Component(o)
	},
}

// NewDexResource returns the kubeflow_dex resource.
func NewDexResource() resource.Resource {
	return &componentResource[dexModel, *dexModel]{kind: dexKind}
}
