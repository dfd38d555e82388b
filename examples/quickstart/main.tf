# The quickstart: team environments on the local cluster that
# `make demo` starts (or on any cluster: set kubeconfig).
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

provider "kubeflow" {
  config_path = var.kubeconfig
}

# Two teams from the profiles module: one on GPUs, one on TPUs.
module "teams" {
  source = "../../modules/profiles"

  teams = {
    vision = {
      owner        = "alice@example.com"
      contributors = [{ name = "bob@example.com" }, { name = "ml-auditors", kind = "group", role = "view" }]
      cpu          = "64"
      memory       = "256Gi"
      gpu          = 8
    }
    language = {
      owner  = "carol@example.com"
      cpu    = "96"
      memory = "384Gi"
      tpu    = 4
    }
  }

  default_limits = {
    cpu            = "2"
    memory         = "8Gi"
    request_cpu    = "250m"
    request_memory = "512Mi"
  }
}

# A profile written out in full.
resource "kubeflow_profile" "platform" {
  name  = "platform-sandbox"
  owner = { name = "platform-admins", kind = "group" }

  resource_quota = {
    cpu  = "8"
    gpu  = 1
    pods = 50
  }
}

output "namespaces" {
  value = merge(module.teams.namespaces, { platform = kubeflow_profile.platform.id })
}

output "pipeline_service_accounts" {
  value = module.teams.service_accounts
}
