resource "kubeflow_run" "nightly" {
  name            = "report-2026-11-28"
  namespace       = "team-vision"
  pipeline        = kubeflow_pipeline.report.name
  experiment      = "nightly-reports" # "default" when unset
  parameters      = { rows = "5000" }
  service_account = "pipeline-runner"
  pipeline_root   = "gs://team-vision-artifacts/pipelines"

  timeouts = {
    create = "3h"
  }
}

output "sampled_rows" {
  value = jsondecode(kubeflow_run.nightly.outputs["count"])
}
