data "kubeflow_run" "nightly" {
  name      = "report-2026-11-28"
  namespace = "team-vision"
}

output "nightly_phase" {
  value = data.kubeflow_run.nightly.phase
}
