# A cluster made elsewhere: its endpoint, CA and node pools.
data "kubeflow_gke_cluster" "ml" {
  name     = "ml"
  location = "us-central1"
}

output "node_pools" {
  value = data.kubeflow_gke_cluster.ml.node_pools
}
