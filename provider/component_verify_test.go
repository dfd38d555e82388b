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
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kfstack/terraform-provider-kubeflow/bootstrap/bootstraptest"
)

// verifiedCertManagerConfig is cert-manager with chart verification and a
// value that would be a secret, given only in sensitive_values.
func verifiedCertManagerConfig(repoURL, version, namespace, keyring, verify string) string {
	return providerBlock() + fmt.Sprintf(`
resource "kubeflow_cert_manager" "test" {
  version           = %q
  namespace         = %q
  repository        = %q
  wait_for_webhooks = false
  cluster_issuer    = ""
  verify            = %s
  keyring           = %q
  values            = <<-YAML
    startupapicheck:
      enabled: false
  YAML
  sensitive_values  = <<-YAML
    podLabels:
      token: s3cr3t
  YAML
}
`, version, namespace, repoURL, verify, keyring)
}

// TestAccCertManager_verify installs the real cert-manager chart signed
// by a key the test makes: a chart changed after signing and a chart with
// no provenance are refused before anything is installed; the signed one
// installs. Values from sensitive_values reach the release but are
// sensitive in Terraform; a keyring without verify is a plan-time error.
func TestAccCertManager_verify(t *testing.T) {
	signer, keyring := bootstraptest.SigningKey(t, "kfstack-mirror")
	dir := bootstraptest.Upstream(t, "cert-manager", "v1.21.1")
	repoURL := bootstraptest.ServeCharts(t,
		bootstraptest.Chart{Dir: dir, Version: "v1.21.1", AppVersion: "v1.21.1", SignedBy: signer},
		bootstraptest.Chart{Dir: dir, Version: "v1.21.2", AppVersion: "v1.21.1", SignedBy: signer, Tamper: true},
		bootstraptest.Chart{Dir: dir, Version: "v1.21.3", AppVersion: "v1.21.1"},
	)
	ns := uniqueName("certs-verify")
	ctx := context.Background()
	notInstalled := func(*terraform.State) error {
		if _, err := testCluster.Client.AppsV1().Deployments(ns).Get(ctx, "cert-manager", metav1.GetOptions{}); err == nil {
			return fmt.Errorf("cert-manager was installed from a chart that did not verify")
		} else if !apierrors.IsNotFound(err) {
			return err
		}
		return nil
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		CheckDestroy:             notInstalled,
		Steps: []resource.TestStep{
			{
				Config:      verifiedCertManagerConfig(repoURL, "v1.21.1", ns, keyring, "false"),
				PlanOnly:    true,
				ExpectError: wrappedError(`keyring: a keyring is used only to verify charts; set verify = true`),
			},
			{
				Config:      verifiedCertManagerConfig(repoURL, "v1.21.2", ns, keyring, "true"),
				ExpectError: wrappedError(`sha256 sum does not match`),
			},
			{
				PreConfig:   func() { assertNil(t, notInstalled(nil)) },
				Config:      verifiedCertManagerConfig(repoURL, "v1.21.3", ns, keyring, "true"),
				ExpectError: wrappedError(`failed to fetch provenance`),
			},
			{
				PreConfig: func() { assertNil(t, notInstalled(nil)) },
				Config:    verifiedCertManagerConfig(repoURL, "v1.21.1", ns, keyring, "true"),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("kubeflow_cert_manager.test", tfjsonpath.New("releases").AtSliceIndex(0).AtMapKey("chart_version"), knownvalue.StringExact("v1.21.1")),
				},
				Check: func(*terraform.State) error {
					d, err := testCluster.Client.AppsV1().Deployments(ns).Get(ctx, "cert-manager", metav1.GetOptions{})
					if err != nil {
						return err
					}
					if got := d.Spec.Template.Labels["token"]; got != "s3cr3t" {
						return fmt.Errorf("the sensitive value did not reach the release: pod labels %v", d.Spec.Template.Labels)
					}
					return nil
				},
			},
		},
	})
}

func assertNil(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
