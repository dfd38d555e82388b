variable "versions" {
  description = "Versions of the prerequisites; null keeps the provider's defaults."
  type = object({
    cert_manager = optional(string)
    istio        = optional(string)
    dex          = optional(string)
    knative      = optional(string)
    runtime      = optional(string)
  })
  default = {}
}

variable "mirror" {
  description = "Air-gapped sources: a chart repository (HTTP or oci://) holding cert-manager, Istio's and Dex's charts, Knative's release files, an image registry, and a mirror of ghcr.io/kfstack for the runtime image."
  type = object({
    chart_repository = optional(string)
    image_registry   = optional(string)
    # Mirror of ghcr.io/kfstack, where the runtime image is published.
    runtime_registry = optional(string)
    knative = optional(object({
      serving_url   = optional(string)
      net_istio_url = optional(string)
      eventing_url  = optional(string)
    }), {})
  })
  default = {}
}

variable "dex" {
  description = "Dex: the issuer URL, static clients and users (bcrypt hashes) and connectors."
  type = object({
    issuer = string
    static_clients = optional(list(object({
      id            = string
      name          = string
      secret        = string
      redirect_uris = list(string)
    })), [])
    static_passwords = optional(list(object({
      email    = string
      username = string
      user_id  = string
      hash     = string
    })), [])
    connectors = optional(list(object({
      type   = string
      id     = string
      name   = string
      config = string
    })), [])
  })
  sensitive = true
}

variable "istio_gateway" {
  description = "Install Istio's ingress gateway."
  type        = bool
  default     = true
}

variable "knative" {
  description = "Install Knative Serving (with net-istio), and under which domain; eventing adds Knative Eventing."
  type = object({
    enabled  = optional(bool, true)
    domain   = optional(string)
    eventing = optional(bool, false)
  })
  default = {}
}

variable "teams" {
  description = "Team environments (profiles), as the profiles module takes them."
  type        = any
  default     = {}
}

variable "wait_for_webhooks" {
  description = "Wait for admission webhooks to answer before a component counts as ready. Off only where no webhook server can run (KWOK)."
  type        = bool
  default     = true
}

variable "cluster_issuer" {
  description = "Name of cert-manager's self-signed ClusterIssuer; \"\" creates none (under KWOK no webhook admits it)."
  type        = string
  default     = "kfstack-selfsigned"
}

variable "runtime" {
  description = "The kfstack runtime's controller: replicas, default pipeline root (gs://, s3:// or file://) and placement."
  type = object({
    replicas      = optional(number, 1)
    pipeline_root = optional(string)
    node_selector = optional(map(string))
    tolerations = optional(list(object({
      key                = optional(string)
      operator           = optional(string)
      value              = optional(string)
      effect             = optional(string)
      toleration_seconds = optional(number)
    })))
  })
  default = {}
}
