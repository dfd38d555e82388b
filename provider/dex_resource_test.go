package provider

import (
	"context"
	"fmt"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/kfstack/terraform-provider-kubeflow/bootstrap/bootstraptest"
)

func dexConfig(repoURL, namespace, issuer, hash string) string {
	return providerBlock() + fmt.Sprintf(`
resource "kubeflow_dex" "test" {
  namespace         = %q
  repository        = %q
  wait_for_webhooks = false
  issuer            = %q

  static_clients = [{
    id            = "kubeflow-oidc-authservice"
    name          = "Kubeflow"
    secret        = "s3cr3t"
    redirect_uris = ["https://kubeflow.example.com/oauth2/callback"]
  }]
  static_passwords = [{
    email    = "user@example.com"
    username = "user"
    user_id  = "15841185641784"
    hash     = %q
  }]
  connectors = [{
    type   = "github"
    id     = "github"
    name   = "GitHub"
    config = jsonencode({ clientID = "id", clientSecret = "secret", redirectURI = "https://kubeflow.example.com/dex/callback" })
  }]
}
`, namespace, repoURL, issuer, hash)
}

const testBcrypt = "$2y$10$2b2cU8CPhOTaGrs1HRQuAueS7JTT5ZHsHSzYiFPm1leZck7Mc8T4W"

func TestAccDex_basic(t *testing.T) {
	repoURL := bootstraptest.ServeCharts(t, bootstraptest.Chart{Dir: bootstraptest.Upstream(t, "dex", "dex-0.24.0")})
	ns := uniqueName("auth")
	issuerIs := func(want string) resource.TestCheckFunc {
		return func(*terraform.State) error {
			secret, err := testCluster.Client.CoreV1().Secrets(ns).Get(context.Background(), "dex", metav1.GetOptions{})
			if err != nil {
				return err
			}
			var config map[string]any
			if err := yaml.Unmarshal(secret.Data["config.yaml"], &config); err != nil {
				return err
			}
			if config["issuer"] != want {
				return fmt.Errorf("issuer = %v, want %s", config["issuer"], want)
			}
			return nil
		}
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{
			{
				Config: dexConfig(repoURL, ns, "https://kubeflow.example.com/dex", testBcrypt),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("kubeflow_dex.test", tfjsonpath.New("releases").AtSliceIndex(0).AtMapKey("app_version"), knownvalue.StringExact("2.44.0")),
					statecheck.ExpectSensitiveValue("kubeflow_dex.test", tfjsonpath.New("static_passwords").AtSliceIndex(0).AtMapKey("hash")),
				},
				Check: issuerIs("https://kubeflow.example.com/dex"),
			},
			{
				Config: dexConfig(repoURL, ns, "https://ml.example.com/dex", testBcrypt),
				Check:  issuerIs("https://ml.example.com/dex"),
			},
		},
	})
}

func TestAccDex_badInput(t *testing.T) {
	cases := map[string]struct{ config, want string }{
		"plain-text password": {dexConfig("http://unused", "auth", "https://kubeflow.example.com/dex", "password"), `static_passwords\[0\].hash: not a bcrypt hash`},
		"issuer not a URL":    {dexConfig("http://unused", "auth", "kubeflow.example.com", testBcrypt), `Attribute issuer must be an http\(s\) URL`},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			resource.Test(t, resource.TestCase{
				ProtoV6ProviderFactories: testProviders,
				Steps:                    []resource.TestStep{{Config: tc.config, ExpectError: wrappedError(tc.want)}},
			})
		})
	}
}
