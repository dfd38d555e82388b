# Knative is imported by its namespace.
terraform import kubeflow_knative.this knative-serving
