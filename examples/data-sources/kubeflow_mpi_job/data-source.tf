# An MPI job made with kubectl (or by another team's Terraform).
data "kubeflow_mpi_job" "nightly" {
  name      = "allreduce-benchmark"
  namespace = "team-vision"
}

output "benchmark_phase" {
  value = data.kubeflow_mpi_job.nightly.phase
}
