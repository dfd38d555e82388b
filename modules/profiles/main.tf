# One profile (a team's environment) per entry of var.teams.
resource "kubeflow_profile" "team" {
  for_each = var.teams

  name         = each.key
  owner        = { name = each.value.owner, kind = each.value.owner_kind }
  contributors = [for c in each.value.contributors : { name = c.name, kind = c.kind, role = c.role }]

  # No quota at all when a team sets none of the four.
  resource_quota = alltrue([for v in [each.value.cpu, each.value.memory, each.value.gpu, each.value.tpu] : v == null]) ? null : {
    cpu    = each.value.cpu
    memory = each.value.memory
    gpu    = each.value.gpu
    tpu    = each.value.tpu
  }

  run_service_accounts = each.value.run_service_accounts

  default_limits  = var.default_limits
  istio_injection = var.istio_injection
  labels          = merge(var.labels, { "kfstack.dev/team" = each.key })
}

# The teams' schedules, one per team and name. A separate variable from
# teams, so that pipelines made in the teams' namespaces can feed it.
locals {
  schedules = merge([
    for team, byName in var.schedules : {
      for name, s in byName : "${team}/${name}" => merge(s, { team = team, name = name })
    }
  ]...)
}

resource "kubeflow_schedule" "team" {
  for_each = local.schedules

  name                          = each.value.name
  namespace                     = kubeflow_profile.team[each.value.team].id
  labels                        = merge(var.labels, { "kfstack.dev/team" = each.value.team })
  cron                          = each.value.cron
  cron_seconds                  = each.value.cron_seconds
  interval                      = each.value.interval
  time_zone                     = each.value.time_zone
  start_time                    = each.value.start_time
  end_time                      = each.value.end_time
  suspend                       = each.value.suspend
  concurrency_policy            = each.value.concurrency_policy
  max_concurrency               = each.value.max_concurrency
  catchup                       = each.value.catchup
  max_catchup                   = each.value.max_catchup
  starting_deadline             = each.value.starting_deadline
  stop_after_failures           = each.value.stop_after_failures
  successful_runs_history_limit = each.value.successful_runs_history_limit
  failed_runs_history_limit     = each.value.failed_runs_history_limit

  run = {
    pipeline         = each.value.pipeline
    pipeline_version = each.value.pipeline_version
    parameters       = each.value.parameters
    service_account  = coalesce(each.value.service_account, kubeflow_profile.team[each.value.team].service_account)
    executor         = each.value.executor
    pipeline_root    = each.value.pipeline_root
    timeout          = each.value.timeout
    experiment       = each.value.experiment
  }

  lifecycle {
    precondition {
      condition     = contains(keys(var.teams), each.value.team)
      error_message = "schedules: team \"${each.value.team}\" is not a key of teams."
    }
  }
}
