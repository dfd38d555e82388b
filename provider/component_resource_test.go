package provider

import (
	"context"
	"fmt"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"

	"github.com/kfstack/terraform-provider-kubeflow/bootstrap/bootstraptest"
)

// certManagerConfig is cert-manager from a repository on loopback, without
// a ClusterIssuer unless issuer names one: creating it goes through
// cert-manager's webhook, and no webhook server runs under KWOK.
func certManagerConfig(repoURL, version, namespace string, issuer ...string) string {
	clusterIssuer := ""
	if len(issuer) > 0 {
		clusterIssuer = issuer[0]
	}
	return providerBlock() + fmt.Sprintf(`
resource "kubeflow_cert_manager" "test" {
  version           = %q
  namespace         = %q
  repository        = %q
  wait_for_webhooks = false # no webhook server runs under KWOK
  cluster_issuer    = %q
  values            = <<-YAML
    startupapicheck:
      enabled: false
  YAML
}
`, version, namespace, repoURL, clusterIssuer)
}

var clusterIssuers = schema.GroupVersionResource{Group: "cert-manager.io", Version: "v1", Resource: "clusterissuers"}

// TestAccCertManager_basic installs the real cert-manager chart from a
// repository on loopback, upgrades it, repairs drift, adds its
// ClusterIssuer, imports it and uninstalls it.
//
// The ClusterIssuer goes through cert-manager's validating webhook
// (failurePolicy Fail), and under KWOK no webhook server runs: the test
// first shows the error a user meets with wait_for_webhooks = false, then
// makes that webhook fail open (failurePolicy Ignore) out of band, as it
// cannot make it answer, so the API server admits the issuer.
func TestAccCertManager_basic(t *testing.T) {
	repoURL := bootstraptest.ServeCharts(t,
		bootstraptest.Chart{Dir: bootstraptest.Upstream(t, "cert-manager", "v1.21.0"), Version: "v1.21.0", AppVersion: "v1.21.0"},
		bootstraptest.Chart{Dir: bootstraptest.Upstream(t, "cert-manager", "v1.21.1"), Version: "v1.21.1", AppVersion: "v1.21.1"},
	)
	ns := uniqueName("certs")
	ctx := context.Background()
	deploymentExists := func(name string) resource.TestCheckFunc {
		return func(*terraform.State) error {
			_, err := testCluster.Client.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
			return err
		}
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		CheckDestroy: func(*terraform.State) error {
			if _, err := testCluster.Client.AppsV1().Deployments(ns).Get(ctx, "cert-manager", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
				return fmt.Errorf("cert-manager still installed after destroy: %w", err)
			}
			return nil
		},
		Steps: []resource.TestStep{
			{
				Config: certManagerConfig(repoURL, "v1.21.0", ns),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("kubeflow_cert_manager.test", tfjsonpath.New("ready"), knownvalue.Bool(true)),
					statecheck.ExpectKnownValue("kubeflow_cert_manager.test", tfjsonpath.New("releases").AtSliceIndex(0).AtMapKey("app_version"), knownvalue.StringExact("v1.21.0")),
					statecheck.ExpectKnownValue("kubeflow_cert_manager.test", tfjsonpath.New("drift"), knownvalue.ListSizeExact(0)),
				},
				Check: deploymentExists("cert-manager-webhook"),
			},
			{
				Config: certManagerConfig(repoURL, "v1.21.1", ns),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction("kubeflow_cert_manager.test", plancheck.ResourceActionUpdate)},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("kubeflow_cert_manager.test", tfjsonpath.New("releases").AtSliceIndex(0).AtMapKey("revision"), knownvalue.Int64Exact(2)),
				},
			},
			{
				// A Deployment deleted out of band shows in the plan and
				// the apply puts it back.
				PreConfig: func() {
					if err := testCluster.Client.AppsV1().Deployments(ns).Delete(ctx, "cert-manager-cainjector", metav1.DeleteOptions{}); err != nil {
						t.Fatal(err)
					}
				},
				Config: certManagerConfig(repoURL, "v1.21.1", ns),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction("kubeflow_cert_manager.test", plancheck.ResourceActionUpdate)},
				},
				Check: deploymentExists("cert-manager-cainjector"),
			},
			{
				Config:      certManagerConfig(repoURL, "v1.21.1", ns, "kfstack-selfsigned"),
				ExpectError: wrappedError(`applying ClusterIssuer kfstack-selfsigned: an admission webhook did not answer`),
			},
			{
				PreConfig: func() {
					patch := []byte(`[{"op":"replace","path":"/webhooks/0/failurePolicy","value":"Ignore"},{"op":"replace","path":"/webhooks/0/timeoutSeconds","value":1}]`)
					if _, err := testCluster.Client.AdmissionregistrationV1().ValidatingWebhookConfigurations().Patch(ctx, "cert-manager-webhook", types.JSONPatchType, patch, metav1.PatchOptions{}); err != nil {
						t.Fatal(err)
					}
				},
				Config: certManagerConfig(repoURL, "v1.21.1", ns, "kfstack-selfsigned"),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("kubeflow_cert_manager.test", tfjsonpath.New("cluster_issuer"), knownvalue.StringExact("kfstack-selfsigned")),
					statecheck.ExpectKnownValue("kubeflow_cert_manager.test", tfjsonpath.New("drift"), knownvalue.ListSizeExact(0)),
					// The release is not upgraded for a change of the issuer.
					statecheck.ExpectKnownValue("kubeflow_cert_manager.test", tfjsonpath.New("releases").AtSliceIndex(0).AtMapKey("revision"), knownvalue.Int64Exact(3)),
				},
				Check: func(*terraform.State) error {
					issuer, err := dynamic.NewForConfigOrDie(testCluster.Config).Resource(clusterIssuers).Get(ctx, "kfstack-selfsigned", metav1.GetOptions{})
					if err != nil {
						return err
					}
					if _, found, _ := unstructured.NestedMap(issuer.Object, "spec", "selfSigned"); !found {
						return fmt.Errorf("issuer spec = %v", issuer.Object["spec"])
					}
					return nil
				},
			},
			{
				// A ClusterIssuer deleted out of band comes back.
				PreConfig: func() {
					if err := dynamic.NewForConfigOrDie(testCluster.Config).Resource(clusterIssuers).Delete(ctx, "kfstack-selfsigned", metav1.DeleteOptions{}); err != nil {
						t.Fatal(err)
					}
				},
				Config: certManagerConfig(repoURL, "v1.21.1", ns, "kfstack-selfsigned"),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction("kubeflow_cert_manager.test", plancheck.ResourceActionUpdate)},
				},
				Check: func(*terraform.State) error {
					_, err := dynamic.NewForConfigOrDie(testCluster.Config).Resource(clusterIssuers).Get(ctx, "kfstack-selfsigned", metav1.GetOptions{})
					return err
				},
			},
			{
				ResourceName:      "kubeflow_cert_manager.test",
				ImportState:       true,
				ImportStateId:     ns,
				ImportStateVerify: true,
				// An import cannot know the configuration's settings; and it
				// waits for webhooks by default, which under KWOK never
				// answer, so it reads the component as not ready.
				ImportStateVerifyIgnore: []string{"repository", "values", "wait_for_webhooks", "timeouts", "ready"},
			},
		},
	})
}

func TestAccCertManager_badInput(t *testing.T) {
	repoURL := bootstraptest.ServeCharts(t, bootstraptest.Chart{Dir: "../bootstrap/testdata/charts/demo-1"})
	ns := uniqueName("certs-bad")
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{
			{
				Config: providerBlock() + `
resource "kubeflow_cert_manager" "test" {
  values = "replicaCount: [1"
}
`,
				ExpectError: wrappedError(`values: values is not a YAML or JSON object`),
			},
			{
				// The repository has no cert-manager chart at that
				// version: an apply error, and nothing installed.
				Config:      certManagerConfig(repoURL, "v9.9.9", ns),
				ExpectError: wrappedError(`finding chart cert-manager in repository ` + repoURL),
			},
			{
				Config:      certManagerConfig("http://127.0.0.1:1", "v1.21.1", ns),
				ExpectError: wrappedError(`finding chart cert-manager in repository http://127.0.0.1:1`),
			},
		},
	})
	if _, err := testCluster.Client.CoreV1().Namespaces().Get(context.Background(), ns, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("a failed install left namespace %s behind: %v", ns, err)
	}
}
