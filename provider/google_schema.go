package provider

import "github.com/hashicorp/terraform-plugin-framework/provider/schema"

func googleBlock() schema.SingleNestedBlock {
	return schema.SingleNestedBlock{
		MarkdownDescription: "Google credentials and project of the `kubeflow_gke_*` resources and of the `gke` block. Without " +
			"`credentials` or `access_token`, Application Default Credentials are used (`gcloud auth application-default login`, " +
			"`GOOGLE_APPLICATION_CREDENTIALS`, or the metadata server on Google Cloud). Tokens are refreshed before they expire; " +
			"none is logged or stored in state.",
		Attributes: map[string]schema.Attribute{
			"project": schema.StringAttribute{
				Optional:            true,
				MarkdownDescription: "Default project of GKE resources. Environment: `GOOGLE_PROJECT`, `GOOGLE_CLOUD_PROJECT`.",
			},
			"credentials": schema.StringAttribute{
				Optional:  true,
				Sensitive: true,
				MarkdownDescription: "A service account key or another Google credentials JSON file: its content or its path. " +
					"Environment: `GOOGLE_CREDENTIALS`.",
			},
			"access_token": schema.StringAttribute{
				Optional:  true,
				Sensitive: true,
				MarkdownDescription: "An OAuth 2 access token, used as given until it expires (not refreshed). " +
					"Environment: `GOOGLE_OAUTH_ACCESS_TOKEN`.",
			},
			"container_custom_endpoint": schema.StringAttribute{
				Optional: true,
				MarkdownDescription: "**For tests and the demo only.** `host:port` of a GKE API to use instead of " +
					"`container.googleapis.com`, such as the fake GKE API of `make demo-gke`. Environment: `GOOGLE_CONTAINER_CUSTOM_ENDPOINT`.",
			},
			"container_custom_endpoint_ca_certificate": schema.StringAttribute{
				Optional:            true,
				MarkdownDescription: "**For tests and the demo only.** PEM of the CA that signed the custom endpoint's certificate.",
			},
			"container_custom_endpoint_insecure": schema.BoolAttribute{
				Optional: true,
				MarkdownDescription: "**For tests and the demo only.** Talk to the custom endpoint in plaintext (the token is then " +
					"sent unencrypted: loopback only). Environment: `GOOGLE_CONTAINER_CUSTOM_ENDPOINT_INSECURE`.",
			},
		},
	}
}

func gkeBlock() schema.SingleNestedBlock {
	return schema.SingleNestedBlock{
		MarkdownDescription: "Connect to a GKE cluster with the provider's Google credentials, instead of `host`, `config_path` " +
			"or `exec`. The cluster may be created in the same apply: reference it (`cluster = kubeflow_gke_cluster.this.id`) " +
			"in a second provider configuration, whose resources then wait for it. Its endpoint and CA are read from the GKE " +
			"API when the provider first needs the cluster, and requests carry a Google access token, refreshed as it expires.",
		Attributes: map[string]schema.Attribute{
			"project": schema.StringAttribute{
				Optional:            true,
				MarkdownDescription: "The cluster's project; `google.project` when unset.",
			},
			"location": schema.StringAttribute{
				Optional:            true,
				MarkdownDescription: "The cluster's region or zone; needed unless `cluster` is an id.",
			},
			"cluster": schema.StringAttribute{
				Optional:            true,
				MarkdownDescription: "The cluster: its name, or its id `projects/P/locations/L/clusters/C`. Required when the block is set.",
			},
		},
	}
}
