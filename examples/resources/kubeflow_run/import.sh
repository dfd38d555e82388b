# A run is imported by its namespace and name.
terraform import kubeflow_run.nightly team-vision/report-2026-11-28
