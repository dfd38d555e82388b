resource "kubeflow_dex" "this" {
  issuer = "https://kubeflow.example.com/dex"

  static_clients = [{
    id            = "kubeflow-oidc-authservice"
    name          = "Kubeflow"
    secret        = var.oidc_client_secret
    redirect_uris = ["https://kubeflow.example.com/oauth2/callback"]
  }]

  static_passwords = [{
    email    = "admin@example.com"
    username = "admin"
    user_id  = "admin"
    hash     = var.admin_password_bcrypt # bcrypt() would change on every plan: hash once, keep the hash
  }]

  connectors = [{
    type = "github"
    id   = "github"
    name = "GitHub"
    config = jsonencode({
      clientID     = var.github_client_id
      clientSecret = var.github_client_secret
      redirectURI  = "https://kubeflow.example.com/dex/callback"
      orgs         = [{ name = "example" }]
    })
  }]

  depends_on = [kubeflow_istio.this]
}
