# The whole platform: cert-manager and Istio side by side, Dex and Knative
# once Istio is ready, the kfstack runtime (pipelines) after cert-manager,
# and the teams' profiles once Istio's policy API is there.

resource "kubeflow_cert_manager" "this" {
  version           = var.versions.cert_manager
  repository        = var.mirror.chart_repository
  image_registry    = var.mirror.image_registry
  wait_for_webhooks = var.wait_for_webhooks
  cluster_issuer    = var.cluster_issuer
}

# The runtime has no admission webhook and needs no certificate today; it
# comes after cert-manager so that the prerequisites are in place first
# and a failed cert-manager install stops the apply before it.
resource "kubeflow_runtime" "this" {
  version        = var.versions.runtime
  image_registry = var.mirror.runtime_registry
  replicas       = var.runtime.replicas
  pipeline_root  = var.runtime.pipeline_root
  node_selector  = var.runtime.node_selector
  tolerations    = var.runtime.tolerations

  depends_on = [kubeflow_cert_manager.this]
}

resource "kubeflow_istio" "this" {
  version           = var.versions.istio
  gateway           = var.istio_gateway
  repository        = var.mirror.chart_repository
  image_registry    = var.mirror.image_registry
  wait_for_webhooks = var.wait_for_webhooks
}

resource "kubeflow_dex" "this" {
  version           = var.versions.dex
  repository        = var.mirror.chart_repository
  image_registry    = var.mirror.image_registry
  wait_for_webhooks = var.wait_for_webhooks

  issuer           = var.dex.issuer
  static_clients   = var.dex.static_clients
  static_passwords = var.dex.static_passwords
  connectors       = var.dex.connectors

  depends_on = [kubeflow_istio.this]
}

resource "kubeflow_knative" "this" {
  count = var.knative.enabled ? 1 : 0

  version           = var.versions.knative
  serving_url       = var.mirror.knative.serving_url
  net_istio_url     = var.mirror.knative.net_istio_url
  eventing_url      = var.mirror.knative.eventing_url
  domain            = var.knative.domain
  eventing          = var.knative.eventing
  image_registry    = var.mirror.image_registry
  wait_for_webhooks = var.wait_for_webhooks

  depends_on = [kubeflow_istio.this]
}

module "teams" {
  source = "../profiles"

  teams           = var.teams
  istio_injection = true

  depends_on = [kubeflow_istio.this]
}
