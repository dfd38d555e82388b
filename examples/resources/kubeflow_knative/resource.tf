resource "kubeflow_knative" "this" {
  version  = "1.21.1"
  domain   = "models.example.com"
  eventing = false

  # Air-gapped: release files and images from mirrors.
  # serving_url    = "https://mirror.example.com/knative/serving-core.yaml"
  # net_istio_url  = "https://mirror.example.com/knative/net-istio.yaml"
  # image_registry = "registry.example.com/knative"

  depends_on = [kubeflow_istio.this]
}
