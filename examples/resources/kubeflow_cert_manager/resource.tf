resource "kubeflow_cert_manager" "this" {
  version = "v1.21.1"

  # A self-signed ClusterIssuer for the platform's internal certificates,
  # created once cert-manager's webhook answers; "" creates none.
  cluster_issuer = "kfstack-selfsigned"

  # Air-gapped: a chart mirror and an image registry mirror.
  # repository     = "oci://registry.example.com/charts"
  # image_registry = "registry.example.com"

  values = yamlencode({
    replicaCount = 2
  })

  # Install only charts signed by the platform team's key (helm package
  # --sign); a chart without a valid .prov file fails the apply.
  # verify  = true
  # keyring = "${path.module}/charts-pubring.gpg"

  timeouts {
    create = "20m"
  }
}
