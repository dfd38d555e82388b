# mpi-operator's pi example as a Terraform resource: a launcher running
# mpirun and two workers running sshd, as the non-root user mpiuser.
resource "kubeflow_mpi_job" "pi" {
  name                = "pi"
  namespace           = "team-vision"
  implementation      = "OpenMPI"
  slots_per_worker    = 1
  ssh_auth_mount_path = "/home/mpiuser/.ssh"

  launcher = {
    image       = "mpioperator/mpi-pi:openmpi"
    command     = ["mpirun"]
    args        = ["-n", "2", "/home/mpiuser/pi"]
    run_as_user = 1000
    resources   = { cpu = "1", memory = "1Gi" }
  }

  worker = {
    replicas    = 2
    image       = "mpioperator/mpi-pi:openmpi"
    command     = ["/usr/sbin/sshd"]
    args        = ["-De", "-f", "/home/mpiuser/.sshd_config"]
    run_as_user = 1000
    resources   = { cpu = "1", memory = "1Gi" }
  }

  run_policy = {
    clean_pod_policy           = "Running"
    ttl_seconds_after_finished = 600
    backoff_limit              = 2
  }

  timeouts = {
    create = "30m"
  }
}

output "pi" {
  value = kubeflow_mpi_job.pi.message
}
