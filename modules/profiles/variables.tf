variable "teams" {
  description = "Teams by profile name: owner, contributors and quota."
  type = map(object({
    owner      = string
    owner_kind = optional(string, "user")
    contributors = optional(list(object({
      name = string
      kind = optional(string, "user")
      role = optional(string, "edit")
    })), [])
    cpu    = optional(string)
    memory = optional(string)
    gpu    = optional(number)
    tpu    = optional(number)
    # Service accounts (besides pipeline-runner) that the team's runs may use.
    run_service_accounts = optional(set(string))
  }))
}

variable "default_limits" {
  description = "Container defaults for every team's namespace."
  type = object({
    cpu            = optional(string)
    memory         = optional(string)
    request_cpu    = optional(string)
    request_memory = optional(string)
    max_cpu        = optional(string)
    max_memory     = optional(string)
  })
  default = null
}

variable "istio_injection" {
  description = "Inject Istio sidecars into the teams' pods."
  type        = bool
  default     = false
}

variable "labels" {
  description = "Labels for every team's namespace."
  type        = map(string)
  default     = {}
}
