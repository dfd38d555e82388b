resource "kubeflow_profile" "vision" {
  name  = "team-vision"
  owner = { name = "alice@example.com" }

  contributors = [
    { name = "bob@example.com" }, # edit
    { name = "ml-auditors", kind = "group", role = "view" },
  ]

  resource_quota = {
    cpu    = "64"
    memory = "256Gi"
    gpu    = 8 # requests.nvidia.com/gpu
    pods   = 200
  }

  default_limits = {
    cpu            = "2"
    memory         = "8Gi"
    request_cpu    = "500m"
    request_memory = "1Gi"
  }

  labels                = { cost-center = "research" }
  istio_injection       = true
  workload_identity_gsa = "vision-pipelines@my-project.iam.gserviceaccount.com"

  # Runs use the pipeline-runner service account unless they name one of
  # these (which the platform team creates); any other is refused.
  run_service_accounts = ["vision-exporter"]

  timeouts {
    delete = "15m"
  }
}
