resource "kubeflow_istio" "this" {
  version = "1.29.6"
  gateway = true

  values = yamlencode({
    pilot = { autoscaleEnabled = false }
  })
}

# Profiles get an AuthorizationPolicy once Istio's CRDs exist.
resource "kubeflow_profile" "vision" {
  name            = "team-vision"
  owner           = { name = "alice@example.com" }
  istio_injection = true

  depends_on = [kubeflow_istio.this]
}
