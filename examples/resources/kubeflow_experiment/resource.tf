resource "kubeflow_experiment" "tuning" {
  name        = "learning-rate"
  namespace   = "team-vision"
  description = "Learning rates from 1e-4 to 1e-1 on the November data"
  # archived    = true # hide it in the UI and refuse new runs in it
  # force_destroy = true # destroy deletes its runs too
}

resource "kubeflow_run" "lr" {
  for_each   = toset(["0.0001", "0.001", "0.01", "0.1"])
  name       = "lr-${replace(each.key, ".", "-")}"
  namespace  = "team-vision"
  pipeline   = kubeflow_pipeline.train.name
  experiment = kubeflow_experiment.tuning.name
  parameters = { learning_rate = each.key }
}
