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
