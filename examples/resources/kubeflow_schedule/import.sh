# A schedule is imported by its namespace and name.
terraform import kubeflow_schedule.nightly team-vision/nightly-training
