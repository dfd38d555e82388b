data "kubeflow_schedule" "nightly" {
  name      = "nightly-training"
  namespace = "team-vision"
}

output "nightly" {
  value = {
    ready     = data.kubeflow_schedule.nightly.ready
    next      = data.kubeflow_schedule.nightly.next_run_times
    last      = data.kubeflow_schedule.nightly.last_run_time
    succeeded = data.kubeflow_schedule.nightly.succeeded_runs
    failed    = data.kubeflow_schedule.nightly.failed_runs
  }
}
