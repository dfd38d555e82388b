# A pipeline is imported by its namespace and name.
terraform import kubeflow_pipeline.train team-vision/train
