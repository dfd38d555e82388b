# L4 GPUs: g2-standard-24 comes with 2 of them. Labels, taints, size,
# autoscaling, machine type and the driver version change in place.
resource "kubeflow_gke_node_pool" "gpu" {
  cluster     = kubeflow_gke_cluster.ml.id
  name_prefix = "gpu-l4" # a replacement gets a new name: create_before_destroy works

  autoscaling {
    min_node_count = 0
    max_node_count = 4
  }
  node_config {
    machine_type = "g2-standard-24"
    spot         = true
    labels       = { team = "vision" }
    taint {
      key    = "team"
      value  = "vision"
      effect = "NO_SCHEDULE"
    }
    guest_accelerator {
      type  = "nvidia-l4"
      count = 2
      gpu_driver_installation_config {
        gpu_driver_version = "LATEST"
      }
    }
    workload_metadata_config {
      mode = "GKE_METADATA"
    }
  }
  lifecycle {
    create_before_destroy = true
  }
}

# A TPU v5e slice of 4x4 chips: 4 hosts of ct5lp-hightpu-4t, in one zone.
resource "kubeflow_gke_node_pool" "tpu" {
  cluster        = kubeflow_gke_cluster.ml.id
  name           = "tpu-v5e-4x4"
  node_count     = 4
  node_locations = ["us-central1-a"]

  node_config {
    machine_type = "ct5lp-hightpu-4t"
  }
  placement_policy {
    type         = "COMPACT"
    tpu_topology = "4x4"
  }
}
