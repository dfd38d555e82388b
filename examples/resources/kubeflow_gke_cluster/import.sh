# projects/PROJECT/locations/LOCATION/clusters/NAME, as google_container_cluster
# (also PROJECT/LOCATION/NAME, or LOCATION/NAME with google.project set).
terraform import kubeflow_gke_cluster.ml projects/my-project/locations/us-central1/clusters/ml
