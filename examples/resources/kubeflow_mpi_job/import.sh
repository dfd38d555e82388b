# An MPI job is imported by its namespace and name.
terraform import kubeflow_mpi_job.pi team-vision/pi
