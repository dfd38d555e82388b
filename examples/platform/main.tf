# The whole platform on an existing cluster: prerequisites, identity and
# team environments. On a cluster created in the same apply, set the
# provider's host, cluster_ca_certificate and exec from the cluster resource
# instead of config_path.
terraform {
  required_providers {
    kubeflow = {
      source = "kfstack/kubeflow"
    }
  }
}

variable "kubeconfig" {
  description = "Path of the cluster's kubeconfig."
  type        = string
}

variable "chart_repository" {
  description = "A chart repository mirror; null installs from the upstream repositories."
  type        = string
  default     = null
}

variable "knative_release_files" {
  description = "Mirrors of Knative's release files; null uses GitHub's."
  type        = object({ serving_url = string, net_istio_url = string })
  default     = null
}

variable "wait_for_webhooks" {
  description = "Wait for admission webhooks (off only under KWOK)."
  type        = bool
  default     = true
}

variable "admin_password_bcrypt" {
  description = "bcrypt hash of the admin user's password (htpasswd -nbBC 10 '' PASSWORD)."
  type        = string
  sensitive   = true
  default     = "$2y$10$2b2cU8CPhOTaGrs1HRQuAueS7JTT5ZHsHSzYiFPm1leZck7Mc8T4W"
}

provider "kubeflow" {
  config_path = var.kubeconfig
}

module "platform" {
  source = "../../modules/platform"

  mirror = {
    chart_repository = var.chart_repository
    knative          = var.knative_release_files == null ? {} : var.knative_release_files
  }
  wait_for_webhooks = var.wait_for_webhooks

  dex = {
    issuer = "https://kubeflow.example.com/dex"
    static_passwords = [{
      email    = "admin@example.com"
      username = "admin"
      user_id  = "admin"
      hash     = var.admin_password_bcrypt
    }]
  }

  knative = { domain = "models.example.com" }

  teams = {
    vision = { owner = "alice@example.com", gpu = 8 }
    speech = { owner = "carol@example.com", tpu = 4 }
  }
}

output "namespaces" {
  value = module.platform.namespaces
}
