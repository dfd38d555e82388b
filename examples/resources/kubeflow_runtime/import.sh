# The runtime is imported by the namespace it is installed in.
terraform import kubeflow_runtime.this kfstack-system
