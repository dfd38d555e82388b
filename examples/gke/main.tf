# From nothing, one apply: a GKE cluster, a CPU pool, GPU pools and a TPU
# slice, then the platform (cert-manager, Istio, Dex, Knative, the
# pipeline runtime) and the teams on it.
#
#   terraform apply -var project=my-project
#
# Two configurations of the provider: the default one creates the cluster
# and its pools with Google credentials; "platform" connects to that
# cluster through its gke block (endpoint and CA from the GKE API, a Google
# token refreshed as it expires, nothing stored in state). Terraform
# configures "platform" only once the cluster exists.
#
# make demo-gke applies this folder against a fake GKE API backed by the
# local control plane (the container_endpoint variables below): for tests
# and the demo only.
terraform {
  required_providers {
    kubeflow = {
      source = "kfstack/kubeflow"
    }
  }
}

variable "project" {
  description = "Google Cloud project."
  type        = string
}

variable "location" {
  description = "Region or zone of the cluster."
  type        = string
  default     = "us-central1"
}

variable "access_token" {
  description = "A Google access token; null uses Application Default Credentials (gcloud auth application-default login)."
  type        = string
  default     = null
  sensitive   = true
}

variable "gpu_pools" {
  description = "GPU pools (see modules/gke-platform)."
  type        = any
  default = {
    gpu-l4 = { machine_type = "g2-standard-24", min_node_count = 0, max_node_count = 2 }
  }
}

variable "tpu_slices" {
  description = "TPU slices (see modules/gke-platform)."
  type        = any
  default = {
    tpu-v5e = { machine_type = "ct5lp-hightpu-4t", topology = "2x4", zone = "us-central1-a" }
  }
}

variable "deletion_protection" {
  description = "Refuse to destroy the cluster."
  type        = bool
  default     = true
}

variable "mirror" {
  description = "Chart repository and Knative release file mirrors (see modules/platform); the demo serves them locally."
  type        = any
  default     = {}
}

variable "wait_for_webhooks" {
  description = "Wait for admission webhooks (off only on simulated nodes)."
  type        = bool
  default     = true
}

variable "istio_gateway" {
  description = "Install Istio's ingress gateway (its pods need istiod's injection webhook: off on simulated nodes)."
  type        = bool
  default     = true
}

variable "cluster_issuer" {
  description = "cert-manager's self-signed ClusterIssuer; \"\" for none (no webhook admits it on simulated nodes)."
  type        = string
  default     = "kfstack-selfsigned"
}

variable "runtime" {
  description = "The runtime's controller (see modules/platform)."
  type        = any
  default     = {}
}

# For tests and the demo only: a GKE API other than container.googleapis.com.
variable "container_endpoint" {
  description = "TEST ONLY: host:port of a fake GKE API."
  type        = string
  default     = null
}

variable "container_endpoint_ca_certificate" {
  description = "TEST ONLY: PEM of the CA of the fake GKE API's certificate."
  type        = string
  default     = null
}

provider "kubeflow" {
  google {
    project                                  = var.project
    access_token                             = var.access_token
    container_custom_endpoint                = var.container_endpoint
    container_custom_endpoint_ca_certificate = var.container_endpoint_ca_certificate
  }
}

provider "kubeflow" {
  alias = "platform"
  google {
    project                                  = var.project
    access_token                             = var.access_token
    container_custom_endpoint                = var.container_endpoint
    container_custom_endpoint_ca_certificate = var.container_endpoint_ca_certificate
  }
  gke {
    cluster = module.gke.cluster_id
  }
}

module "gke" {
  source = "../../modules/gke-platform"
  providers = {
    kubeflow          = kubeflow
    kubeflow.platform = kubeflow.platform
  }

  project             = var.project
  location            = var.location
  name                = "kubeflow"
  deletion_protection = var.deletion_protection
  gpu_pools           = var.gpu_pools
  tpu_slices          = var.tpu_slices
  mirror              = var.mirror
  wait_for_webhooks   = var.wait_for_webhooks
  runtime             = var.runtime
  istio_gateway       = var.istio_gateway
  cluster_issuer      = var.cluster_issuer

  dex = {
    issuer = "https://kubeflow.example.com/dex"
    static_passwords = [{
      email    = "admin@example.com"
      username = "admin"
      user_id  = "admin"
      hash     = "$2y$10$2b2cU8CPhOTaGrs1HRQuAueS7JTT5ZHsHSzYiFPm1leZck7Mc8T4W"
    }]
  }

  teams = {
    vision = { owner = "alice@example.com", gpu = 4 }
    speech = { owner = "carol@example.com", tpu = 8 }
  }
}

output "pools" {
  value = module.gke.pools
}

output "namespaces" {
  value = module.gke.namespaces
}
