output "namespaces" {
  description = "Namespace of each team."
  value       = { for name, p in kubeflow_profile.team : name => p.id }
}

output "service_accounts" {
  description = "Service account that each team's pipelines run as, as namespace/name."
  value       = { for name, p in kubeflow_profile.team : name => "${p.id}/${p.service_account}" }
}
