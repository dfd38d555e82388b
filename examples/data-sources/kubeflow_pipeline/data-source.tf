data "kubeflow_pipeline" "train" {
  name      = "train"
  namespace = "team-vision"
}

output "train_versions" {
  value = data.kubeflow_pipeline.train.versions
}
