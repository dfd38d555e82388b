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

# ...or through the gke block: a GKE cluster made by kubeflow_gke_cluster
# (possibly in the same apply), reached with the provider's Google
# credentials. The token is refreshed as it expires and never stored.
provider "kubeflow" {
  alias = "ml"
  google {
    project = "my-project"
    # credentials  = file("key.json")        # or access_token; default: Application Default Credentials
  }
  gke {
    cluster = kubeflow_gke_cluster.ml.id # or name + location
  }
}
