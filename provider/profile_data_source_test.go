package provider

import (
	"fmt"
	"regexp"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"
)

func TestAccProfileDataSource_basic(t *testing.T) {
	name := uniqueName("data")
	config := profileConfig(name, `
  owner          = { name = "alice@example.com" }
  contributors   = [{ name = "ml-readers", kind = "group", role = "view" }]
  resource_quota = { tpu = 8, memory = "128Gi" }
`) + `
data "kubeflow_profile" "test" {
  name = kubeflow_profile.test.name
}
`
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		CheckDestroy:             checkNamespaceGone(name),
		Steps: []resource.TestStep{{
			Config: config,
			ConfigStateChecks: []statecheck.StateCheck{
				statecheck.ExpectKnownValue("data.kubeflow_profile.test", tfjsonpath.New("owner").AtMapKey("name"), knownvalue.StringExact("alice@example.com")),
				statecheck.ExpectKnownValue("data.kubeflow_profile.test", tfjsonpath.New("contributors"), knownvalue.ListExact([]knownvalue.Check{
					knownvalue.ObjectExact(map[string]knownvalue.Check{
						"name": knownvalue.StringExact("ml-readers"), "kind": knownvalue.StringExact("group"), "role": knownvalue.StringExact("view"),
					}),
				})),
				statecheck.ExpectKnownValue("data.kubeflow_profile.test", tfjsonpath.New("resource_quota").AtMapKey("tpu"), knownvalue.Int64Exact(8)),
				statecheck.ExpectKnownValue("data.kubeflow_profile.test", tfjsonpath.New("resource_quota").AtMapKey("memory"), knownvalue.StringExact("128Gi")),
				statecheck.ExpectKnownValue("data.kubeflow_profile.test", tfjsonpath.New("labels").AtMapKey("kubernetes.io/metadata.name"), knownvalue.StringExact(name)),
				statecheck.ExpectKnownValue("data.kubeflow_profile.test", tfjsonpath.New("service_account"), knownvalue.StringExact("pipeline-runner")),
			},
		}},
	})
}

func TestAccProfileDataSource_missing(t *testing.T) {
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{{
			Config:      providerBlock() + fmt.Sprintf("data \"kubeflow_profile\" \"x\" {\n  name = %q\n}\n", "no-such-team"),
			ExpectError: regexp.MustCompile(`no profile named "no-such-team"`),
		}},
	})
}
