data "kubeflow_profile" "vision" {
  name = "team-vision"
}

output "vision_gpu_quota" {
  value = data.kubeflow_profile.vision.resource_quota.gpu
}
