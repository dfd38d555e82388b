# An experiment is imported by its namespace and name.
terraform import kubeflow_experiment.tuning team-vision/learning-rate
