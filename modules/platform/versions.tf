terraform {
  required_version = ">= 1.5"
  required_providers {
    kubeflow = {
      source = "kfstack/kubeflow"
    }
  }
}
