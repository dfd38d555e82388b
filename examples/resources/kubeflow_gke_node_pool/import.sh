# projects/PROJECT/locations/LOCATION/clusters/CLUSTER/nodePools/NAME, as
# google_container_node_pool (also PROJECT/LOCATION/CLUSTER/NAME or
# LOCATION/CLUSTER/NAME with google.project set).
terraform import kubeflow_gke_node_pool.tpu projects/my-project/locations/us-central1/clusters/ml/nodePools/tpu-v5e-4x4
