package provider

import (
	"context"
	"fmt"
	"regexp"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	resourceapi "k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kfstack/terraform-provider-kubeflow/runtime/api/v1alpha1"
)

// pipelineNamespace creates a namespace for one test's pipelines.
func pipelineNamespace(t *testing.T) string {
	t.Helper()
	startRuntime(t)
	ns := uniqueName("pl")
	if _, err := testCluster.Client.CoreV1().Namespaces().Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	return ns
}

// greetDAG is a two-task native pipeline; message changes its content.
func greetDAG(message string) string {
	return fmt.Sprintf(`
  dag = {
    parameters = { who = { default = "world" } }
    tasks = [
      {
        name    = "greet"
        image   = "busybox"
        command = ["sh", "-c", "printf '%s %%s' \"$0\" > \"$1\""]
        args    = ["{{$.inputs.parameters['who']}}", "{{$.outputs.parameters['line'].output_file}}"]
        inputs  = { who = { parameter = "who" } }
        outputs = { line = "string" }
      },
      {
        name       = "shout"
        image      = "busybox"
        command    = ["sh", "-c", "echo \"$0\" | tr a-z A-Z | tr -d '\\n' > \"$1\""]
        args       = ["{{$.inputs.parameters['line']}}", "{{$.outputs.parameters['loud'].output_file}}"]
        inputs     = { line = { task = "greet", output = "line" } }
        outputs    = { loud = "string" }
        depends_on = ["greet"]
      },
    ]
    outputs = { loud = { task = "shout", output = "loud" } }
  }
`, message)
}

func pipelineConfig(ns, body string) string {
	return providerBlock() + fmt.Sprintf(`
resource "kubeflow_pipeline" "test" {
  name        = "greet"
  namespace   = %q
  description = "says hello"
%s
}
`, ns, body)
}

func runConfig(ns, pipelineBody, runName, params string) string {
	return pipelineConfig(ns, pipelineBody) + fmt.Sprintf(`
resource "kubeflow_run" "test" {
  name       = %q
  namespace  = %q
  pipeline   = kubeflow_pipeline.test.name
  executor   = "local"
  parameters = %s
  depends_on = [kubeflow_pipeline.test]
}
`, runName, ns, params)
}

func TestAccPipeline_basic(t *testing.T) {
	ns := pipelineNamespace(t)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{
			{
				Config: runConfig(ns, greetDAG("hello"), "first", `{ who = "kfstack" }`),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("kubeflow_pipeline.test", tfjsonpath.New("id"), knownvalue.StringExact(ns+"/greet")),
					statecheck.ExpectKnownValue("kubeflow_pipeline.test", tfjsonpath.New("version"), knownvalue.Int64Exact(1)),
					statecheck.ExpectKnownValue("kubeflow_run.test", tfjsonpath.New("phase"), knownvalue.StringExact("Succeeded")),
					statecheck.ExpectKnownValue("kubeflow_run.test", tfjsonpath.New("version"), knownvalue.Int64Exact(1)),
					statecheck.ExpectKnownValue("kubeflow_run.test", tfjsonpath.New("outputs").AtMapKey("loud"), knownvalue.StringExact(`"HELLO KFSTACK"`)),
					statecheck.ExpectKnownValue("kubeflow_run.test", tfjsonpath.New("tasks").AtMapKey("Succeeded"), knownvalue.Int64Exact(2)),
				},
			},
			{
				// New content: an in-place update adding version 2; the
				// run is replaced only because its name changes.
				Config: runConfig(ns, greetDAG("bonjour"), "second", `{ who = "kfstack" }`),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction("kubeflow_pipeline.test", plancheck.ResourceActionUpdate),
						plancheck.ExpectUnknownValue("kubeflow_pipeline.test", tfjsonpath.New("version")),
						plancheck.ExpectResourceAction("kubeflow_run.test", plancheck.ResourceActionDestroyBeforeCreate),
					},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("kubeflow_pipeline.test", tfjsonpath.New("version"), knownvalue.Int64Exact(2)),
					statecheck.ExpectKnownValue("kubeflow_pipeline.test", tfjsonpath.New("versions"), knownvalue.ListExact([]knownvalue.Check{knownvalue.Int64Exact(1), knownvalue.Int64Exact(2)})),
					statecheck.ExpectKnownValue("kubeflow_run.test", tfjsonpath.New("version"), knownvalue.Int64Exact(2)),
					statecheck.ExpectKnownValue("kubeflow_run.test", tfjsonpath.New("outputs").AtMapKey("loud"), knownvalue.StringExact(`"BONJOUR KFSTACK"`)),
				},
			},
			{
				Config: runConfig(ns, greetDAG("bonjour"), "second", `{ who = "kfstack" }`) + `
data "kubeflow_pipeline" "test" {
  name      = kubeflow_pipeline.test.name
  namespace = kubeflow_pipeline.test.namespace
}
data "kubeflow_run" "test" {
  name      = kubeflow_run.test.name
  namespace = kubeflow_run.test.namespace
}
data "kubeflow_pipeline" "first" {
  name            = kubeflow_pipeline.test.name
  namespace       = kubeflow_pipeline.test.namespace
  content_version = 1
}
`,
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("data.kubeflow_pipeline.test", tfjsonpath.New("version"), knownvalue.Int64Exact(2)),
					statecheck.ExpectKnownValue("data.kubeflow_pipeline.test", tfjsonpath.New("description"), knownvalue.StringExact("says hello")),
					statecheck.ExpectKnownValue("data.kubeflow_pipeline.test", tfjsonpath.New("spec"), knownvalue.StringExact("")),
					statecheck.ExpectKnownValue("data.kubeflow_pipeline.test", tfjsonpath.New("dag_json"), knownvalue.StringRegexp(regexp.MustCompile(`bonjour`))),
					// An older version's content, read from its ConfigMap.
					statecheck.ExpectKnownValue("data.kubeflow_pipeline.first", tfjsonpath.New("dag_json"), knownvalue.StringRegexp(regexp.MustCompile(`hello %s`))),
					statecheck.ExpectKnownValue("data.kubeflow_pipeline.first", tfjsonpath.New("version"), knownvalue.Int64Exact(2)),
					statecheck.ExpectKnownValue("data.kubeflow_run.test", tfjsonpath.New("phase"), knownvalue.StringExact("Succeeded")),
					statecheck.ExpectKnownValue("data.kubeflow_run.test", tfjsonpath.New("parameters").AtMapKey("who"), knownvalue.StringExact("kfstack")),
					statecheck.ExpectKnownValue("data.kubeflow_run.test", tfjsonpath.New("outputs").AtMapKey("loud"), knownvalue.StringExact(`"BONJOUR KFSTACK"`)),
				},
			},
			{
				ResourceName:      "kubeflow_pipeline.test",
				ImportState:       true,
				ImportStateId:     ns + "/greet",
				ImportStateVerify: true,
				// The import reads the live content: nothing to verify
				// against but the content itself and its hash.
				ImportStateVerifyIgnore: []string{"timeouts"},
			},
			{
				ResourceName:            "kubeflow_run.test",
				ImportState:             true,
				ImportStateId:           ns + "/second",
				ImportStateVerify:       true,
				ImportStateVerifyIgnore: []string{"timeouts"},
			},
		},
	})
}

func TestAccPipeline_disappears(t *testing.T) {
	ns := pipelineNamespace(t)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{
			{
				Config: pipelineConfig(ns, greetDAG("hello")),
				Check: func(*terraform.State) error {
					return runtimeClient.Delete(context.Background(), &v1alpha1.Pipeline{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "greet"}})
				},
				ExpectNonEmptyPlan: true,
			},
			{
				// Changed behind Terraform's back: the plan puts it back.
				Config: pipelineConfig(ns, greetDAG("hello")),
				Check: func(*terraform.State) error {
					p := &v1alpha1.Pipeline{}
					if err := runtimeClient.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: "greet"}, p); err != nil {
						return err
					}
					p.Spec.DAG = `{"name":"greet","tasks":[{"name":"other","image":"busybox","command":["true"]}]}`
					return runtimeClient.Update(context.Background(), p)
				},
				ExpectNonEmptyPlan: true,
			},
			{
				Config: pipelineConfig(ns, greetDAG("hello")),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction("kubeflow_pipeline.test", plancheck.ResourceActionUpdate)},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("kubeflow_pipeline.test", tfjsonpath.New("version"), knownvalue.Int64Exact(3)),
				},
			},
		},
	})
}

func TestAccPipeline_badInput(t *testing.T) {
	ns := "unused"
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{
			{
				Config:      pipelineConfig(ns, `spec = "pipelineInfo: {name: x}\nroot: {dag: {tasks: {a: {componentRef: {name: nosuch}}}}}\n"`),
				PlanOnly:    true,
				ExpectError: regexp.MustCompile(`(?s)invalid pipeline spec.*nosuch`),
			},
			{
				Config: pipelineConfig(ns, `
  dag = {
    tasks = [
      { name = "a", image = "busybox", command = ["true"] },
      { name = "b", image = "busybox", command = ["true"], depends_on = ["nosuch"] },
    ]
  }
`),
				PlanOnly:    true,
				ExpectError: regexp.MustCompile(`(?s)invalid pipeline DAG at dag\.tasks\[1\].*task "b": dependsOn\[0\]: unknown task "nosuch"`),
			},
			{
				Config:      pipelineConfig(ns, `spec = "x"`+"\n"+greetDAG("hi")),
				PlanOnly:    true,
				ExpectError: regexp.MustCompile(`(?s)Invalid Attribute Combination`),
			},
			{
				// The admission webhook's checks of a new run, at plan time.
				Config: runConfig(ns, greetDAG("hi"), "bad", `{ who = "kfstack" }`) + `
resource "kubeflow_run" "bad_account" {
  name            = "bad-account"
  namespace       = "unused"
  pipeline        = "greet"
  service_account = "Pipeline_Runner"
}
`,
				PlanOnly:    true,
				ExpectError: regexp.MustCompile(`(?s)Invalid run.*service_account: Invalid value: "Pipeline_Runner": a lowercase RFC 1123\s+subdomain`),
			},
		},
	})
}

func TestAccRun_failedRunNamesTask(t *testing.T) {
	ns := pipelineNamespace(t)
	failing := `
  dag = {
    tasks = [
      { name = "prepare", image = "busybox", command = ["sh", "-c", "echo preparing"] },
      {
        name       = "train"
        image      = "busybox"
        command    = ["sh", "-c", "echo 'loading data'; echo 'CUDA error: out of memory' >&2; exit 3"]
        depends_on = ["prepare"]
      },
    ]
  }
`
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{
			{
				Config:      runConfig(ns, failing, "doomed", "{}"),
				ExpectError: regexp.MustCompile(`(?s)task "train" failed.*exit status 3.*CUDA error: out of memory`),
			},
		},
	})
}

// TestAccPipeline_notVersioned: a pipeline whose content the controller
// cannot turn into a version (here a namespace quota leaves no room for the
// ConfigMap holding its content) fails the apply, saying why, and leaves no
// Pipeline behind, so the next apply, with room made, creates it instead
// of tripping over an object Terraform does not know (AlreadyExists).
func TestAccPipeline_notVersioned(t *testing.T) {
	ns := pipelineNamespace(t)
	ctx := context.Background()
	quota := &corev1.ResourceQuota{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "no-configmaps"},
		Spec:       corev1.ResourceQuotaSpec{Hard: corev1.ResourceList{"count/configmaps": resourceQuantity("0")}},
	}
	if _, err := testCluster.Client.CoreV1().ResourceQuotas(ns).Create(ctx, quota, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{
			{
				Config:      pipelineConfig(ns, greetDAG("hello")),
				ExpectError: regexp.MustCompile(`(?s)the runtime did not version the content.*version 1 is not added yet.*(exceeded quota|status unknown for quota)`),
			},
			{
				PreConfig: func() {
					err := runtimeClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "greet"}, &v1alpha1.Pipeline{})
					if !apierrors.IsNotFound(err) {
						t.Errorf("the pipeline that got no version is still there: %v", err)
					}
					if err := testCluster.Client.CoreV1().ResourceQuotas(ns).Delete(ctx, quota.Name, metav1.DeleteOptions{}); err != nil {
						t.Fatal(err)
					}
				},
				Config: pipelineConfig(ns, greetDAG("hello")),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("kubeflow_pipeline.test", tfjsonpath.New("version"), knownvalue.Int64Exact(1)),
				},
			},
		},
	})
}

func resourceQuantity(s string) resourceapi.Quantity { return resourceapi.MustParse(s) }
