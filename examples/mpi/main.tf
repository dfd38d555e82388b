# A team's MPI training job: the runtime runs MPIJobs (mpi_jobs = "auto":
# unless mpi-operator is installed), the team's profile gives it GPUs, and
# the job trains on 4 GPU workers, the launcher waiting until every worker's
# sshd answers. A change to the job replaces it; suspend = true pauses it
# in place (its pods go) until it is set back to false.

terraform {
  required_providers {
    kubeflow = { source = "kfstack/kubeflow" }
  }
}

provider "kubeflow" {
  config_path = "~/.kube/config"
}

resource "kubeflow_runtime" "this" {
  pipeline_root = "gs://ml-artifacts/pipelines"
  mpi_jobs      = "auto"
}

resource "kubeflow_profile" "vision" {
  name           = "team-vision"
  owner          = { name = "alice@example.com" }
  resource_quota = { cpu = "64", memory = "256Gi", gpu = 8 }
}

resource "kubeflow_mpi_job" "resnet" {
  name                     = "resnet50-allreduce"
  namespace                = kubeflow_profile.vision.name
  slots_per_worker         = 1
  launcher_creation_policy = "WaitForWorkersReady"

  launcher = {
    image   = "us-docker.pkg.dev/team-vision/train/horovod:0.28"
    command = ["mpirun", "-np", "4", "--bind-to", "none", "python", "train.py", "--epochs", "10"]
    env     = { NCCL_DEBUG = "INFO" }
  }

  worker = {
    replicas  = 4
    image     = "us-docker.pkg.dev/team-vision/train/horovod:0.28"
    resources = { cpu = "8", memory = "32Gi", gpu = 1 }
    volumes = [
      { name = "data", mount_path = "/data", persistent_volume_claim = "imagenet", read_only = true },
    ]
  }

  run_policy = {
    clean_pod_policy        = "Running"
    active_deadline_seconds = 86400
    backoff_limit           = 3
    suspend                 = false
  }

  wait       = true
  depends_on = [kubeflow_runtime.this]

  timeouts = {
    create = "24h"
  }
}

output "resnet_status" {
  value = {
    phase    = kubeflow_mpi_job.resnet.phase
    replicas = kubeflow_mpi_job.resnet.replica_statuses
  }
}
