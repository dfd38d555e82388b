resource "kubeflow_runtime" "this" {
  # The runtime of the provider's own version by default; pin it to roll
  # the controller to another release.
  # version = "0.3.0"

  namespace     = "kfstack-system"
  replicas      = 2 # one leads, one stands by
  pipeline_root = "gs://ml-artifacts/pipelines"

  # Keep the controller on the system pool.
  node_selector = { "cloud.google.com/gke-nodepool" = "system" }
  tolerations   = [{ key = "dedicated", operator = "Equal", value = "system", effect = "NoSchedule" }]

  resources = {
    requests = { cpu = "200m", memory = "256Mi" }
    limits   = { memory = "1Gi" }
  }

  # Air-gapped: the runtime image from a mirror of ghcr.io/kfstack.
  # image_registry = "registry.example.com/kfstack"

  # Validating admission webhooks: kubectl apply of a pipeline that does
  # not compile, or of a changed run, is refused naming the field. The
  # webhook's certificate comes from cert-manager, so install it first.
  # webhooks   = true
  # depends_on = [kubeflow_cert_manager.this]
}

# Pipelines and runs need the runtime's CRDs and controller.
resource "kubeflow_pipeline" "train" {
  name      = "train"
  namespace = "team-vision"
  spec      = file("${path.module}/train.yaml")

  depends_on = [kubeflow_runtime.this]
}
