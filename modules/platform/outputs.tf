output "components" {
  description = "What was installed: each component's releases and readiness."
  value = {
    cert_manager = { ready = kubeflow_cert_manager.this.ready, releases = kubeflow_cert_manager.this.releases }
    istio        = { ready = kubeflow_istio.this.ready, releases = kubeflow_istio.this.releases }
    dex          = { ready = kubeflow_dex.this.ready, releases = kubeflow_dex.this.releases }
    knative      = [for k in kubeflow_knative.this : { ready = k.ready }]
    runtime      = { ready = kubeflow_runtime.this.ready, version = kubeflow_runtime.this.version, crds = kubeflow_runtime.this.crds }
  }
}

output "namespaces" {
  description = "Namespace of each team."
  value       = module.teams.namespaces
}
