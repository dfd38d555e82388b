# A GKE cluster for ML: a CPU pool for the platform, GPU pools and TPU
# slices from maps, then modules/platform on it, all in one apply. The
# cluster and pools use the default provider (Google side); the platform
# uses kubeflow.platform, whose gke block the caller points at cluster_id.

locals {
  tpu_hosts = {
    for name, s in var.tpu_slices : name => floor(
      (length(split("x", s.topology)) == 2
        ? tonumber(split("x", s.topology)[0]) * tonumber(split("x", s.topology)[1])
        : tonumber(split("x", s.topology)[0]) * tonumber(split("x", s.topology)[1]) * tonumber(split("x", s.topology)[2])
      ) / tonumber(regex("-([0-9]+)t$", s.machine_type)[0])
    )
  }
}

resource "kubeflow_gke_cluster" "this" {
  project             = var.project
  location            = var.location
  name                = var.name
  node_locations      = var.node_locations
  deletion_protection = var.deletion_protection

  release_channel {
    channel = var.release_channel
  }
  workload_identity_config {
    workload_pool = "${var.project}.svc.id.goog"
  }
  addons_config {
    gcs_fuse_csi_driver_config {
      enabled = true
    }
    gce_persistent_disk_csi_driver_config {
      enabled = true
    }
  }
}

resource "kubeflow_gke_node_pool" "cpu" {
  cluster     = kubeflow_gke_cluster.this.id
  name_prefix = "cpu"

  autoscaling {
    min_node_count = var.cpu_pool.min_node_count
    max_node_count = var.cpu_pool.max_node_count
  }
  node_config {
    machine_type = var.cpu_pool.machine_type
    spot         = var.cpu_pool.spot
    workload_metadata_config {
      mode = "GKE_METADATA"
    }
  }
  lifecycle {
    create_before_destroy = true
  }
}

resource "kubeflow_gke_node_pool" "gpu" {
  for_each = var.gpu_pools

  cluster        = kubeflow_gke_cluster.this.id
  name           = each.key
  node_count     = each.value.node_count
  node_locations = each.value.node_locations

  dynamic "autoscaling" {
    for_each = each.value.max_node_count == null ? [] : [each.value]
    content {
      min_node_count = coalesce(autoscaling.value.min_node_count, 0)
      max_node_count = autoscaling.value.max_node_count
    }
  }
  node_config {
    machine_type = each.value.machine_type
    spot         = each.value.spot
    labels       = each.value.labels
    workload_metadata_config {
      mode = "GKE_METADATA"
    }
    guest_accelerator {
      # null on G2, A2 and A3 machines: they come with their GPUs.
      type  = each.value.accelerator_type
      count = each.value.accelerator_count
      gpu_driver_installation_config {
        gpu_driver_version = each.value.gpu_driver_version
      }
    }
  }
}

resource "kubeflow_gke_node_pool" "tpu" {
  for_each = var.tpu_slices

  cluster        = kubeflow_gke_cluster.this.id
  name           = each.key
  node_count     = local.tpu_hosts[each.key]
  node_locations = [each.value.zone]

  node_config {
    machine_type = each.value.machine_type
    spot         = each.value.spot
    workload_metadata_config {
      mode = "GKE_METADATA"
    }
  }
  placement_policy {
    type         = "COMPACT"
    tpu_topology = each.value.topology
  }
}

module "platform" {
  source = "../platform"
  providers = {
    kubeflow = kubeflow.platform
  }

  dex               = var.dex
  teams             = var.teams
  versions          = var.versions
  mirror            = var.mirror
  knative           = var.knative
  runtime           = var.runtime
  istio_gateway     = var.istio_gateway
  wait_for_webhooks = var.wait_for_webhooks
  cluster_issuer    = var.cluster_issuer

  # The platform's Deployments need nodes to become available.
  depends_on = [kubeflow_gke_node_pool.cpu]
}
