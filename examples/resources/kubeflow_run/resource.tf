resource "kubeflow_run" "nightly" {
  name            = "report-2026-11-28"
  namespace       = "team-vision"
  pipeline        = kubeflow_pipeline.report.name
  parameters      = { rows = "5000" }
  service_account = "pipeline-runner" # the profile's default; others must be in its run_service_accounts

  # The warehouse password comes from a Secret of the namespace: neither
  # Terraform, the run object nor the controller ever holds it.
  parameters_from_secret = {
    warehouse_password = { name = "warehouse", key = "password" }
  }
  # Hidden in plans, but stored in the run's spec (readable by viewers).
  sensitive_parameters = { report_title = var.report_title }
  pipeline_root        = "gs://team-vision-artifacts/pipelines"

  timeouts = {
    create = "3h"
  }
}

output "sampled_rows" {
  value = jsondecode(kubeflow_run.nightly.outputs["count"])
}

variable "report_title" {
  type      = string
  sensitive = true
}
