# Connect with a kubeconfig file...
provider "kubeflow" {
  config_path    = "~/.kube/config"
  config_context = "ml-platform"
}

# ...or with values from a cluster created in the same apply. While they are
# unknown, resources plan without contacting the cluster.
provider "kubeflow" {
  alias                  = "gke"
  host                   = "https://${google_container_cluster.ml.endpoint}"
  cluster_ca_certificate = base64decode(google_container_cluster.ml.master_auth[0].cluster_ca_certificate)
  exec {
    api_version = "client.authentication.k8s.io/v1beta1"
    command     = "gke-gcloud-auth-plugin"
  }
}
