provider "kubeflow" {
  google {
    project = "my-project" # credentials: Application Default Credentials
  }
}

resource "kubeflow_gke_cluster" "ml" {
  name     = "ml"
  location = "us-central1"

  release_channel {
    channel = "REGULAR"
  }
  workload_identity_config {
    workload_pool = "my-project.svc.id.goog"
  }
  addons_config {
    gcs_fuse_csi_driver_config {
      enabled = true
    }
  }
  resource_labels = { team = "ml-platform" }
  # deletion_protection = true (default): set false and apply before destroy
}

# The platform on the new cluster, in the same apply: a second provider
# configuration connected through the gke block.
provider "kubeflow" {
  alias = "ml"
  google {
    project = "my-project"
  }
  gke {
    cluster = kubeflow_gke_cluster.ml.id
  }
}

resource "kubeflow_profile" "vision" {
  provider       = kubeflow.ml
  name           = "team-vision"
  owner          = { name = "alice@example.com" }
  resource_quota = { gpu = 8, tpu = 8 }
}
