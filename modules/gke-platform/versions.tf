terraform {
  required_version = ">= 1.5"
  required_providers {
    kubeflow = {
      source = "kfstack/kubeflow"
      # kubeflow: Google side (the cluster and its node pools).
      # kubeflow.platform: the Kubernetes side, connected to the cluster by
      # its gke block (gke { cluster = module.<name>.cluster_id }).
      configuration_aliases = [kubeflow.platform]
    }
  }
}
