package provider

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kfstack/terraform-provider-kubeflow/bootstrap/bootstraptest"
)

// platformConfig is every prerequisite and a profile, from chart
// repositories and a release file server on loopback that hold the real
// upstream content.
func platformConfig(charts, files string) string {
	return providerBlock() + fmt.Sprintf(`
locals {
  charts = %q
  files  = %q
}

resource "kubeflow_cert_manager" "this" {
  repository        = local.charts
  wait_for_webhooks = false # no webhook server runs under KWOK
  cluster_issuer    = ""    # and none admits the issuer
  values            = yamlencode({ startupapicheck = { enabled = false } })
}

resource "kubeflow_istio" "this" {
  repository        = local.charts
  gateway           = false # its pods come from istiod's injector, a webhook
  wait_for_webhooks = false
}

resource "kubeflow_dex" "this" {
  repository        = local.charts
  wait_for_webhooks = false
  issuer            = "https://kubeflow.example.com/dex"
  depends_on        = [kubeflow_istio.this]
}

resource "kubeflow_knative" "this" {
  serving_url       = "${local.files}/serving-1.21.1/2-serving-core.yaml"
  net_istio_url     = "${local.files}/net-istio-1.21/net-istio.yaml"
  domain            = "kubeflow.example.com"
  wait_for_webhooks = false
  depends_on        = [kubeflow_istio.this]
}

resource "kubeflow_profile" "team" {
  name            = "platform-team"
  owner           = { name = "alice@example.com" }
  istio_injection = true
  depends_on      = [kubeflow_istio.this]
}
`, charts, files)
}

// TestAccPlatform_oneApply installs cert-manager, Istio, Dex and Knative
// Serving with net-istio, and a profile that gets Istio's policy, in one
// apply; a second plan is empty; destroy removes everything.
func TestAccPlatform_oneApply(t *testing.T) {
	charts := bootstraptest.ServeCharts(t,
		bootstraptest.Chart{Dir: bootstraptest.Upstream(t, "cert-manager", "v1.21.1"), Version: "v1.21.1", AppVersion: "v1.21.1"},
		bootstraptest.Chart{Dir: bootstraptest.Upstream(t, "istio", "1.29.6", "base"), Version: "1.29.6"},
		bootstraptest.Chart{Dir: bootstraptest.Upstream(t, "istio", "1.29.6", "istio-discovery"), Version: "1.29.6"},
		bootstraptest.Chart{Dir: bootstraptest.Upstream(t, "dex", "dex-0.24.0")},
	)
	files := httptest.NewServer(http.FileServer(http.Dir(bootstraptest.Upstream(t, "knative"))))
	t.Cleanup(files.Close)
	ctx := context.Background()
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		CheckDestroy: func(*terraform.State) error {
			for ns, deployment := range map[string]string{"cert-manager": "cert-manager", "istio-system": "istiod", "auth": "dex", "knative-serving": "controller"} {
				if _, err := testCluster.Client.AppsV1().Deployments(ns).Get(ctx, deployment, metav1.GetOptions{}); err == nil {
					return fmt.Errorf("deployment %s/%s is still there after destroy", ns, deployment)
				}
			}
			return checkNamespaceGone("platform-team")(nil)
		},
		Steps: []resource.TestStep{{
			Config: platformConfig(charts, files.URL),
			ConfigStateChecks: []statecheck.StateCheck{
				statecheck.ExpectKnownValue("kubeflow_cert_manager.this", tfjsonpath.New("ready"), knownvalue.Bool(true)),
				statecheck.ExpectKnownValue("kubeflow_istio.this", tfjsonpath.New("releases"), knownvalue.ListSizeExact(2)),
				statecheck.ExpectKnownValue("kubeflow_dex.this", tfjsonpath.New("ready"), knownvalue.Bool(true)),
				statecheck.ExpectKnownValue("kubeflow_knative.this", tfjsonpath.New("ready"), knownvalue.Bool(true)),
			},
			Check: func(*terraform.State) error {
				_, err := testCluster.Client.CoreV1().ConfigMaps("knative-serving").Get(ctx, "config-domain", metav1.GetOptions{})
				return err
			},
		}},
	})
}
