variable "project" {
  description = "Google Cloud project of the cluster."
  type        = string
  validation {
    condition     = can(regex("^[a-z][-a-z0-9]{4,28}[a-z0-9]$", var.project))
    error_message = "project must be a project ID: 6 to 30 lower-case letters, digits and hyphens, starting with a letter."
  }
}

variable "location" {
  description = "Region (regional cluster, nodes in three zones) or zone of the cluster, such as us-central1 or us-central1-a."
  type        = string
  validation {
    condition     = can(regex("^[a-z]+-[a-z]+[0-9]+(-[a-z])?$", var.location))
    error_message = "location must be a region such as us-central1 or a zone such as us-central1-a."
  }
}

variable "name" {
  description = "Name of the cluster."
  type        = string
  default     = "kubeflow"
  validation {
    condition     = can(regex("^[a-z]([-a-z0-9]{0,38}[a-z0-9])?$", var.name))
    error_message = "name must be lower-case letters, digits and hyphens, start with a letter, at most 40 characters."
  }
}

variable "release_channel" {
  description = "GKE release channel."
  type        = string
  default     = "REGULAR"
  validation {
    condition     = contains(["RAPID", "REGULAR", "STABLE", "EXTENDED"], var.release_channel)
    error_message = "release_channel must be RAPID, REGULAR, STABLE or EXTENDED."
  }
}

variable "node_locations" {
  description = "Zones of the nodes; null: GKE's choice for a region, the zone itself for a zonal cluster."
  type        = list(string)
  default     = null
}

variable "deletion_protection" {
  description = "Refuse to destroy the cluster; set false (and apply) before destroy."
  type        = bool
  default     = true
}

variable "cpu_pool" {
  description = "The CPU pool that runs the platform (Istio, cert-manager, Dex, Knative, the runtime) and CPU tasks; autoscaled per zone."
  type = object({
    machine_type   = optional(string, "e2-standard-8")
    min_node_count = optional(number, 1)
    max_node_count = optional(number, 3)
    spot           = optional(bool, false)
  })
  default = {}
  validation {
    condition     = var.cpu_pool.min_node_count >= 1 && var.cpu_pool.max_node_count >= var.cpu_pool.min_node_count
    error_message = "cpu_pool needs min_node_count >= 1 (the platform runs there) and max_node_count >= min_node_count."
  }
}

variable "gpu_pools" {
  description = <<-EOT
    GPU node pools by name. machine_type decides the GPU on G2 (L4), A2 (A100) and A3 (H100) machines;
    on N1 set accelerator_type and accelerator_count. Set node_count, or min/max_node_count to autoscale
    (from 0: GPU nodes are made when a task asks for them). Nodes carry GKE's labels and the nvidia.com/gpu
    taint, which the runtime's GPU tasks tolerate.
  EOT
  type = map(object({
    machine_type       = string
    accelerator_type   = optional(string)
    accelerator_count  = optional(number)
    node_count         = optional(number)
    min_node_count     = optional(number)
    max_node_count     = optional(number)
    spot               = optional(bool, false)
    gpu_driver_version = optional(string, "LATEST")
    node_locations     = optional(list(string))
    labels             = optional(map(string), {})
  }))
  default = {}
  validation {
    condition     = alltrue([for name, p in var.gpu_pools : can(regex("^[a-z]([-a-z0-9]{0,38}[a-z0-9])?$", name))])
    error_message = "gpu_pools keys are pool names: lower-case letters, digits and hyphens, at most 40 characters."
  }
  validation {
    condition     = alltrue([for p in var.gpu_pools : (p.node_count == null) != (p.max_node_count == null)])
    error_message = "Each GPU pool sets node_count or max_node_count (autoscaling), exactly one."
  }
  validation {
    condition     = alltrue([for p in var.gpu_pools : (p.accelerator_type == null) == (p.accelerator_count == null)])
    error_message = "accelerator_type and accelerator_count go together (N1 machines); G2, A2 and A3 machines come with their GPUs."
  }
  validation {
    condition     = alltrue([for p in var.gpu_pools : contains(["DEFAULT", "LATEST", "INSTALLATION_DISABLED"], p.gpu_driver_version)])
    error_message = "gpu_driver_version must be DEFAULT, LATEST or INSTALLATION_DISABLED."
  }
}

variable "tpu_slices" {
  description = <<-EOT
    TPU slices by name, one node pool each: machine_type (ct5lp-hightpu-1t/4t/8t for v5e, ct5p-hightpu-4t for v5p,
    ct6e-standard-1t/4t/8t for v6e) and topology (2x2, 4x4, 2x2x2, ...). A slice of several hosts lives in one
    zone (zone) and has chips / chips-per-host nodes; the provider checks the shape at plan time.
  EOT
  type = map(object({
    machine_type = string
    topology     = string
    zone         = string
    spot         = optional(bool, false)
  }))
  default = {}
  validation {
    condition     = alltrue([for name, s in var.tpu_slices : can(regex("^[a-z]([-a-z0-9]{0,38}[a-z0-9])?$", name))])
    error_message = "tpu_slices keys are pool names: lower-case letters, digits and hyphens, at most 40 characters."
  }
  validation {
    condition     = alltrue([for s in var.tpu_slices : can(regex("^[0-9]+x[0-9]+(x[0-9]+)?$", s.topology)) && can(regex("-[0-9]+t$", s.machine_type))])
    error_message = "Each TPU slice needs a TPU machine_type (such as ct5lp-hightpu-4t) and a topology of the form AxB or AxBxC."
  }
}

# The platform, as modules/platform takes it.

variable "dex" {
  description = "Dex: issuer URL, static clients and users, connectors (see modules/platform)."
  type        = any
  sensitive   = true
}

variable "teams" {
  description = "Team environments (see modules/profiles)."
  type        = any
  default     = {}
}

variable "versions" {
  description = "Versions of the prerequisites (see modules/platform)."
  type        = any
  default     = {}
}

variable "mirror" {
  description = "Air-gapped sources (see modules/platform)."
  type        = any
  default     = {}
}

variable "knative" {
  description = "Knative Serving/Eventing (see modules/platform)."
  type        = any
  default     = {}
}

variable "runtime" {
  description = "The kfstack runtime's controller (see modules/platform); by default it runs on the CPU pool."
  type        = any
  default     = {}
}

variable "istio_gateway" {
  description = "Install Istio's ingress gateway."
  type        = bool
  default     = true
}

variable "wait_for_webhooks" {
  description = "Wait for admission webhooks to answer (off only where no webhook server runs, such as the demo's simulated nodes)."
  type        = bool
  default     = true
}

variable "cluster_issuer" {
  description = "cert-manager's self-signed ClusterIssuer; \"\" for none."
  type        = string
  default     = "kfstack-selfsigned"
}
