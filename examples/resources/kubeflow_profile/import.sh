# A profile is imported by its name, which is its namespace's name.
terraform import kubeflow_profile.vision team-vision
