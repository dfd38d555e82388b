output "namespaces" {
  description = "Namespace of each team."
  value       = { for name, p in kubeflow_profile.team : name => p.id }
}

output "service_accounts" {
  description = "Service account that each team's pipelines run as, as namespace/name."
  value       = { for name, p in kubeflow_profile.team : name => "${p.id}/${p.service_account}" }
}

output "schedules" {
  description = "Each schedule, as team/name: its id (namespace/name) and next fire times."
  value = {
    for key, s in kubeflow_schedule.team : key => { id = s.id, next_run_times = s.next_run_times }
  }
}
