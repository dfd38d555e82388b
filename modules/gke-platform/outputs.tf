output "cluster_id" {
  description = "The cluster's id, projects/P/locations/L/clusters/C: what the platform provider's gke block names."
  value       = kubeflow_gke_cluster.this.id
}

output "endpoint" {
  description = "The cluster's API server address."
  value       = kubeflow_gke_cluster.this.endpoint
}

output "ca_certificate" {
  description = "Base64 PEM of the cluster's CA."
  value       = kubeflow_gke_cluster.this.ca_certificate
}

output "pools" {
  description = "Each node pool: its name, machine type, nodes per zone and what it offers (gpu, tpu topology)."
  value = merge(
    { cpu = { name = kubeflow_gke_node_pool.cpu.name, machine_type = kubeflow_gke_node_pool.cpu.node_config.machine_type, node_count = kubeflow_gke_node_pool.cpu.node_count } },
    { for k, p in kubeflow_gke_node_pool.gpu : k => {
      name         = p.name
      machine_type = p.node_config.machine_type
      node_count   = p.node_count
      gpu          = one(p.node_config.guest_accelerator[*].type)
    } },
    { for k, p in kubeflow_gke_node_pool.tpu : k => {
      name         = p.name
      machine_type = p.node_config.machine_type
      node_count   = p.node_count
      tpu_topology = p.placement_policy.tpu_topology
    } },
  )
}

output "namespaces" {
  description = "Namespace of each team."
  value       = module.platform.namespaces
}

output "components" {
  description = "The platform's components and their readiness."
  value       = module.platform.components
}
