# A component is imported by the namespace it is installed in.
terraform import kubeflow_dex.this auth
