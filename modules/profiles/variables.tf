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

variable "schedules" {
  description = <<-EOT
    Each team's schedules: team (a key of teams) => schedule name => what
    kubeflow_schedule takes. The runs use the team's pipeline service
    account unless service_account says otherwise. The pipelines are made
    outside the module, in the team's namespace (the namespaces output).
  EOT
  type = map(map(object({
    pipeline                      = string
    pipeline_version              = optional(number)
    parameters                    = optional(map(string))
    cron                          = optional(list(string))
    cron_seconds                  = optional(bool, false)
    interval                      = optional(string)
    time_zone                     = optional(string, "UTC")
    start_time                    = optional(string)
    end_time                      = optional(string)
    suspend                       = optional(bool, false)
    concurrency_policy            = optional(string, "Allow")
    max_concurrency               = optional(number, 1)
    catchup                       = optional(string, "Latest")
    max_catchup                   = optional(number, 100)
    starting_deadline             = optional(string)
    stop_after_failures           = optional(number, 0)
    successful_runs_history_limit = optional(number, 10)
    failed_runs_history_limit     = optional(number, 10)
    service_account               = optional(string)
    executor                      = optional(string, "pod")
    pipeline_root                 = optional(string)
    timeout                       = optional(string)
    experiment                    = optional(string)
  })))
  default = {}
}
